"""A small name -> object registry with "did you mean" suggestions.

Used for methods, backbones and data sources, so every list the CLI prints and every error it
raises comes from one place. A registry may be given a package to `discover`: its modules are
imported (a package walk) the first time a name is looked up, so entries register themselves
with a decorator and no list of module names exists anywhere.

A registry may also be given an entry-point `group` (`dabench.methods`, ...): the first time it
is read, after its package walk, every entry point of the group is loaded (an installed
plugin's module, which registers its entries; `dabench/plugins.py` has the rest of plugins).
A plugin that fails is rolled back and described in one line (`PROBLEMS`), never a traceback.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

from dabench.errors import DabenchError, clip

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """' Did you mean X?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Maps names to objects; `kind` names the registry in error messages.

    A registry whose kind has a plugin group (`dabench.plugins.GROUPS`: methods, backbones, data
    loaders) loads that group's entry points on first read, after its own package walk.
    """

    def __init__(self, kind: str, discover: Optional[str] = None, group: Optional[str] = None,
                 validate: Optional[Callable[[str, Any], None]] = None) -> None:
        self.kind = kind
        self.group = group  # the entry-point group of plugins adding entries
        self.validate = validate  # raises on a plugin's entry that cannot work (TypeError)
        self._items: dict[str, T] = {}
        self._discover = discover  # a package whose modules register entries when imported
        self.version = 0  # counts changes, so what is derived from the entries can be rebuilt
        self.notes: list[str] = []  # said after "unknown ..." (plugins that failed to load)
        self._plugins_pending = group is not None
        REGISTRIES.append(self)

    def _load(self) -> None:
        if self._discover is not None:
            package, self._discover = self._discover, None
            import_package(package)
        if self._plugins_pending:
            self._plugins_pending = False
            load_entry_points(self)

    def raw_names(self) -> list[str]:
        """The names registered so far, without loading the package or plugins."""
        return list(self._items)

    def raw_get(self, name: str) -> T:
        return self._items[name]

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = obj
        self.version += 1

    def remove(self, name: str) -> None:
        """Forget an entry (a plugin that failed half-way through registering)."""
        if self._items.pop(name, None) is not None:
            self.version += 1

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            notes = "".join(f" {note}" for note in self.notes)
            raise DabenchError(
                f"unknown {self.kind} '{name}'.{suggest(name, self.names())} "
                f"Known: {', '.join(self.names())}.{notes}"
            ) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._items[name]) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


REGISTRIES: list[Registry] = []  # every registry made (the plugin loader diffs them)
PROBLEMS: list[str] = []  # one line per plugin that failed to load
DISTRIBUTIONS: dict[str, tuple[str, str]] = {}  # top-level module -> (distribution, version)


def entry_points(group: str) -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)


def distribution(ep: metadata.EntryPoint) -> tuple[str, str]:
    """(name, version) of the distribution declaring `ep`."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.module.split(".")[0], "unknown"
    return dist.metadata["Name"], dist.version


def describe_entry_point(ep: metadata.EntryPoint) -> str:
    return f"plugin '{distribution(ep)[0]}' (entry point {ep.group}: {ep.name} = {ep.value})"


def load_entry_points(registry: Registry) -> None:
    """Load the entry points of `registry`'s group (each under `guarded`)."""
    for ep in entry_points(registry.group):
        if guarded(describe_entry_point(ep), ep.load, registry):
            DISTRIBUTIONS.setdefault(ep.module.split(".")[0], distribution(ep))


def guarded(where: str, load: Callable[[], Any], registry: Optional[Registry] = None) -> bool:
    """Run `load` (import a plugin) and validate what it registered; on any failure undo
    what it registered, record one line in PROBLEMS (and in the `notes` of `registry`, or of
    every registry) and return False."""
    before = {id(r): set(r.raw_names()) for r in REGISTRIES}

    def added() -> list[tuple[Registry, str]]:
        # registries made during the load (a module the plugin imported) hold built-ins
        return [(r, n) for r in REGISTRIES if id(r) in before for n in r.raw_names()
                if n not in before[id(r)]]

    try:
        load()
        for reg, name in added():
            if reg.validate is not None:
                reg.validate(name, reg.raw_get(name))
    except Exception as exc:  # a plugin can fail in any way: say which one, and go on
        for reg, name in added():
            reg.remove(name)
        line = f"{where}: {_explain(exc)}"
        if line not in PROBLEMS:
            PROBLEMS.append(line)
            for reg in REGISTRIES if registry is None else [registry]:
                reg.notes.append(f"(A plugin failed to load: {line}.)")
        return False
    return True


def _explain(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, ValueError) and "registered twice" in text:
        return (f"{text.replace('is registered twice', 'is already taken')} (by a built-in or "
                "another plugin); give it another name")
    return clip(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 300)


def import_package(package: str) -> None:
    """Import every module below `package` (recursively), so their decorators run."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        importlib.import_module(info.name)
