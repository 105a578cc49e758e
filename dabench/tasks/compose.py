"""`include:` composition of task files (as lm-evaluation-harness composes its task configs).

A task file may start with `include: _office.yaml` (or a list of names): each shared file is
read, merged in order, and the including file is merged over them. Mappings merge key by key at
every depth (so a file can override one setting of an included recipe); any other value (a
list, a number, a string) is replaced whole. Shared files may include others.

Convention: a shared file's name starts with `_` (e.g. `tasks/_office.yaml`). Such files
are never read as task files themselves, and only they can be included. A name is looked up
beside the including file, then among the built-in task files, so a user's task file can
include a built-in shared file (e.g. the Office recipes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dabench.errors import DabenchError, clip

INCLUDE_KEY = "include"
MAX_INCLUDE_DEPTH = 8
SHARED_PREFIX = "_"
SUFFIXES = (".yaml", ".yml")


def is_shared(path: Path) -> bool:
    """A shared (include-only) file: its name starts with `_`."""
    return path.name.startswith(SHARED_PREFIX)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged onto `base`: mappings key by key (recursively), other values replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_composed(path: Path, builtin_dir: Path) -> Any:
    """The document of `path` with its includes merged in; DabenchError naming the file."""
    return _read(path, builtin_dir, ())


def _read(path: Path, builtin_dir: Path, chain: tuple[Path, ...]) -> Any:
    from dabench.tasks.yaml_safe import read_yaml  # here: a cached catalogue reads no YAML

    raw = read_yaml(path)
    if not isinstance(raw, dict) or INCLUDE_KEY not in raw:
        return raw
    raw = dict(raw)
    names = raw.pop(INCLUDE_KEY)
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DabenchError(f"task file {path}: include: expected a file name or a list of "
                           f"names, got {clip(repr(names))}")
    if len(chain) >= MAX_INCLUDE_DEPTH:
        raise DabenchError(f"task file {path}: includes nest more than {MAX_INCLUDE_DEPTH} deep")
    merged: dict[str, Any] = {}
    for name in names:
        shared = _locate(path, name, builtin_dir)
        if shared in (*chain, path.resolve()):
            raise DabenchError(f"task file {path}: include: '{clip(name)}' includes itself "
                               "(directly or through other files); remove the cycle")
        part = _read(shared, builtin_dir, (*chain, path.resolve()))
        if not isinstance(part, dict):
            raise DabenchError(f"task file {shared}: top level: expected a mapping (key: value), "
                               f"got {type(part).__name__}")
        merged = merge(merged, part)
    return merge(merged, raw)


def _locate(path: Path, name: str, builtin_dir: Path) -> Path:
    target = Path(name)
    if not target.name.startswith(SHARED_PREFIX) or target.suffix not in SUFFIXES:
        raise DabenchError(f"task file {path}: include: '{clip(name)}' must name a shared file: "
                           f"a .yaml file whose name starts with '{SHARED_PREFIX}' (task files "
                           "themselves cannot be included)")
    for folder in (path.parent, builtin_dir):
        candidate = (folder / target).expanduser()
        if candidate.is_file():
            return candidate.resolve()
        if target.is_absolute():
            break
    raise DabenchError(f"task file {path}: include: '{clip(name)}' was not found beside it "
                       f"or among the built-in task files ({builtin_dir})")
