"""Sweeps: grids of settings run as ordinary runs (`dabench run TASK --sweep KEY=v1,v2,...`).

A grid maps dotted keys to value lists; a sweep is every combination (the Cartesian product).
Named sweeps live in task files (`sweeps: {name: {method or "*": {key: [values]}}}`); a task's
`sweep:` names the one `dabench run` applies by default. Each run records the keys it swept
(`sweep` in its config.json and result.json), so the report can pick one configuration per
(task, method, seed) by a selection rule (dabench/analysis/selection.py). Pure functions.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from dabench.config import IDENTITY_KEYS, coerce
from dabench.errors import DabenchError, clip
from dabench.registry import suggest

Grid = dict[str, list[Any]]
NO_SWEEP = "none"
MAX_RUNS = 10_000  # runs one command may plan (a sweep's combinations x seeds x methods x tasks)


def parse_sweep(text: str) -> Grid | str:
    """`"grl.weight=0.1,0.3"` -> {"grl.weight": [0.1, 0.3]} (typed); a bare word is the name
    of a task's sweep (or `none`)."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep:
        if not key or "," in key:
            raise DabenchError(f"--sweep '{text}' is neither KEY=v1,v2,... nor a sweep name")
        return key
    if key in IDENTITY_KEYS:
        raise DabenchError(f"--sweep {key}=... is not allowed; use --seeds / --method instead")
    items = [v.strip() for v in values.split(",")]
    if not any(items):
        raise DabenchError(f"--sweep '{clip(text)}' has no values; give KEY=v1,v2,...")
    if "" in items:
        raise DabenchError(f"--sweep '{clip(text)}': value {items.index('') + 1} is empty (two "
                           "commas in a row, or one at the end); give KEY=v1,v2,... without it")
    if len(items) > MAX_RUNS:
        raise DabenchError(f"--sweep {clip(key)}=... has {len(items)} values, more than the "
                           f"{MAX_RUNS} runs one command may plan; sweep fewer values")
    typed = [coerce(key, v) for v in items]
    return {key: list(dict.fromkeys(typed))}


def grid_for(task, method: str, sweeps: list[Grid | str]) -> Grid:
    """The grid of one (task, method): named sweeps' entries for "*" and for `method`, then the
    command line's KEY=... grids (a later grid's key replaces an earlier one's)."""
    names = [s for s in sweeps if isinstance(s, str)]
    if not sweeps and task.sweep:  # the task's own grid, unless the command line gives one
        names = [task.sweep]
    grid: Grid = {}
    for name in names:
        if name == NO_SWEEP:
            continue
        if name not in task.sweeps:
            known = sorted(task.sweeps)
            raise DabenchError(f"task '{task.name}' has no sweep '{name}'.{suggest(name, known)} "
                               f"Known: {', '.join(known) or 'none'}; or give KEY=v1,v2,...")
        body = task.sweeps[name]
        for part in ("*", method):
            for key, values in body.get(part, {}).items():
                grid[key] = [coerce(key, v) for v in values]
    for s in sweeps:
        if isinstance(s, dict):
            grid.update(s)
    return grid


def size(grid: Grid) -> int:
    """The number of combinations of `grid` (computed without expanding it)."""
    return math.prod(len(values) for values in grid.values())


def check_size(runs: int) -> None:
    """An error when a command would plan more than MAX_RUNS runs (before any is expanded)."""
    if runs > MAX_RUNS:
        shown = f"{runs:,}" if runs < 10**15 else f"about 10^{len(str(runs)) - 1}"
        raise DabenchError(f"this command would plan {shown} runs (every combination of the "
                           f"--sweep values, times seeds and methods), more than the {MAX_RUNS:,} "
                           "one command may plan; sweep fewer values or split the sweep "
                           "over several commands")


def expand(grid: Grid) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order; [{}] for an empty grid."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
