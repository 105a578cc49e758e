"""What `dabench run` will run: task and suite names x methods x seeds -> resolved configs.

The `leaderboard` suite is special: each of its tasks runs with the method and configuration
variant its leaderboard row names (e.g. TemRelation + RevGrad for UCF-to-HMDBfull).

A plan entry keeps the overrides it was resolved with, so a launcher can hand it to another
process as a small JSON ticket (`ticket()`), which that process resolves again (`from_ticket`)
to the same run id. `--shard i/N` keeps a fixed slice of the plan (`shard`). `describe` is what
`dabench run --dry-run` prints: every planned run with its resolved settings, nothing read or
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dabench.config import RunConfig, check_applies, flatten, modality_of, resolve
from dabench.errors import DabenchError
from dabench.runs.sweep import Grid, check_size, expand, grid_for, size
from dabench.tasks.catalog import LEADERBOARD_SUITE, Catalog, TaskSpec


@dataclass(frozen=True)
class PlanEntry:
    spec: TaskSpec
    cfg: RunConfig
    overrides: dict[str, Any]  # everything resolve() got besides task, method and seed

    def ticket(self) -> dict[str, Any]:
        """A JSON-able description from which `from_ticket` rebuilds exactly this run."""
        from dabench.plugins import loaded_files

        out = {"task": self.spec.name, "method": self.cfg.method, "seed": self.cfg.seed,
               "overrides": self.overrides, "run_id": self.cfg.run_id(),
               "sweep": list(self.cfg.sweep)}
        files = loaded_files()
        return {**out, "plugins": files} if files else out  # the worker loads these too


def plan_entries(catalog: Catalog, names: list[str], methods: list[str], seeds: list[int],
                 overrides: dict[str, Any], sweeps: list[Grid | str] = ()) -> list[PlanEntry]:
    """Every run to do, in order, without repeats (same run id once).

    `sweeps`: KEY=... grids and sweep names (dabench/runs/sweep.py); with none given, a task's
    default sweep applies; every combination is a run. --set values win over swept ones."""
    plan: dict[str, PlanEntry] = {}
    _check_some_task_uses(catalog, names, overrides)
    planned = 0
    for name in names:
        if name == LEADERBOARD_SUITE and catalog.board and not methods:
            variants = catalog.board_plan()
        else:
            variants = [(spec, m, {}) for spec in catalog.expand([name])
                        for m in (methods or spec.methods)]
        for spec, method, when in variants:
            grid = grid_for(spec, method, list(sweeps))
            planned += size(grid) * len(seeds)
            check_size(planned)  # before expanding: a huge grid is refused at once
            for seed in seeds:
                for combo in expand(grid):
                    values = {**when, **combo, **_applying(spec, overrides)}
                    cfg = resolve(spec, method, seed, values)
                    cfg.sweep = tuple(sorted(k for k in grid if k not in overrides))
                    plan.setdefault(f"{spec.name}/{method}/{cfg.run_id()}",
                                    PlanEntry(spec, cfg, values))
    return list(plan.values())


def _applying(spec: TaskSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides that apply to this task's modality (video.* only to video tasks, ...)."""
    return {k: v for k, v in overrides.items()
            if modality_of(k) in (None, getattr(spec, "modality", None))}


def _check_some_task_uses(catalog: Catalog, names: list[str], overrides: dict[str, Any]) -> None:
    """A modality-specific --set that no planned task can use is an error, not a new run id."""
    specs = catalog.expand(names)
    for key in overrides:
        if modality_of(key) and specs and not any(
                modality_of(key) == getattr(s, "modality", None) for s in specs):
            check_applies(key, specs[0])


def build_plan(catalog: Catalog, names: list[str], methods: list[str], seeds: list[int],
               overrides: dict[str, Any], sweeps: list[Grid | str] = ()
               ) -> list[tuple[TaskSpec, RunConfig]]:
    """Every (task, config) to run, in order, without repeats (same run id once)."""
    return [(e.spec, e.cfg)
            for e in plan_entries(catalog, names, methods, seeds, overrides, sweeps)]


def from_ticket(catalog: Catalog, ticket: dict[str, Any]) -> PlanEntry:
    """The plan entry a ticket describes; an error if it no longer resolves to the same run
    (the task files, a plugin or dabench changed between planning and running)."""
    from dabench.plugins import load_files

    load_files(ticket.get("plugins", ()))
    spec = catalog.task(ticket["task"])
    cfg = resolve(spec, ticket["method"], int(ticket["seed"]), dict(ticket["overrides"]))
    if cfg.run_id() != ticket["run_id"]:
        raise DabenchError(f"run {ticket['task']}/{ticket['method']}/{ticket['run_id']} now "
                           f"resolves to run id {cfg.run_id()} (task files, a plugin or dabench "
                           "changed since it was planned); plan it again")
    cfg.sweep = tuple(ticket.get("sweep", ()))
    return PlanEntry(spec, cfg, dict(ticket["overrides"]))


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' -> (i, N) with 0 <= i < N."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise DabenchError(f"--shard '{text}' must be i/N with 0 <= i < N, for example "
                           "--shard 0/4 (the first of four slices)")
    return i, n


def shard(items: list, index: int, count: int) -> list:
    """Slice `index` of `count`: items index, index + count, ... (round-robin, so every slice
    gets a mix of tasks). Fixed by the plan alone, so N processes started at different times
    agree on it; finished runs inside a slice are then skipped as usual."""
    return items[index::count]


def describe(entries: list[PlanEntry]) -> list[dict[str, Any]]:
    """What each planned run will compute, in plan order (pure; `dabench run --dry-run`):
    task, method, seed, run id, recipe, the base learning rates of the backbone and of the new
    layers, the swept keys, the fully resolved settings, and those
    of them that differ from dabench's defaults (task file, recipe, --set and sweep together)."""
    defaults = flatten(RunConfig())
    out = []
    for e in entries:
        flat = e.cfg.flat()
        o = e.cfg.optim
        out.append({"task": e.spec.name, "method": e.cfg.method, "seed": e.cfg.seed,
                    "run_id": e.cfg.run_id(), "recipe": e.cfg.recipe,
                    # the base rates before the schedule: optim.lr trains the new layers, the
                    # backbone trains at optim.lr x optim.backbone_lr_mult
                    "learning_rates": {"backbone": round(o.lr * o.backbone_lr_mult, 12),
                                       "new_layers": o.lr},
                    "sweep": {k: flat[k] for k in e.cfg.sweep},
                    "changed": {k: v for k, v in flat.items()
                                if k not in ("task", "method", "seed") and v != defaults.get(k)},
                    "settings": flat})
    return out


def describe_text(described: list[dict[str, Any]]) -> str:
    """`describe` as lines for a terminal: one header per run, then its non-default settings."""
    lines = [f"{len(described)} run(s) planned; nothing was run (--dry-run)"]
    for d in described:
        swept = ", ".join(f"{k}={v}" for k, v in d["sweep"].items())
        lr = d["learning_rates"]
        lines.append(f"{d['task']} {d['method']} seed {d['seed']} run {d['run_id']} "
                     f"recipe {d['recipe']} (lr: backbone {lr['backbone']:g}, new layers "
                     f"{lr['new_layers']:g})" + (f" [sweep: {swept}]" if swept else ""))
        lines += [f"    {k} = {v}" for k, v in sorted(d["changed"].items())]
    return "\n".join(lines) + "\n"
