"""`dabench data check` for the small-image datasets: image counts per split against the complete
dataset's, listed files that are missing, and (with verify) files that do not decode. No torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from dabench.data.images.layout import verify_images
from dabench.data.smallimages.arrays import check_options, dataset_folder, read_split, split_spec
from dabench.data.smallimages.layouts import LAYOUTS
from dabench.errors import DabenchError

SMALL_LOADERS = (*LAYOUTS, "labelled-images")
_NAMED = 3


@dataclass
class SmallCheck:
    title: str
    folder: Optional[Path] = None
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def text(self) -> str:
        where = f": {self.folder}" if self.folder else ""
        return "\n".join([f"{self.title}{where}", *self.lines,
                          f"  {'OK' if self.ok else 'PROBLEM'}"])


def check_small_domain(domain, task, data_root: Optional[Path], verify: bool) -> SmallCheck:
    """Count each split of one domain (and decode its image files when `verify`)."""
    result = SmallCheck(f"{task.dataset} {domain.name} (loader '{domain.loader}')")
    try:
        opts = dict(check_options(domain, task), skip_missing=True)
        folder = dataset_folder(domain, task, data_root, opts)
    except DabenchError as exc:
        result.lines.append(f"  {exc}")
        result.ok = False
        return result
    result.folder = folder
    layout = LAYOUTS.get(domain.loader)
    default_specs = not (opts.get("train") or "test" in opts)
    for split in ("train", "test"):
        spec = split_spec(domain, opts, split)
        if spec is None:
            if split == "test":
                result.lines.append("  test: none (one split; the test set is the training "
                                    f"images{' minus a holdout' if opts.get('holdout') else ''})")
            continue
        try:
            images, labels, missing, duplicates = read_split(folder, spec, len(task.classes), opts,
                                                 f"{domain.key} ({split})", warn=False)
        except DabenchError as exc:
            result.lines.append(f"  {split}: {exc}")
            result.ok = False
            continue
        expected = layout.expected.get(split) if (layout and default_specs) else None
        listed = len(labels) + missing
        line = f"  {split}: {len(labels)} images"
        if expected is not None:
            line += f" (expected {expected})"
            if listed != expected:
                result.ok = False
                line += "  <- INCOMPLETE"
        if missing:
            result.ok = False
            line += f"; {missing} listed files are missing"
        if duplicates:
            line += f"; {duplicates} lines list a file again (counted once)"
        classes = len(set(labels.tolist()))
        line += f"; {classes} of {len(task.classes)} classes"
        result.lines.append(line)
        if verify and isinstance(images, list):
            bad = verify_images([it.path for it in images])
            if bad:
                result.ok = False
                shown = "; ".join(f"{p} ({why})" for p, why in bad[:_NAMED])
                result.lines.append(f"  {split}: {len(bad)} unreadable image(s): {shown}")
    return result
