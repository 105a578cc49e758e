"""Task definitions: `dabench/tasks/*.yaml` (beside this module) -> validated `TaskSpec`s, suites and lookup.

A task file describes one dataset family: its classes, domains, default run settings, named
recipes, tasks (source -> targets) with published reference values, and suites. Files are read
with `yaml.safe_load` and checked strictly: an unknown key, a missing field, a wrong type or a
duplicate name is an error naming the file. Nothing here imports torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.registry import suggest

TASK_PATH_ENV = "DABENCH_TASK_PATH"
LEADERBOARD_SUITE = "leaderboard"  # runs every (task, variant) behind the leaderboard rows
MODALITIES = ("image", "video", "vectors")


@dataclass(frozen=True)
class Published:
    """A published reference value for one method (optionally one config variant) of a task."""

    method: str
    value: float
    source: str
    metric: str = "accuracy"
    reference: str = "paper"
    when: dict[str, Any] = field(default_factory=dict)  # config keys the run must match
    note: str = ""
    selection: str = ""  # how the authors chose the reported model, e.g. "reverse validation"

    def matches(self, method: str, config: dict[str, Any]) -> bool:
        return method == self.method and all(config.get(k) == v for k, v in self.when.items())


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
        }


@dataclass(frozen=True)
class BoardRow:
    """One row of the public leaderboard and how to compute it from runs: the mean over `tasks`
    of the runs of `method` whose config matches `when` (several tasks: a dataset-level mean)."""

    task: str  # the leaderboard's task column
    dataset: str  # the leaderboard's dataset column, as listed (even when mislabelled)
    model: str
    value: float
    source: str
    method: str
    tasks: tuple[str, ...]
    when: dict[str, Any] = field(default_factory=dict)
    metric: str = "Accuracy"
    note: str = ""  # a footnote, e.g. a mislabelled row
    test_size: int = 0  # target test-set size, to check that the value is k/N


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
                f"unknown task '{name}'.{suggest(name, self.names())} "
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


# -- schema checking ---------------------------------------------------------------------------

_FILE_KEYS = {"family", "dataset", "version", "modality", "description", "classes", "domains",
              "defaults", "recipes", "methods", "tasks", "suites", "leaderboard_task", "notes",
              "leaderboard", "sweeps", "sweep"}
_BOARD_KEYS = {"task", "dataset", "model", "value", "source", "method", "tasks", "when",
               "metric", "note", "test_size"}
_FILE_REQUIRED = {"family", "dataset", "version", "modality", "classes", "domains", "tasks"}
_TASK_KEYS = {"source", "targets", "title", "config", "published", "aliases", "methods",
              "version", "notes", "leaderboard_task"}
_TASK_REQUIRED = {"source", "targets", "title"}
_PUBLISHED_KEYS = {"method", "value", "source", "metric", "reference", "when", "note",
                   "selection"}
_DOMAIN_KEYS = {"name", "loader", "options"}


class _Checker:
    """Type and key checks that name the file and the place in it."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, where: str, problem: str) -> DabenchError:
        return DabenchError(f"task file {self.file}: {where}: {problem}")

    def keys(self, obj: Any, where: str, allowed: set[str], required: set[str]) -> dict:
        obj = self.typed(obj, dict, where)
        for key in obj:
            if key not in allowed:
                hint = suggest(str(key), sorted(allowed))
                raise self.fail(where, f"unknown key '{key}'.{hint}")
        missing = sorted(required - set(obj))
        if missing:
            raise self.fail(where, f"missing required key(s): {', '.join(missing)}")
        return obj

    def typed(self, value: Any, kind: type | tuple[type, ...], where: str) -> Any:
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(where, f"expected a number, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(where, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def str_list(self, value: Any, where: str) -> tuple[str, ...]:
        items = self.typed(value, list, where)
        return tuple(self.typed(v, str, f"{where}[{i}]") for i, v in enumerate(items))


def _parse_domains(chk: _Checker, raw: Any) -> dict[str, Domain]:
    out = {}
    for key, body in chk.typed(raw, dict, "domains").items():
        body = chk.keys(body, f"domains.{key}", _DOMAIN_KEYS, {"name", "loader"})
        out[key] = Domain(
            key=key,
            name=chk.typed(body["name"], str, f"domains.{key}.name"),
            loader=chk.typed(body["loader"], str, f"domains.{key}.loader"),
            options=chk.typed(body.get("options", {}), dict, f"domains.{key}.options"),
        )
    return out


def _parse_published(chk: _Checker, raw: Any, where: str) -> tuple[Published, ...]:
    out = []
    for i, item in enumerate(chk.typed(raw, list, where)):
        at = f"{where}[{i}]"
        item = chk.keys(item, at, _PUBLISHED_KEYS, {"method", "value", "source"})
        out.append(Published(
            method=chk.typed(item["method"], str, f"{at}.method"),
            value=float(chk.typed(item["value"], (int, float), f"{at}.value")),
            source=chk.typed(item["source"], str, f"{at}.source"),
            metric=chk.typed(item.get("metric", "accuracy"), str, f"{at}.metric"),
            reference=chk.typed(item.get("reference", "paper"), str, f"{at}.reference"),
            when=chk.typed(item.get("when", {}), dict, f"{at}.when"),
            note=chk.typed(item.get("note", ""), str, f"{at}.note"),
            selection=chk.typed(item.get("selection", ""), str, f"{at}.selection"),
        ))
    return tuple(out)


def _parse_sweeps(chk: _Checker, raw: Any) -> dict[str, dict[str, dict[str, list]]]:
    """`sweeps: {name: {method or "*": {dotted key: [values]}}}`."""
    out: dict[str, dict[str, dict[str, list]]] = {}
    for name, body in chk.typed(raw, dict, "sweeps").items():
        out[name] = {}
        for method, grid in chk.typed(body, dict, f"sweeps.{name}").items():
            grid = chk.typed(grid, dict, f"sweeps.{name}.{method}")
            for key, values in grid.items():
                if not chk.typed(values, list, f"sweeps.{name}.{method}.{key}"):
                    raise chk.fail(f"sweeps.{name}.{method}.{key}", "needs at least one value")
            out[name][method] = grid
    return out


def _parse_board(chk: _Checker, raw: Any) -> tuple[BoardRow, ...]:
    out = []
    for i, item in enumerate(chk.typed(raw, list, "leaderboard")):
        at = f"leaderboard[{i}]"
        item = chk.keys(item, at, _BOARD_KEYS, _BOARD_KEYS - {"when", "metric", "note",
                                                               "test_size"})
        out.append(BoardRow(
            task=chk.typed(item["task"], str, f"{at}.task"),
            dataset=chk.typed(item["dataset"], str, f"{at}.dataset"),
            model=chk.typed(item["model"], str, f"{at}.model"),
            value=float(chk.typed(item["value"], (int, float), f"{at}.value")),
            source=chk.typed(item["source"], str, f"{at}.source"),
            method=chk.typed(item["method"], str, f"{at}.method"),
            tasks=chk.str_list(item["tasks"], f"{at}.tasks"),
            when=chk.typed(item.get("when", {}), dict, f"{at}.when"),
            metric=chk.typed(item.get("metric", "Accuracy"), str, f"{at}.metric"),
            note=chk.typed(item.get("note", ""), str, f"{at}.note"),
            test_size=chk.typed(item.get("test_size", 0), int, f"{at}.test_size"),
        ))
    return tuple(out)


def _domain(chk: _Checker, domains: dict[str, Domain], key: Any, where: str) -> Domain:
    key = chk.typed(key, str, where)
    if key not in domains:
        raise chk.fail(where, f"unknown domain '{key}'.{suggest(key, sorted(domains))}")
    return domains[key]


def parse_task_file(path: Path) -> tuple[list[TaskSpec], dict[str, tuple[str, ...]]]:
    """Read one task file; returns its tasks and suites. Raises DabenchError naming the file."""
    tasks, suites, _ = parse_task_file_full(path)
    return tasks, suites


def parse_task_file_full(path: Path) -> tuple[list[TaskSpec], dict[str, tuple[str, ...]],
                                              tuple[BoardRow, ...]]:
    """Tasks, suites and leaderboard rows of one task file."""
    chk = _Checker(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise DabenchError(f"task file {path}: YAML syntax error{line}: {problem}") from None
    except OSError as exc:
        raise DabenchError(f"task file {path}: cannot read it ({exc.strerror})") from None
    raw = chk.keys(raw, "top level", _FILE_KEYS, _FILE_REQUIRED)
    family = chk.typed(raw["family"], str, "family")
    modality = chk.typed(raw["modality"], str, "modality")
    if modality not in MODALITIES:
        raise chk.fail("modality", f"'{modality}' is not one of {', '.join(MODALITIES)}")
    classes = chk.str_list(raw["classes"], "classes")
    if len(set(classes)) != len(classes):
        raise chk.fail("classes", "a class name appears twice")
    domains = _parse_domains(chk, raw["domains"])
    defaults = chk.typed(raw.get("defaults", {}), dict, "defaults")
    recipes = chk.typed(raw.get("recipes", {}), dict, "recipes")
    for name, body in recipes.items():
        chk.typed(body, dict, f"recipes.{name}")
    methods = chk.str_list(raw.get("methods", ["source-only", "revgrad"]), "methods")
    version = chk.typed(raw["version"], int, "version")
    board = chk.typed(raw.get("leaderboard_task", "Domain Adaptation"), str, "leaderboard_task")
    notes = chk.str_list(raw.get("notes", []), "notes")
    sweeps = _parse_sweeps(chk, raw.get("sweeps", {}))
    sweep = chk.typed(raw.get("sweep", ""), str, "sweep")
    if sweep and sweep not in sweeps:
        raise chk.fail("sweep", f"unknown sweep '{sweep}'.{suggest(sweep, sorted(sweeps))}")

    tasks = []
    for name, body in chk.typed(raw["tasks"], dict, "tasks").items():
        at = f"tasks.{name}"
        body = chk.keys(body, at, _TASK_KEYS, _TASK_REQUIRED)
        targets = chk.typed(body["targets"], list, f"{at}.targets")
        if not targets:
            raise chk.fail(f"{at}.targets", "needs at least one target domain")
        tasks.append(TaskSpec(
            name=name,
            family=family,
            file=str(path),
            version=chk.typed(body.get("version", version), int, f"{at}.version"),
            modality=modality,
            dataset=chk.typed(raw["dataset"], str, "dataset"),
            title=chk.typed(body["title"], str, f"{at}.title"),
            leaderboard_task=chk.typed(body.get("leaderboard_task", board), str,
                                       f"{at}.leaderboard_task"),
            classes=classes,
            source=_domain(chk, domains, body["source"], f"{at}.source"),
            targets=tuple(_domain(chk, domains, t, f"{at}.targets") for t in targets),
            config={**defaults, **chk.typed(body.get("config", {}), dict, f"{at}.config")},
            recipes=recipes,
            methods=chk.str_list(body.get("methods", list(methods)), f"{at}.methods"),
            published=_parse_published(chk, body.get("published", []), f"{at}.published"),
            aliases=chk.str_list(body.get("aliases", []), f"{at}.aliases"),
            notes=notes + chk.str_list(body.get("notes", []), f"{at}.notes"),
            sweeps=sweeps,
            sweep=sweep,
        ))
    suites = {
        name: chk.str_list(members, f"suites.{name}")
        for name, members in chk.typed(raw.get("suites", {}), dict, "suites").items()
    }
    return tasks, suites, _parse_board(chk, raw.get("leaderboard", []))


def builtin_task_dir() -> Path:
    """The built-in task files: the YAML beside this module (one copy, in the wheel too)."""
    return Path(__file__).resolve().parent


def task_files(extra: str | None = None) -> list[Path]:
    """Built-in task files, then those named by DABENCH_TASK_PATH (files or folders)."""
    files = sorted(builtin_task_dir().glob("*.yaml"))
    for entry in filter(None, (extra or os.environ.get(TASK_PATH_ENV, "")).split(os.pathsep)):
        path = Path(entry).expanduser()
        if path.is_dir():
            files += sorted(path.glob("*.yaml"))
        elif path.is_file():
            files.append(path)
        else:
            raise DabenchError(f"{TASK_PATH_ENV} names '{entry}', which does not exist; "
                               "point it at task YAML files or folders holding them")
    return files


def build_catalog(files: list[Path]) -> Catalog:
    tasks: dict[str, TaskSpec] = {}
    suites: dict[str, tuple[str, ...]] = {}
    aliases: dict[str, str] = {}
    board: list[BoardRow] = []
    for path in files:
        file_tasks, file_suites, file_board = parse_task_file_full(path)
        board += file_board
        for spec in file_tasks:
            for name in (spec.name, *spec.aliases):
                if name in tasks or name in aliases or name in suites:
                    raise DabenchError(f"task file {path}: task name '{name}' is defined twice")
            tasks[spec.name] = spec
            aliases.update({alias: spec.name for alias in spec.aliases})
        for name, members in file_suites.items():
            if name in suites or name in tasks:
                raise DabenchError(f"task file {path}: suite name '{name}' is defined twice")
            suites[name] = members
    for name, members in suites.items():
        for member in members:
            if member not in tasks and member not in aliases:
                raise DabenchError(f"suite '{name}' names unknown task '{member}'"
                                   f"{suggest(member, sorted(tasks))}")
    for row in board:
        for member in row.tasks:
            if member not in tasks:
                raise DabenchError(f"leaderboard row '{row.dataset}' names unknown task "
                                   f"'{member}'{suggest(member, sorted(tasks))}")
    if board:
        suites.setdefault(LEADERBOARD_SUITE, tuple(dict.fromkeys(
            name for row in board for name in row.tasks)))
    return Catalog(tasks=tasks, suites=suites, aliases=aliases, board=tuple(board))


@lru_cache(maxsize=4)
def _cached_catalog(extra: str) -> Catalog:
    return build_catalog(task_files(extra))


def load_catalog() -> Catalog:
    """All tasks: built-in plus DABENCH_TASK_PATH (cached per value of that variable)."""
    return _cached_catalog(os.environ.get(TASK_PATH_ENV, ""))
