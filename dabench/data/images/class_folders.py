"""Class folders on disk, matched safely to a task's class names (no torch here).

- A class name is one plain folder name: not empty, no '/', no '..', not absolute (an absolute
  class name used to read images from that path).
- Names are compared in Unicode NFC: a class 'café' written precomposed in the task file
  matches a folder whose name the file system stores decomposed (NFD, as macOS does).
- Class folders and images must lie inside the boundary after symbolic links are resolved: the
  data root, or for a domain given by an absolute `path:` option, that folder. A link pointing
  elsewhere is an error naming it (copy the images in, or point the domain's `path:` there).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Optional

from dabench.errors import DabenchError


def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def check_class_name(name: str) -> None:
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name \
            or "\0" in name:
        raise DabenchError(f"class name {str(name)[:80]!r} is not a plain folder name; class "
                           "names name the folders under each domain (no '/', '..' or absolute "
                           "paths); fix the task's classes")


def class_folders(domain_dir: Path) -> dict[str, Path]:
    """NFC name -> sub-folder of `domain_dir` (hidden folders skipped)."""
    if not Path(domain_dir).is_dir():
        return {}
    return {nfc(p.name): p for p in sorted(Path(domain_dir).iterdir())
            if p.is_dir() and not p.name.startswith(".")}


def check_inside(paths: list[Path], boundary: Optional[Path], what: str) -> None:
    """Every path resolved (links followed) lies inside `boundary` (None: not checked)."""
    if boundary is None:
        return
    root = Path(boundary).resolve()
    for path in paths:
        real = Path(path).resolve()
        if not real.is_relative_to(root):
            raise DabenchError(f"{what} {path} is a link to {real}, outside the data folder "
                               f"{root}; fix: copy the images into the data folder, or give the "
                               "domain an absolute `path:` (imagefolder loader) that holds them")
