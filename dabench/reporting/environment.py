"""Where a number came from: per run, the device, versions, git commit, recipe and the settings
that differ from the task's defaults. Pure functions of run records; nothing here imports torch.

    run_environment(record, catalog)  -> Environment of one run
    nondefault_settings(record, catalog)  -> {key: value} that `dabench run TASK` would not use
    summary(envs)  -> one line for a table row built from several runs
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from dabench.config import RunConfig, resolve
from dabench.errors import DabenchError

IDENTITY_KEYS = ("task", "method", "seed", "recipe")  # shown elsewhere, never "settings"


@dataclass
class Environment:
    device: str
    versions: dict[str, str]
    git_commit: str
    recipe: str
    settings: dict[str, Any] = field(default_factory=dict)  # differing from the task's defaults
    wall_time_s: Optional[float] = None

    def versions_text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.versions.items())) or "—"

    def settings_text(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in sorted(self.settings.items())) or "defaults"


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _defaults(record: dict[str, Any], catalog) -> dict[str, Any]:
    """What `dabench run TASK --method M --set recipe=R` resolves today (flat keys), falling back
    to the task's default recipe, then to RunConfig's defaults for a task the catalog lacks."""
    config = record.get("config") or {}
    task = catalog.tasks.get(record.get("task")) if catalog is not None else None
    if task is None:
        return RunConfig().flat()
    method, seed = str(record.get("method", "")), int(record.get("seed", 0) or 0)
    recipe = config.get("recipe") or record.get("recipe")
    for overrides in ([{"recipe": recipe}] if recipe else []) + [{}]:
        try:
            return resolve(task, method, seed, overrides).flat()
        except DabenchError:  # a recipe the task file no longer has
            continue
    return RunConfig().flat()


def nondefault_settings(record: dict[str, Any], catalog) -> dict[str, Any]:
    """The run's settings whose values differ from the task's defaults under its recipe (keys the
    current defaults lack count as differing; keys the run lacks are not known, so left out)."""
    config = record.get("config") or {}
    base = _defaults(record, catalog)
    return {k: v for k, v in sorted(config.items())
            if k not in IDENTITY_KEYS and (k not in base or base[k] != v)}


def run_environment(record: dict[str, Any], catalog) -> Environment:
    versions = record.get("versions") if isinstance(record.get("versions"), dict) else {}
    config = record.get("config") or {}
    wall = record.get("wall_time_s")
    return Environment(
        device=str(record.get("device") or "unknown"),
        versions={str(k): str(v) for k, v in versions.items()},
        git_commit=str(record.get("git_commit") or "")[:12],
        recipe=str(record.get("recipe") or config.get("recipe") or ""),
        settings=nondefault_settings(record, catalog),
        wall_time_s=float(wall) if isinstance(wall, (int, float)) else None)


def summary(envs: Iterable[Environment]) -> str:
    """One line for a row of several runs: each distinct device, version set, recipe and
    settings list once (several values are joined with " | ")."""
    envs = list(envs)
    if not envs:
        return "—"
    parts = [("device", [e.device for e in envs]), ("", [e.versions_text() for e in envs]),
             ("recipe", [e.recipe or "—" for e in envs]),
             ("settings", [e.settings_text() for e in envs])]
    out = []
    for name, values in parts:
        text = " | ".join(dict.fromkeys(values))
        out.append(f"{name} {text}" if name else text)
    return "; ".join(out)
