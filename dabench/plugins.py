"""Plugins: methods, backbones, data loaders and task folders from outside the dabench package.

Two ways in:

- an installed distribution declares entry points in the groups `dabench.methods`,
  `dabench.backbones`, `dabench.loaders` (`[project.entry-points."dabench.methods"] dan =
  "dabench_dan"`); each registry loads its group the first time it is read, after its built-ins,
  so a name clash is the plugin's (`dabench.registry`); `dabench.tasks` entry points name folders
  of task files (a package, whose folder is used, or a callable returning a folder);
- a single Python file, `--plugin path.py` (repeatable) or `DABENCH_PLUGINS=a.py:b.py`, imported
  by `load_files` before the command runs.

Each plugin has an identity: its distribution's name and version, or a file's sha256. A run
records the identities of the plugins that provide its method, backbone and loaders
(`run_identity`), and that text is part of its run id, so runs of two versions never mix.

A plugin that fails (an import error, a name that is already taken, a method without the
`loss(src, tgt, lam)` signature) is rolled back and described in one line (`problems()`): the
commands that do not need it keep working (the line is a warning), and `dabench run` stops with
it (`check()`). Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Optional

from dabench.errors import DabenchError, clip
from dabench.registry import (DISTRIBUTIONS, PROBLEMS, REGISTRIES, describe_entry_point,
                              distribution, entry_points, guarded)

PLUGINS_ENV = "DABENCH_PLUGINS"
GROUPS = {"method": "dabench.methods", "backbone": "dabench.backbones",
          "data loader": "dabench.loaders"}
TASKS_GROUP = "dabench.tasks"
_FILE_PREFIX = "dabench_plugin_"  # module names of file plugins: dabench_plugin_<stem>_<hash>


@dataclass(frozen=True)
class Plugin:
    """Where entries came from: `name` (a distribution, or a file's path), `version` (the
    distribution's version, or sha256:<first 16 hex digits> of a file)."""

    name: str
    version: str
    kind: str  # "distribution" or "file"

    def identity(self) -> str:
        return f"{self.name}=={self.version}" if self.kind == "distribution" else \
            f"{Path(self.name).name}@{self.version}"


_reported: set[str] = set()  # the lines already printed (a warning, or the error of `check`)
_files: dict[str, Plugin] = {}  # module name -> the file plugin it was loaded from


def problems() -> list[str]:
    """One line per plugin that failed to load so far."""
    return list(PROBLEMS)


def check() -> None:
    """For commands that train: a plugin that failed to load is an error (its one line). The
    caller reads its registries first (`dabench.api.load_plugins`), so every group is loaded."""
    if PROBLEMS:
        _reported.update(PROBLEMS)
        more = f" (and {len(PROBLEMS) - 1} more)" if len(PROBLEMS) > 1 else ""
        raise DabenchError(f"{PROBLEMS[0]}{more}; fix it, or uninstall or leave out that plugin")


def warn_problems() -> None:
    """For the commands that do not need plugins: one warning line per broken plugin."""
    for line in PROBLEMS:
        if line not in _reported:
            _reported.add(line)
            print(f"dabench: warning: {line}", file=sys.stderr)


def task_folders() -> list[tuple[Path, Plugin]]:
    """Folders of task files named by `dabench.tasks` entry points (a broken one: a problem)."""
    out = []
    for ep in entry_points(TASKS_GROUP):
        found: list[Path] = []

        def load(ep=ep, found=found) -> None:
            obj = ep.load()
            if callable(obj):
                obj = obj()
            folder = Path(obj.__file__).parent if hasattr(obj, "__file__") else Path(obj)
            if not folder.is_dir():
                raise NotADirectoryError(f"{folder} is not a folder of task files")
            found.append(folder)

        if guarded(describe_entry_point(ep), load):
            out.append((found[0], Plugin(*distribution(ep), "distribution")))
    return out


# -- single files ---------------------------------------------------------------------------------

def file_list(files: Iterable[str | Path] = ()) -> list[Path]:
    """The files of `DABENCH_PLUGINS` (os.pathsep-separated) and then `files`, absolute."""
    named = [*filter(None, os.environ.get(PLUGINS_ENV, "").split(os.pathsep)), *files]
    out: list[Path] = []
    for entry in named:
        path = Path(entry).expanduser().resolve()
        if path not in out:
            out.append(path)
    return out


def load_files(files: Iterable[str | Path] = ()) -> list[Plugin]:
    """Import each plugin file (those of DABENCH_PLUGINS, then `files`) once; a missing file is
    an error, a file that fails to import a problem (see the module). The built-in methods and
    installed plugins' are loaded first, so a name clash is the file's (backbones and loaders:
    `dabench.api.load_plugins` reads those registries first; here they would import torch)."""
    from dabench.methods import METHODS

    METHODS.names()
    loaded = []
    for path in file_list(files):
        if not path.is_file():
            raise DabenchError(f"plugin file '{clip(str(path))}' does not exist; give --plugin "
                               f"(or {PLUGINS_ENV}) the path of a Python file")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        plugin = Plugin(str(path), f"sha256:{digest}", "file")
        module_name = f"{_FILE_PREFIX}{_safe(path.stem)}_{digest[:8]}"
        if module_name in sys.modules:
            loaded.append(plugin)
            continue

        def load(path=path, module_name=module_name) -> None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[module_name]
                raise

        _files[module_name] = plugin
        if guarded(f"plugin file {path}", load):
            loaded.append(plugin)
        else:
            del _files[module_name]
    return loaded


def loaded_files() -> list[str]:
    """The paths of the plugin files loaded in this process (handed to worker processes)."""
    return [p.name for p in _files.values()]


def _safe(stem: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in stem)


# -- identity -------------------------------------------------------------------------------------

def plugin_of(obj: Any) -> Optional[Plugin]:
    """The plugin that defined `obj` (a registered class or function), None for dabench's own."""
    module = getattr(obj, "__module__", "") or ""
    if module in _files:
        return _files[module]
    top = module.split(".")[0]
    if top in ("dabench", "builtins", ""):
        return None
    if top in DISTRIBUTIONS:
        return Plugin(*DISTRIBUTIONS[top], "distribution")
    dists = metadata.packages_distributions().get(top)
    if dists:
        try:
            return Plugin(dists[0], metadata.version(dists[0]), "distribution")
        except metadata.PackageNotFoundError:
            pass
    return Plugin(module, "unversioned", "distribution")  # e.g. a notebook's __main__


def _named(kind: str, name: str) -> Optional[Plugin]:
    """The plugin providing entry `name` of a registry that may not be loaded yet: a loaded
    entry's, or that of an entry point of the group named `name` (read from the metadata, so no
    torch is imported to find out)."""
    for reg in REGISTRIES:
        if reg.kind == kind and name in reg.raw_names():
            return plugin_of(reg.raw_get(name))
    for ep in entry_points(GROUPS[kind]):
        if ep.name == name:
            return Plugin(*distribution(ep), "distribution")
    return None


def run_identity(method: Any, backbone: str, loaders: Iterable[str]) -> str:
    """The plugins a run uses (`method`: its registered class, None if unknown), "name==version"
    or "file.py@sha256:..." joined by ", " ("" when it uses none): part of the run id."""
    found = {plugin_of(method) if method is not None else None,
             _named("backbone", backbone), *(_named("data loader", n) for n in loaders)}
    return ", ".join(sorted(p.identity() for p in found if p is not None))
