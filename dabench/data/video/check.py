"""`dabench data check` for the video domains: split sizes and video files on disk (no decoding).

For each video domain of a task file: the official split files are read through the domain's
class map (`split_items`, the loader's own path), the train/test sizes are compared with
`expected`, and every listed video must exist. Imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from dabench.data.video.loaders import LAYOUTS, split_items
from dabench.errors import DabenchError

_SHOWN = 3  # missing videos named per split


@dataclass
class VideoCheck:
    name: str  # "<task family> <domain key>"
    dataset: str  # display name, e.g. "UCF101"
    video_dir: Optional[Path] = None
    counts: dict[str, int] = field(default_factory=dict)  # split -> videos listed
    missing: dict[str, list[str]] = field(default_factory=dict)  # split -> absent relpaths
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and not any(self.missing.values()) and bool(self.counts)


def check_video_domain(domain, task, data_root: Optional[Path]) -> VideoCheck:
    result = VideoCheck(f"{task.family} {domain.key}", LAYOUTS[domain.loader].display)
    try:
        for split in ("train", "test"):
            video_dir, items = split_items(domain, task, data_root, split)
            result.video_dir = video_dir
            result.counts[split] = len(items)
            result.missing[split] = [it.relpath for it in items
                                     if not (video_dir / it.relpath).is_file()]
    except DabenchError as exc:
        result.error = str(exc)
    return result


def format_video_check(c: VideoCheck) -> str:
    head = f"{c.name}  {'ok     ' if c.ok else 'PROBLEM'}  {c.dataset}"
    if c.error is not None:
        return f"{head}\n    {c.error}"
    sizes = ", ".join(f"{s} {n} videos" for s, n in c.counts.items())
    lines = [f"{head}: {sizes}  {c.video_dir}"]
    for split, gone in c.missing.items():
        if gone:
            shown = ", ".join(gone[:_SHOWN]) + (f" and {len(gone) - _SHOWN} more"
                                                if len(gone) > _SHOWN else "")
            lines.append(f"    {split}: {len(gone)} listed video(s) missing under "
                         f"{c.video_dir}: {shown}")
    return "\n".join(lines)
