"""How a config field declares its valid values: a set of choices or a numeric range.

A torch-free leaf shared by `dabench.config` (the core sections) and by each method's own
config section (`dabench/methods/*.py`), so `coerce` checks every key the same way:

    lr: float = field(default=0.01, metadata=positive())
    dropout: float = field(default=0.5, metadata=between(0, 1, high_open=True))
    schedule: str = field(default="dann", metadata=choice("dann", "constant"))

Numeric fields without metadata must be >= 0 (and finite, for floats).
"""

from __future__ import annotations

from typing import Optional


def choice(*values: str) -> dict:
    return {"choices": values}


def between(low: Optional[float] = None, high: Optional[float] = None, *,
            low_open: bool = False, high_open: bool = False) -> dict:
    """The closed (or, with *_open, open) interval a number must lie in; None: unbounded."""
    return {"range": (low, high, low_open, high_open)}


def at_least(low: float) -> dict:
    return between(low)


def positive() -> dict:
    return between(0, None, low_open=True)


def describe(low: Optional[float], high: Optional[float], low_open: bool, high_open: bool) -> str:
    """'>= 1', '> 0', 'in [0, 1)'."""
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def in_range(value: float, low: Optional[float], high: Optional[float], low_open: bool,
             high_open: bool) -> bool:
    if low is not None and (value < low or (low_open and value == low)):
        return False
    if high is not None and (value > high or (high_open and value == high)):
        return False
    return True
