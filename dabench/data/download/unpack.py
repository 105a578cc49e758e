"""Unpack one archive into a dataset folder, crash-safely.

Extraction happens in `<dataset>/.dabench-partial-<part>/` (removed when anything fails, and at
the start of the next run if a killed process left it); a recipe's steps run there (nested
archives, grouping a flat video folder by class); the shallowest folder holding every `expect`
path is the content root, whose entries are then renamed into the dataset folder after writing a
journal (`.dabench-moving-<part>.json`) that the next run completes if the process died while
moving. Existing entries not made by an earlier download are never overwritten.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Callable, Optional

from dabench.data.download import archives
from dabench.data.download.registry import Source
from dabench.errors import DabenchError
from dabench.runs.store import write_atomic

PARTIAL = ".dabench-partial-"
JOURNAL = ".dabench-moving-"
_SKIP = {"__MACOSX"}


def content_root(tmp: Path, expect: list[str], depth: int = 3) -> Optional[Path]:
    """The shallowest folder under `tmp` holding every `expect` path (drops wrapper folders)."""
    level = [tmp]
    for _ in range(depth + 1):
        for folder in level:
            if all((folder / e).exists() for e in expect):
                return folder
        level = [c for f in level for c in sorted(f.iterdir())
                 if c.is_dir() and not c.is_symlink() and c.name not in _SKIP]
    return None


def _nested(tmp: Path, pattern: Optional[str], rar_tool: Optional[str],
            say: Callable[[str], None]) -> None:
    if not pattern:
        return
    inner = sorted(p for p in tmp.rglob("*") if p.is_file() and fnmatch.fnmatch(p.name, pattern))
    say(f"unpacking {len(inner)} inner archives")
    for archive in inner:
        # into <name>/ whether the inner archive holds a <name>/ folder (HMDB51's per-class
        # RARs, as the scripts that unpack them show) or loose files
        scratch = archive.with_name(f".{archive.name}.unpacked")
        scratch.mkdir()
        archives.extract(archive, scratch, "auto", rar_tool=rar_tool)
        name = archive.name.split(".")[0]
        only = list(scratch.iterdir())
        (only[0] if len(only) == 1 and only[0].name == name and only[0].is_dir()
         else scratch).rename(archive.with_name(name))
        shutil.rmtree(scratch, ignore_errors=True)
        archive.unlink()


def _group(tmp: Path, spec: Optional[dict]) -> None:
    """Move `<folder>/v_<Class>_...avi` into `<into>/<Class>/`, fixing the spellings listed."""
    if not spec:
        return
    folders = [p for p in tmp.rglob(spec["folder"]) if p.is_dir()]
    if not folders:
        return  # content_root reports what is missing
    folder = folders[0]
    into, pattern = folder.parent / spec["into"], re.compile(spec["pattern"])
    renames = spec.get("file_renames") or {}
    for file in sorted(folder.iterdir()):
        match = pattern.match(file.name)
        if not match:
            continue
        name = file.name
        for old, new in renames.items():
            name = new + name[len(old):] if name.startswith(old) else name
        (into / match["cls"]).mkdir(parents=True, exist_ok=True)
        file.rename(into / match["cls"] / name)
    if not any(folder.iterdir()):
        folder.rmdir()


def _finish_moves(dataset_dir: Path, part: str) -> list[str]:
    """Move the journal's entries from the temporary folder into place (idempotent)."""
    journal = dataset_dir / f"{JOURNAL}{part}.json"
    tmp = dataset_dir / f"{PARTIAL}{part}"
    plan = json.loads(journal.read_text(encoding="utf-8"))
    root = tmp / plan["root"]
    for name in plan["items"]:
        if (root / name).exists() or (root / name).is_symlink():
            (root / name).rename(dataset_dir / name)
    shutil.rmtree(tmp, ignore_errors=True)
    journal.unlink()
    return list(plan["items"])


def unpacked_size(archive: Path) -> int:
    """The bytes an archive needs once unpacked: exact for zip, the archive's size otherwise
    (the images and videos inside are compressed already)."""
    import zipfile

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return sum(i.file_size for i in zf.infolist())
    return archive.stat().st_size


def require_space(folder: Path, needed: int, what: str) -> None:
    """A one-line error when the file system of `folder` has less than `needed` bytes free."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise DabenchError(f"not enough disk space for {what}: it needs {needed / 1e9:.2f} GB "
                           f"and {probe} has {free / 1e9:.2f} GB free; fix: free space there or "
                           "choose another --data-root")


def place(archive: Path, source: Source, dataset_dir: Path, part: str, *,
          ours: list[str], rar_tool: Optional[str] = None,
          say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> list[str]:
    """Unpack `archive` and rename its content into `dataset_dir`; the entries placed.

    `ours` are entries an earlier download of this part put there (replaced); any other existing
    entry of the same name is an error, so nothing the user put there is overwritten.
    """
    if (dataset_dir / f"{JOURNAL}{part}.json").exists():
        return _finish_moves(dataset_dir, part)
    require_space(dataset_dir, unpacked_size(archive), f"unpacking {archive.name}")
    tmp = dataset_dir / f"{PARTIAL}{part}"
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run
    tmp.mkdir(parents=True)
    try:
        if source.format == "file":  # a data file itself (MNIST's .gz IDX, SVHN's .mat)
            say(f"placing {archive.name} into {dataset_dir}")
            shutil.copyfile(archive, tmp / (source.file or archive.name))
        else:
            say(f"extracting {archive.name} into {dataset_dir}")
            archives.extract(archive, tmp, source.format, rar_tool=rar_tool)
        _nested(tmp, source.extract.get("nested"), rar_tool, say)
        _group(tmp, source.extract.get("group_by_class"))
        expect = list(source.extract["expect"])
        root = content_root(tmp, expect)
        if root is None:
            raise DabenchError(f"{archive} does not contain the expected {', '.join(expect)}; "
                               "fix: use the archive named in the registry (a different "
                               "release or a damaged download)")
        items = sorted(p.name for p in root.iterdir() if p.name not in _SKIP)
        clash = [n for n in items if (dataset_dir / n).exists() and n not in ours]
        if clash:
            raise DabenchError(
                f"{dataset_dir / clash[0]} already exists and was not put there by `dabench data "
                f"download`; fix: move it away (or delete it) and run again, or keep it and "
                f"check it with `dabench data check`")
        for name in items:
            if name in ours and (dataset_dir / name).exists():
                shutil.rmtree(dataset_dir / name) if (dataset_dir / name).is_dir() \
                    else (dataset_dir / name).unlink()
        write_atomic(dataset_dir / f"{JOURNAL}{part}.json",
                     json.dumps({"root": str(root.relative_to(tmp)), "items": items}))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _finish_moves(dataset_dir, part)
