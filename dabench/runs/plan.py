"""What `dabench run` will run: task and suite names x methods x seeds -> resolved configs.

The `leaderboard` suite is special: each of its tasks runs with the method and configuration
variant its leaderboard row names (e.g. TemRelation + RevGrad for UCF-to-HMDBfull).
"""

from __future__ import annotations

from typing import Any

from dabench.config import RunConfig, resolve
from dabench.runs.sweep import Grid, expand, grid_for
from dabench.tasks.catalog import LEADERBOARD_SUITE, Catalog, TaskSpec


def build_plan(catalog: Catalog, names: list[str], methods: list[str], seeds: list[int],
               overrides: dict[str, Any], sweeps: list[Grid | str] = ()
               ) -> list[tuple[TaskSpec, RunConfig]]:
    """Every (task, config) to run, in order, without repeats (same run id once).

    `sweeps`: KEY=... grids and sweep names (dabench/runs/sweep.py); with none given, a task's
    default sweep applies. --set values win over swept ones."""
    plan: dict[str, tuple[TaskSpec, RunConfig]] = {}
    for name in names:
        if name == LEADERBOARD_SUITE and catalog.board and not methods:
            variants = catalog.board_plan()
        else:
            variants = [(spec, m, {}) for spec in catalog.expand([name])
                        for m in (methods or spec.methods)]
        for spec, method, when in variants:
            grid = grid_for(spec, method, list(sweeps))
            for seed in seeds:
                for combo in expand(grid):
                    cfg = resolve(spec, method, seed, {**when, **combo, **overrides})
                    cfg.sweep = sorted(k for k in grid if k not in overrides)
                    plan.setdefault(f"{spec.name}/{method}/{cfg.run_id()}", (spec, cfg))
    return list(plan.values())
