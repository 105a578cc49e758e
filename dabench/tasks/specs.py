"""What the catalogue holds once task files are read: `Domain`, `TaskSpec` and `Catalog`.

Plain frozen dataclasses (no validation here: `schema.py` validated the files they come from);
`Published` and `BoardRow` are the schema's own models. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from dabench.errors import DabenchError, clip
from dabench.registry import suggest
from dabench.tasks.schema import BoardRow, Published

LEADERBOARD_SUITE = "leaderboard"  # runs every (task, variant) behind the leaderboard rows


@dataclass(frozen=True)
class Domain:
    key: str
    name: str
    loader: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    family: str
    file: str
    version: int
    modality: str
    dataset: str  # dataset family shown by list-tasks, e.g. "Office-31"
    title: str  # the leaderboard's dataset name, e.g. "MNIST-to-MNIST-M"
    leaderboard_task: str  # the leaderboard's task column, e.g. "Domain Adaptation"
    classes: tuple[str, ...]
    source: Domain
    targets: tuple[Domain, ...]
    config: dict[str, Any]  # family defaults <- task config (flat dotted keys)
    recipes: dict[str, dict[str, Any]]
    methods: tuple[str, ...]  # default methods of `dabench run`
    published: tuple[Published, ...]
    aliases: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # named grids: sweep name -> method (or "*" for all) -> {dotted key: [values]}
    sweeps: dict[str, dict[str, dict[str, list]]] = field(default_factory=dict)
    sweep: str = ""  # the sweep `dabench run` applies when none is given ("" = none)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def same_domain_warning(self) -> Optional[str]:
        """A warning when the source is also a target: such a task measures no adaptation."""
        same = [d for d in self.targets if d.key == self.source.key]
        if not same:
            return None
        return (f"task '{self.name}': the source domain '{self.source.key}' is also a target, "
                "so its target accuracy measures no domain adaptation (at most a sanity check); "
                "give another target domain in its task file")

    def published_for(self, method: str, config: dict[str, Any]) -> list[Published]:
        return [p for p in self.published if p.matches(method, config)]

    def summary(self) -> dict[str, Any]:
        """The JSON object `dabench list-tasks --format json` prints."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "title": self.title,
            "source": self.source.name,
            "targets": [t.name for t in self.targets],
            "modality": self.modality,
            "num_classes": self.num_classes,
            "version": self.version,
            "aliases": list(self.aliases),
            "recipes": sorted(self.recipes),  # --set recipe=NAME
            "default_recipe": self.config.get("recipe", ""),
        }


@dataclass(frozen=True)
class Catalog:
    tasks: dict[str, TaskSpec]
    suites: dict[str, tuple[str, ...]]
    aliases: dict[str, str]
    board: tuple[BoardRow, ...] = ()

    def board_plan(self) -> list[tuple[TaskSpec, str, dict[str, Any]]]:
        """(task, method, config overrides) behind every leaderboard row, without repeats."""
        plan: dict[tuple, tuple] = {}
        for row in self.board:
            for name in row.tasks:
                key = (name, row.method, tuple(sorted(row.when.items())))
                plan.setdefault(key, (self.task(name), row.method, dict(row.when)))
        return list(plan.values())

    def task(self, name: str) -> TaskSpec:
        name = self.aliases.get(name, name)
        if name not in self.tasks:
            raise DabenchError(
                f"unknown task '{clip(name)}'.{suggest(name, self.names())} "
                "Run `dabench list-tasks` to see them all."
            )
        return self.tasks[name]

    def names(self) -> list[str]:
        return sorted([*self.tasks, *self.suites, *self.aliases])

    def expand(self, names: list[str]) -> list[TaskSpec]:
        """Task and suite names -> task specs, in order, without repeats."""
        out: dict[str, TaskSpec] = {}
        for name in names:
            members = self.suites.get(name, (name,))
            for member in members:
                spec = self.task(member)
                out.setdefault(spec.name, spec)
        return list(out.values())
