"""Task definitions: the built-in task files (`tasks/*.yaml`) -> validated `TaskSpec`s, suites and lookup.

A task file describes one dataset family: its classes, domains, default run settings, named
recipes, tasks (source -> targets) with published reference values, and suites. A file is read
by `yaml_safe.py` (duplicate keys, alias bombs and deep nesting refused), its `include:`s are
merged (`compose.py`), and the result is validated by the pydantic models of `schema.py`: an
unknown key, a missing field, a wrong type or an unsafe name is one error line naming the file
and the place in it. This module checks what spans a file (domains a task names, the recipe it
selects) and the catalogue (names unique across files). Nothing here imports torch.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dabench.data.images.class_folders import check_class_name
from dabench.data.vectors.options import vector_options_problem
from dabench.errors import DabenchError, clip
from dabench.registry import suggest
from dabench.tasks import catalog_cache
from dabench.tasks.compose import SUFFIXES, is_shared, read_composed
from dabench.tasks.schema import MODALITIES, BoardRow, Published, TaskFile, explain
from dabench.tasks.specs import LEADERBOARD_SUITE, Catalog, Domain, TaskSpec

__all__ = ["BoardRow", "Catalog", "Domain", "LEADERBOARD_SUITE", "MODALITIES", "Published",
           "TASK_PATH_ENV", "TaskSpec", "build_catalog", "builtin_task_dir", "load_catalog",
           "check_shared_file", "parse_task_file", "parse_task_file_full", "read_task_file",
           "task_files"]

TASK_PATH_ENV = "DABENCH_TASK_PATH"


BUILTIN_IN_WHEEL = "builtin"  # the wheel maps the repository's top-level tasks/ to dabench/tasks/builtin/


def builtin_task_dir() -> Path:
    """The built-in task files, one copy read the same way by every install.

    In a wheel they are `dabench/tasks/builtin/` (pyproject maps the repository's `tasks/` there);
    in a source checkout or an editable install they are the repository's top-level `tasks/`.
    """
    here = Path(__file__).resolve().parent
    packaged = here / BUILTIN_IN_WHEEL
    if packaged.is_dir():
        return packaged
    return here.parents[1] / "tasks"


def read_task_file(path: Path) -> TaskFile:
    """One task file, includes merged, validated by the schema; DabenchError naming the file."""
    raw = read_composed(path, builtin_task_dir())
    try:
        return TaskFile.model_validate(raw)
    except ValidationError as exc:
        place, problem = explain(exc.errors(include_url=False))
        raise DabenchError(f"task file {path}: {place}: {problem}") from None


def parse_task_file(path: Path) -> tuple[list[TaskSpec], dict[str, tuple[str, ...]]]:
    """Read one task file; returns its tasks and suites. Raises DabenchError naming the file."""
    tasks, suites, _ = parse_task_file_full(path)
    return tasks, suites


def parse_task_file_full(path: Path) -> tuple[list[TaskSpec], dict[str, tuple[str, ...]],
                                              tuple[BoardRow, ...]]:
    """Tasks, suites and leaderboard rows of one task file."""
    f = read_task_file(path)

    def fail(where: str, problem: str) -> DabenchError:
        return DabenchError(f"task file {path}: {where}: {problem}")

    if len(set(f.classes)) != len(f.classes):
        raise fail("classes", "a class name appears twice")
    if f.modality in ("image", "video"):  # class names name the folders of every domain
        for i, name in enumerate(f.classes):
            try:
                check_class_name(name)
            except DabenchError as exc:
                raise fail(f"classes[{i}]", str(exc)) from None
    domains = {key: Domain(key=key, name=d.name, loader=d.loader, options=dict(d.options))
               for key, d in f.domains.items()}
    for key, d in domains.items():  # what `run` would refuse, `tasks validate` refuses too
        if d.loader == "vectors":
            problem = vector_options_problem(d.options, len(f.classes))
            if problem:
                raise fail(f"domains.{key}.options.{problem[0]}", problem[1])

    def domain(key: str, where: str) -> Domain:
        if key not in domains:
            raise fail(where, f"unknown domain '{clip(key)}'.{suggest(key, sorted(domains))}")
        return domains[key]

    recipes = {name: dict(body) for name, body in f.recipes.items()}
    for name, body in recipes.items():
        if "recipe" in body:
            raise fail(f"recipes.{name}", "a recipe cannot select a recipe; remove 'recipe'")
    _check_methods(fail, "methods", f.methods)
    tasks = []
    for name, t in f.tasks.items():
        at = f"tasks.{name}"
        _check_methods(fail, f"{at}.methods", t.methods or [])
        config = {**f.defaults, **t.config}
        for recipe, body in t.recipes.items():
            if recipe not in recipes:
                raise fail(f"{at}.recipes", f"unknown recipe '{clip(recipe)}'."
                           f"{suggest(recipe, sorted(recipes))} Known: "
                           f"{', '.join(sorted(recipes)) or 'none (the file defines none)'}")
            if "recipe" in body:
                raise fail(f"{at}.recipes.{recipe}", "a recipe cannot select a recipe; "
                           "remove 'recipe'")
        if "recipe" in t.config:
            _check_recipe(fail, f"{at}.config.recipe", t.config["recipe"], recipes)
        elif "recipe" in f.defaults:
            _check_recipe(fail, "defaults.recipe", f.defaults["recipe"], recipes)
        else:
            _check_recipe(fail, at, None, recipes)
        tasks.append(TaskSpec(
            name=name,
            family=f.family,
            file=str(path),
            version=f.version if t.version is None else t.version,
            modality=f.modality,
            dataset=f.dataset,
            title=t.title,
            leaderboard_task=f.leaderboard_task if t.leaderboard_task is None
            else t.leaderboard_task,
            classes=tuple(f.classes),
            source=domain(t.source, f"{at}.source"),
            targets=tuple(domain(key, f"{at}.targets") for key in t.targets),
            config=config,
            recipes={name: {**body, **t.recipes.get(name, {})} for name, body in recipes.items()},
            methods=tuple(f.methods if t.methods is None else t.methods),
            published=tuple(t.published),
            aliases=tuple(t.aliases),
            notes=(*f.notes, *t.notes),
            sweeps={n: {m: dict(g) for m, g in body.items()} for n, body in f.sweeps.items()},
            sweep=f.sweep or "",
        ))
    suites = {name: tuple(members) for name, members in f.suites.items()}
    return tasks, suites, tuple(f.leaderboard)


def _check_methods(fail, where: str, names: list[str]) -> None:
    """The methods a task runs by default must be registered ones."""
    from dabench.methods import METHODS  # here: a catalogue read from the cache needs neither

    for i, name in enumerate(names):
        if name not in METHODS:
            raise fail(f"{where}[{i}]", f"unknown method '{name}'.{suggest(name, METHODS.names())}"
                                        f" Known: {', '.join(METHODS.names())}")


def _check_recipe(fail, where: str, chosen: Any, recipes: dict[str, Any]) -> None:
    """The recipe a task selects (or the default one) must be defined when the file has any;
    a file without recipes may not select one."""
    from dabench.config import RunConfig

    if chosen is None:
        if recipes and RunConfig.recipe not in recipes:
            raise fail(where, f"selects no recipe and the default '{RunConfig.recipe}' is not "
                              f"among the file's recipes ({', '.join(sorted(recipes))}); set "
                              "defaults.recipe")
        return
    if chosen not in recipes:
        known = (f"the file's recipes: {', '.join(sorted(recipes))}" if recipes
                 else "the file defines no recipes")
        raise fail(where, f"unknown recipe '{clip(chosen)}'.{suggest(str(chosen), sorted(recipes))}"
                          f" ({known})")


def task_files(extra: str | None = None) -> list[Path]:
    """Built-in task files, then the folders of `dabench.tasks` entry points (plugins), then
    those named by DABENCH_TASK_PATH (files or folders).

    In a folder, every `*.yaml` and `*.yml` file is a task file, except shared files (names
    starting with `_`), which only `include:` reads."""
    from dabench.plugins import task_folders

    files = _folder_files(builtin_task_dir())
    for folder, _ in task_folders():
        files += _folder_files(folder)
    for entry in filter(None, (extra or os.environ.get(TASK_PATH_ENV, "")).split(os.pathsep)):
        path = Path(entry).expanduser()
        if path.is_dir():
            files += _folder_files(path)
        elif path.is_file():
            if is_shared(path):
                raise DabenchError(f"{TASK_PATH_ENV} names '{clip(entry)}', a shared file (its "
                                   "name starts with '_'); name the task files that include it")
            files.append(path)
        elif path.exists():
            raise DabenchError(f"{TASK_PATH_ENV} names '{clip(entry)}', which is neither a file "
                               "nor a folder; point it at task YAML files or folders holding them")
        else:
            raise DabenchError(f"{TASK_PATH_ENV} names '{clip(entry)}', which does not exist; "
                               "point it at task YAML files or folders holding them")
    seen: set[Path] = set()
    return [p for p in files if not (p.resolve() in seen or seen.add(p.resolve()))]


def _folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix in SUFFIXES and not is_shared(p) and p.is_file())


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
                _check_free(path, "task name", name, tasks, aliases, suites)
            tasks[spec.name] = spec
            aliases.update({alias: spec.name for alias in spec.aliases})
        for name, members in file_suites.items():
            _check_free(path, "suite name", name, tasks, aliases, suites)
            suites[name] = members
    for name, members in suites.items():
        for member in members:
            if member not in tasks and member not in aliases:
                raise DabenchError(f"suite '{name}' names unknown task '{clip(member)}'"
                                   f"{suggest(member, sorted(tasks))}")
    for row in board:
        for member in row.tasks:
            if member not in tasks:
                raise DabenchError(f"leaderboard row '{row.dataset}' names unknown task "
                                   f"'{clip(member)}'{suggest(member, sorted(tasks))}")
    if board:
        suites[LEADERBOARD_SUITE] = tuple(dict.fromkeys(name for row in board for name in row.tasks))
    return Catalog(tasks=tasks, suites=suites, aliases=aliases, board=tuple(board))


def _check_free(path: Path, what: str, name: str, *taken: dict) -> None:
    if name == LEADERBOARD_SUITE:
        raise DabenchError(f"task file {path}: {what} '{name}' is reserved for the built-in "
                           "suite of every leaderboard row; choose another name")
    if any(name in names for names in taken):
        raise DabenchError(f"task file {path}: {what} '{name}' is defined twice (names of "
                           "tasks, aliases and suites are unique across all task files)")


@lru_cache(maxsize=4)
def _cached_catalog(extra: str) -> Catalog:
    files = task_files(extra)
    return catalog_cache.cached(files, builtin_task_dir(), lambda: build_catalog(files))


def load_catalog() -> Catalog:
    """All tasks: built-in plus DABENCH_TASK_PATH (cached per value of that variable in the
    process, and on disk keyed by the files' stat: `catalog_cache.py`)."""
    return _cached_catalog(os.environ.get(TASK_PATH_ENV, ""))


def check_shared_file(path: Path) -> None:
    """A shared (`_*.yaml`) file on its own: YAML and the keys and types it sets (the keys a task
    file must have may come from the file that includes it)."""
    raw = read_composed(path, builtin_task_dir())
    try:
        TaskFile.model_validate(raw)
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False)
                  if not (e["type"] == "missing" and len(e["loc"]) == 1)]
        if errors:
            place, problem = explain(errors)
            raise DabenchError(f"task file {path}: {place}: {problem}") from None
