"""A small name -> object registry with "did you mean" suggestions.

Used for methods, backbones and data sources, so every list the CLI prints and every error it
raises comes from one place. A registry may be given a package to `discover`: its modules are
imported (a package walk) the first time a name is looked up, so entries register themselves
with a decorator and no list of module names exists anywhere.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Callable, Generic, Iterator, Optional, TypeVar

from dabench.errors import DabenchError

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """' Did you mean X?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Maps names to objects; `kind` names the registry in error messages."""

    def __init__(self, kind: str, discover: Optional[str] = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._discover = discover  # a package whose modules register entries when imported

    def _load(self) -> None:
        if self._discover is not None:
            package, self._discover = self._discover, None
            import_package(package)

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = obj

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise DabenchError(
                f"unknown {self.kind} '{name}'.{suggest(name, self.names())} "
                f"Known: {', '.join(self.names())}."
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


def import_package(package: str) -> None:
    """Import every module below `package` (recursively), so their decorators run."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        importlib.import_module(info.name)
