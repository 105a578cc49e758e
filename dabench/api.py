"""The Python API (`import dabench`): the functions the `dabench` commands are built on.

    import dabench
    records = dabench.run("mnist5k-to-mnistm5k", methods=["source-only", "revgrad"], seeds=[0, 1],
                          sets={"steps": 2000}, runs_dir="runs")
    rows = dabench.report(runs_dir="runs")       # the report's rows, as `report -f json` has them
    tasks = dabench.list_tasks()                 # as `list-tasks -f json`
    spec = dabench.load_task("mnist5k-to-mnistm5k")  # a TaskSpec; load_task_file(path) for a file

`dabench run` plans with `plan()` and trains the plan with `run_plan()` (with a progress bar);
`dabench report` reads the runs with `report_tables()`; `dabench list-tasks` prints
`list_tasks()`. Errors are `dabench.errors.DabenchError` with the CLI's one-line message.
Nothing here imports torch until a run trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Sequence, Union

from dabench.errors import DabenchError

if TYPE_CHECKING:
    from dabench.reporting.aggregate import Table
    from dabench.runs.plan import PlanEntry
    from dabench.tasks.specs import TaskSpec
    from dabench.training.loop import RunOutcome

__all__ = ["list_tasks", "load_plugins", "load_task", "load_task_file", "plan", "report",
           "report_tables", "run", "run_plan"]

Sets = Union[dict[str, Any], Sequence[str], None]  # {"optim.lr": 0.01} or ["optim.lr=0.01"]


def load_plugins(*files: Union[str, Path]) -> None:
    """Import plugin files (and those of $DABENCH_PLUGINS); installed plugins (entry points)
    load by themselves. A file that fails is an error here (its one line)."""
    from importlib.metadata import entry_points

    from dabench import plugins
    from dabench.methods import METHODS

    registries = [METHODS]
    # the loader and backbone registries import torch with their built-ins (their collision
    # check needs them): walk them only when a plugin adds to them, so a dry run stays light
    if entry_points(group=plugins.GROUPS["data loader"]):
        from dabench.data import LOADERS

        registries.append(LOADERS)
    if entry_points(group=plugins.GROUPS["backbone"]):
        from dabench.models.backbones import BACKBONES

        registries.append(BACKBONES)
    for registry in registries:
        registry.names()  # loads each entry-point group: a broken plugin is found here
    plugins.load_files(files)
    plugins.check()


def list_tasks() -> list[dict[str, Any]]:
    """Every task's summary (name, dataset, source, targets, classes, modality, recipes ...)."""
    from dabench.tasks.catalog import load_catalog

    return [spec.summary() for spec in load_catalog().tasks.values()]


def load_task(name: str) -> "TaskSpec":
    """The task `name` (or an alias) of the catalogue (built-in, plugins, $DABENCH_TASK_PATH)."""
    from dabench.tasks.catalog import load_catalog

    return load_catalog().task(name)


def load_task_file(path: Union[str, Path]) -> list["TaskSpec"]:
    """The tasks of one task file, validated (`dabench tasks validate` reads files the same way).
    To run them, put the file on $DABENCH_TASK_PATH."""
    from dabench.tasks.catalog import parse_task_file

    return parse_task_file(Path(path))[0]


def _overrides(sets: Sets) -> dict[str, Any]:
    from dabench.config import parse_sets

    if sets is None:
        return {}
    if isinstance(sets, dict):
        return parse_sets([f"{k}={v}" for k, v in sets.items()])
    if isinstance(sets, str):
        raise DabenchError("sets must be a dict or a list of 'key=value' strings, not a string")
    return parse_sets(list(sets))


def _names(value: Union[str, Iterable[str], None]) -> list[str]:
    return [value] if isinstance(value, str) else list(value or ())


def plan(tasks: Union[str, Iterable[str]], methods: Union[str, Iterable[str], None] = None,
         seeds: Iterable[int] = (0,), sets: Sets = None, sweep: Iterable[str] = (),
         device: Optional[str] = None, plugins: Iterable[Union[str, Path]] = (),
         track: Optional[str] = None) -> list["PlanEntry"]:
    """Every (task, method, seed[, swept setting]) run to do, resolved and checked, without
    training: each entry's `.spec`, `.cfg` (with `.cfg.run_id()`) and `.overrides`.
    `track`: "tensorboard" or "mlflow" streams each run's curves there (the setting `track`)."""
    from dabench.config import check_seed
    from dabench.methods import METHODS
    from dabench.runs.plan import plan_entries
    from dabench.runs.sweep import parse_sweep
    from dabench.tasks.catalog import load_catalog

    load_plugins(*plugins)
    catalog = load_catalog()
    overrides = _overrides(sets)
    if device is not None:  # `--device`; `--set device=...` alone is kept
        if overrides.get("device", device) != device:
            raise DabenchError(f"--device {device} and --set device={overrides['device']} "
                               "disagree; give one of them")
        overrides["device"] = device
    overrides.setdefault("device", "auto")
    if track is not None:
        overrides["track"] = track
    method_list = _names(methods)
    for name in method_list:
        METHODS.get(name)  # an unknown method fails before anything runs
    seed_list = sorted({check_seed(s, "seed") for s in seeds}) or [0]
    grids = [parse_sweep(s) for s in _names(sweep)]
    entries = plan_entries(catalog, _names(tasks), method_list, seed_list, overrides, grids)
    from dabench.training.tracking import check_available

    for kind in {e.cfg.track for e in entries}:
        check_available(kind)  # a missing tracker package: one line before anything runs
    return entries


class Reporter:
    """What `run_plan` says while it trains (the CLI prints a progress bar; the API: nothing)."""

    def start(self, label: str, total: int) -> Optional[Callable[[int, int, dict], None]]:
        """A run starts; returns its progress callback (step, total, latest numbers) or None."""
        return None

    def finished(self, label: str, outcome: "RunOutcome") -> None: ...

    def busy(self, label: str, why: str) -> None: ...

    def failed(self, label: str, error: Exception) -> None: ...


def run_plan(entries: Sequence["PlanEntry"], runs_dir: Union[str, Path, None] = None,
             data_root: Union[str, Path, None] = None, force: bool = False,
             reporter: Optional[Reporter] = None) -> list[dict[str, Any]]:
    """Train each planned run in this process (a finished one is skipped unless `force`, an
    unfinished one resumes); returns the result records. A run that fails does not stop the
    others; with one or more failed, DabenchError after the rest (one run: its own error)."""
    from dabench.data.paths import data_root_or_env
    from dabench.runs import store
    from dabench.runs.lock import LockHeld, describe
    from dabench.training import loop as train

    reporter = reporter or Reporter()
    root = store.runs_root(runs_dir)
    store.ensure_writable(root)
    data = data_root_or_env(Path(data_root) if data_root else None)
    records: list[dict[str, Any]] = []
    failures: list[str] = []
    for i, entry in enumerate(entries, start=1):
        spec, cfg = entry.spec, entry.cfg
        label = f"[{i}/{len(entries)}] {spec.name} {cfg.method} seed {cfg.seed}"
        on_progress = reporter.start(label, cfg.steps)
        try:
            outcome = train.run(spec, cfg, root, data, force, on_progress)
        except LockHeld as exc:  # another process trains it (a launcher, another host)
            reporter.busy(label, describe(exc.owner))
            continue
        except train.RunFailed as exc:  # this run failed; the others still run
            if len(entries) == 1:
                raise
            failures.append(f"{label}: {exc}")
            reporter.failed(label, exc)
            continue
        reporter.finished(label, outcome)
        records.append(outcome.record)
    if failures:
        rest = (f"the other {len(records)} finished and are in the report" if records else
                "none finished")
        raise DabenchError(f"{len(failures)} of {len(entries)} run(s) failed (see above); {rest}",
                           exit_code=1)
    return records


def run(tasks: Union[str, Iterable[str]], methods: Union[str, Iterable[str], None] = None,
        seeds: Iterable[int] = (0,), sets: Sets = None, sweep: Iterable[str] = (),
        runs_dir: Union[str, Path, None] = None, data_root: Union[str, Path, None] = None,
        device: str = "auto", force: bool = False, plugins: Iterable[Union[str, Path]] = (),
        track: Optional[str] = None, reporter: Optional[Reporter] = None
        ) -> list[dict[str, Any]]:
    """`dabench run` in this process: plan (`plan`) and train (`run_plan`); returns one result
    record per run (what its result.json holds: accuracies, config, run_id, ...)."""
    entries = plan(tasks, methods, seeds, sets, sweep, device, plugins, track)
    return run_plan(entries, runs_dir, data_root, force, reporter)


def load_runs(runs_dir: Union[str, Path, None] = None, damaged: Optional[list[str]] = None
              ) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    """(finished run records, unfinished runs skipped, failed runs) of the runs folder; an
    error when nothing has finished. `damaged`, a list, gets one line per damaged folder."""
    from dabench.runs import store

    root = store.runs_root(runs_dir)
    damaged = [] if damaged is None else damaged
    records, unfinished = store.load_records(root, damaged)
    failed = store.load_failed(root)
    if not records:
        raise DabenchError(f"no finished runs in {root}{_why_none(failed, damaged)}")
    return records, unfinished, failed


def check_selectable(records: list[dict[str, Any]], select: str) -> None:
    """An error (not an empty table) when no finished run has what `select` reads."""
    from dabench.analysis.selection import select as choose

    chosen, notes = choose(records, select)
    if not chosen:
        raise DabenchError(f"--select {select}: none of the {len(records)} finished run(s) can "
                           f"be reported with it: {notes[0] if notes else 'no usable runs'}; "
                           "or use --select last")


def failure_notes(failed: list[dict[str, Any]]) -> list[str]:
    return [f"FAILED: {f['task']} {f['method']} seed {f['seed']}: {f['error']}" for f in failed]


def report_tables(runs_dir: Union[str, Path, None] = None, select: str = "last",
                  view: str = "auto", damaged: Optional[list[str]] = None
                  ) -> tuple[list["Table"], int, list[dict]]:
    """(the report's tables, unfinished runs skipped, failed runs): see `load_runs`."""
    from dabench.reporting.aggregate import SELECTIONS, VIEWS, build
    from dabench.tasks.catalog import load_catalog

    for name, value, known in (("select", select, tuple(SELECTIONS)), ("view", view, VIEWS)):
        if value not in known:
            raise DabenchError(f"{name} '{value}' is not one of {', '.join(known)}")
    records, unfinished, failed = load_runs(runs_dir, damaged)
    check_selectable(records, select)
    return build(records, load_catalog(), select, view, failure_notes(failed)), unfinished, failed


def report(runs_dir: Union[str, Path, None] = None, select: str = "last",
           view: str = "auto") -> list[dict[str, Any]]:
    """The report's rows as plain data (what `dabench report --format json` prints): task,
    dataset, model, value, n, std, published, delta, method, seeds, ..."""
    tables, _, _ = report_tables(runs_dir, select, view)
    return [row for table in tables for row in table.records]


def _why_none(failed: list[dict], damaged: list[str]) -> str:
    """The rest of the one-line error when nothing is finished: the failures and damaged
    folders (one line, each shortened), or how to get a first run."""
    parts = [f"{f['task']} {f['method']} seed {f['seed']} failed: {str(f['error'])[:120]}"
             for f in failed[:3]]
    parts += [d[:200] for d in damaged[:3]]
    more = len(failed) + len(damaged) - len(parts)
    if not parts:
        return ("; run e.g. `dabench run mnist5k-to-mnistm5k` first, or point --runs-dir at your "
                "results folder")
    return "; " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "") + \
        "; fix the cause and run the same command again"
