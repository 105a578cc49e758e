"""The validated catalogue on disk, so `dabench list-tasks` does not validate every task file on
each call.

The cache is a pickle under `$XDG_CACHE_HOME/dabench/` (default `~/.cache/dabench/`), one file per
list of task files, holding the catalogue and its key: the path, size and modification time (ns)
of every file the catalogue is built from (the task files, every YAML file beside them and among
the built-in ones, which `include:` may read) and of the code that validates them (this package,
`config.py`, `fields.py`, the methods), the dabench, Python and pydantic versions. Any change
gives a new key and a rebuild, so the cache is never stale. A missing, corrupt or unreadable
cache, or an unwritable folder, is ignored silently: the catalogue is built as without a cache.
Only a catalogue that built without error is stored, and only when every file it depends on is
more than `SETTLED_S` seconds old: a file written again within the same tick of its clock could
keep its size and modification time (as git treats "racily clean" files).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import pydantic

import dabench
from dabench.atomic import atomic_file
from dabench.tasks.compose import SUFFIXES

T = TypeVar("T")
_PACKAGE = Path(dabench.__file__).resolve().parent
CODE = ("tasks", "config.py", "fields.py", "methods")  # what validation runs, under dabench/
SETTLED_S = 2.0


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dabench"


def cache_file(files: list[Path]) -> Path:
    """The cache of the catalogue of these task files (one per list of files)."""
    name = hashlib.sha256("\n".join(str(f.resolve()) for f in files).encode()).hexdigest()
    return cache_dir() / f"catalog-{name[:16]}.pickle"


def _stat(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _sources(files: list[Path], builtin_dir: Path) -> list[Path]:
    """Every file the catalogue depends on, each once, in a fixed order."""
    folders = dict.fromkeys([builtin_dir, *(f.parent for f in files)])
    found = [p for d in folders for p in sorted(d.iterdir()) if p.suffix in SUFFIXES]
    for name in CODE:
        where = _PACKAGE / name
        found += sorted(where.glob("*.py")) if where.is_dir() else [where]
    resolved = [p.resolve() for p in [*files, *found]]
    return list(dict.fromkeys(resolved))


def key(files: list[Path], builtin_dir: Path) -> tuple[str, int]:
    """The cache key, and the newest modification time (ns) among the files it covers."""
    stats = [_stat(p) for p in _sources(files, builtin_dir)]
    parts = [dabench.__version__, sys.version, pydantic.VERSION,
             *(str(f.resolve()) for f in files),  # the task files, in catalogue order
             *map(repr, stats)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest(), max(s[2] for s in stats)


def cached(files: list[Path], builtin_dir: Path, build: Callable[[], T]) -> T:
    """`build()`'s catalogue, from the cache when its key still holds; stored after a build."""
    try:
        want, newest = key(files, builtin_dir)
        path = cache_file(files)
    except OSError:  # a file vanished between listing and stat: build (and report) as usual
        return build()
    try:
        with open(path, "rb") as fh:
            stored_key, value = pickle.load(fh)
        if stored_key == want:
            return value
    except Exception:  # missing, truncated, written by other code: rebuild
        pass
    value = build()
    if time.time_ns() - newest < SETTLED_S * 1e9:
        return value  # a file changed just now may change again unseen: do not store
    try:
        with atomic_file(path) as fh:
            pickle.dump((want, value), fh, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # read-only home, full disk, a file where the folder should be: no cache
        pass
    return value
