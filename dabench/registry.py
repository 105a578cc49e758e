"""A small name -> object registry with "did you mean" suggestions.

Used for methods, backbones and data sources, so every list the CLI prints and every error it
raises comes from one place.
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from dabench.errors import DabenchError

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """' Did you mean X?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Maps names to objects; `kind` names the registry in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

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
        try:
            return self._items[name]
        except KeyError:
            raise DabenchError(
                f"unknown {self.kind} '{name}'.{suggest(name, self.names())} "
                f"Known: {', '.join(self.names())}."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
