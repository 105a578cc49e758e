"""Where a number came from: per run, the device, versions, git commit, recipe and the settings
that differ from the task's defaults (`labels.non_default_settings`, as the tables' model labels
name them). Pure functions of run records; nothing here imports torch.

    run_environment(record, catalog)  -> Environment of one run
    summary(envs)  -> one line for a table row built from several runs
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from dabench.reporting.labels import non_default_settings, not_comparable


@dataclass
class Environment:
    device: str
    versions: dict[str, str]
    git_commit: str
    recipe: str
    settings: list[str] = field(default_factory=list)  # "key=value" differing from the defaults
    not_compared: str = ""  # why the settings could not be compared with today's defaults
    wall_time_s: Optional[float] = None

    def versions_text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.versions.items())) or "—"

    def settings_text(self) -> str:
        if self.not_compared:
            return f"not compared ({self.not_compared})"
        return ", ".join(self.settings) or "defaults"


def run_environment(record: dict[str, Any], catalog) -> Environment:
    versions = record.get("versions") if isinstance(record.get("versions"), dict) else {}
    config = record.get("config") or {}
    wall = record.get("wall_time_s")
    return Environment(
        device=str(record.get("device") or "unknown"),
        versions={str(k): str(v) for k, v in versions.items()},
        git_commit=str(record.get("git_commit") or "")[:12],
        recipe=str(record.get("recipe") or config.get("recipe") or ""),
        settings=non_default_settings(catalog, record),
        not_compared=not_comparable(catalog, record),
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
