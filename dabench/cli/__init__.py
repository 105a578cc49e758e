"""The `dabench` command line: parses, dispatches, prints. No training or table logic here.

Heavy modules (torch, the training loop) are imported inside the commands that need them, so
`dabench list-tasks` and `dabench report` start fast.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional


import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click; older releases use the click package
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import UsageError

from dabench.errors import DabenchError
from dabench.reporting.render import FORMATS
from dabench.reporting.aggregate import SELECTIONS, VIEWS

DATA_ENV = "DABENCH_DATA"



class _Group(TyperGroup):
    """Turns user errors into one line on stderr and an exit code, never a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DabenchError as exc:
            _err(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except UsageError as exc:  # unknown command/option, bad option value: one line too
            where = exc.ctx.command_path if exc.ctx else "dabench"
            _err(f"{exc.format_message()} (see '{where} --help')")
            raise typer.Exit(2) from None
        except OSError as exc:  # disk full, permission denied, read-only file system, ...
            _err(f"cannot write or read {exc.filename or 'a file'}: {exc.strerror or exc}; "
                 "check free space and permissions, or choose another --runs-dir")
            raise typer.Exit(2) from None
        except ModuleNotFoundError as exc:
            _err(f"missing dependency '{exc.name}'; install it: pip install {exc.name}")
            raise typer.Exit(3) from None
        except KeyboardInterrupt:
            _err("interrupted; unfinished runs keep their last checkpoint: run the same command "
                 "again to resume")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Group,
    name="dabench",
    help="Benchmarks for domain-adversarial adaptation (RevGrad / DANN).\n\n"
         "Examples:\n\n"
         "  dabench list-tasks\n\n"
         "  dabench run mnist-to-mnistm --seed 0 --seed 1 --seed 2\n\n"
         "  dabench report --format md",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _mount_subcommands() -> None:
    from dabench.cli.data import data_app
    from dabench.cli.features import app as features_app
    from dabench.cli.plot import plot_app

    app.add_typer(data_app, name="data")
    app.add_typer(plot_app, name="plot")
    app.add_typer(features_app)  # `dabench extract-features` at the top level


def _choices(name: str, values) -> type[Enum]:
    """A str Enum for typer from a tuple of names defined where they are implemented."""
    return Enum(name, {v: v for v in values}, type=str)


ListFormat = _choices("ListFormat", ("table", "json"))
ReportFormat = _choices("ReportFormat", FORMATS)
View = _choices("View", VIEWS)
Select = _choices("Select", tuple(SELECTIONS))
Device = _choices("Device", ("auto", "cpu", "cuda"))


def _err(message: str) -> None:
    typer.echo(f"dabench: error: {message}", err=True)


@app.command("list-tasks")
def list_tasks(fmt: ListFormat = typer.Option("table", "--format", "-f",
                                              help="table or json")) -> None:
    """List the benchmark tasks and suites.

    Example: dabench list-tasks --format json
    """
    from dabench.tasks.catalog import load_catalog

    catalog = load_catalog()
    summaries = [spec.summary() for spec in catalog.tasks.values()]
    if fmt.value == "json":
        typer.echo(json.dumps(summaries, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dabench tasks")
    for col in ("Task", "Dataset", "Source -> Target(s)", "Classes", "Modality"):
        table.add_column(col)
    for s in summaries:
        table.add_row(s["name"], s["dataset"], f"{s['source']} -> {', '.join(s['targets'])}",
                      str(s["num_classes"]), s["modality"])
    console = Console()
    console.print(table)
    for name, members in catalog.suites.items():
        console.print(f"suite [bold]{name}[/bold]: {' '.join(members)}")


def _parse_seeds(seeds: List[int], seed_list: Optional[str]) -> List[int]:
    out = list(seeds)
    if seed_list:
        try:
            out += [int(s) for s in seed_list.split(",") if s.strip()]
        except ValueError:
            raise DabenchError(f"--seeds '{seed_list}' must be comma-separated integers, "
                               "for example --seeds 0,1,2") from None
    return sorted(set(out)) or [0]


@app.command()
def run(
    tasks: List[str] = typer.Argument(..., help="task or suite names (see list-tasks)"),
    method: List[str] = typer.Option([], "--method", "-m",
                                     help="method(s); default: the task's own list"),
    seed: List[int] = typer.Option([], "--seed", "-s", help="seed(s); repeatable"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="comma-separated seeds: 0,1,2"),
    sets: List[str] = typer.Option([], "--set", help="override a setting: key=value"),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir",
                                            help="results folder [default: $DABENCH_RUNS or ./runs]"),
    data_root: Optional[Path] = typer.Option(None, "--data-root",
                                             help="datasets folder [default: $DABENCH_DATA]"),
    device: Device = typer.Option("auto", "--device", help="auto, cpu or cuda"),
    force: bool = typer.Option(False, "--force", help="rerun finished runs"),
) -> None:
    """Train and evaluate every (task, method, seed), then print what ran.

    Examples:

      dabench run mnist-to-mnistm

      dabench run mnist-to-mnistm --method revgrad --seeds 0,1,2 --set steps=3000

    A finished run (same resolved config) is skipped unless --force.
    """
    from dabench.runs import store as results
    from dabench.config import parse_sets
    from dabench.training.methods import METHODS
    from dabench.runs.plan import build_plan
    from dabench.reporting.render import render
    from dabench.reporting.aggregate import build
    from dabench.tasks.catalog import load_catalog

    catalog = load_catalog()
    overrides = parse_sets(sets)
    overrides["device"] = device.value
    for name in method:
        METHODS.get(name)  # fail on an unknown method before any training starts
    root = results.runs_root(runs_dir)
    results.ensure_writable(root)
    data = data_root or (Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
    plan = build_plan(catalog, tasks, method, _parse_seeds(seed, seeds), overrides)
    records = _run_plan(plan, root, data, force)
    typer.echo(render(build(records, catalog, view="runs"), "table"), nl=False)
    typer.echo(f"results in {root}", err=True)


def _run_plan(plan: list, root: Path, data_root: Optional[Path], force: bool) -> list[dict]:
    """Run each (task, config) with a progress bar on stderr when it is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from dabench.training import loop as train

    console = Console(stderr=True)
    records: list[dict] = []
    failures: list[str] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), console=console,
                  disable=not console.is_terminal) as progress:
        for i, (spec, cfg) in enumerate(plan, start=1):
            label = f"[{i}/{len(plan)}] {spec.name} {cfg.method} seed {cfg.seed}"
            bar = progress.add_task(label, total=cfg.steps, info="")

            def on_progress(step: int, total: int, numbers: dict, bar=bar) -> None:
                info = " ".join(f"{k}={v:.3f}" for k, v in numbers.items() if k in
                                {"loss", "target_acc"})
                progress.update(bar, completed=step, info=info)

            try:
                outcome = train.run(spec, cfg, root, data_root, force, on_progress)
            except train.RunFailed as exc:  # this run failed; the others still run
                failures.append(f"{label}: {exc}")
                _err(f"{label}: {exc}")
                continue
            progress.update(bar, completed=cfg.steps)
            status = "skipped (finished before)" if outcome.skipped else "done"
            typer.echo(f"{label}: target acc {100 * outcome.record['target_acc_last']:.2f}% "
                       f"[{status}] {outcome.directory}", err=True)
            records.append(outcome.record)
    if failures:
        raise DabenchError(f"{len(failures)} of {len(plan)} run(s) failed (see above); the "
                           "others finished and are in the report", exit_code=1)
    return records


@app.command()
def report(
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir",
                                            help="results folder [default: $DABENCH_RUNS or ./runs]"),
    fmt: ReportFormat = typer.Option("table", "--format", "-f",
                                     help="table, md, csv, json or latex"),
    select: Select = typer.Option("last", "--select",
                                  help="last (no target labels) or oracle (best target epoch)"),
    view: View = typer.Option("auto", "--view", help="leaderboard (the public rows), suite "
                              "(tasks as columns + Avg), runs (one row per model and task); "
                              "auto: leaderboard when its runs exist, else runs"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write to this file"),
) -> None:
    """Print the leaderboard-style table of the finished runs in the results folder.

    Examples:

      dabench report

      dabench report --format md --select oracle --out results.md

      dabench report --view suite --format latex
    """
    from dabench.runs import store as results
    from dabench.reporting.render import render
    from dabench.reporting.aggregate import build
    from dabench.tasks.catalog import load_catalog

    root = results.runs_root(runs_dir)
    records, unfinished = results.load_records(root)
    failed = results.load_failed(root)
    if not records:
        raise DabenchError(f"no finished runs in {root}; run e.g. `dabench run mnist-to-mnistm` "
                           "first, or point --runs-dir at your results folder")
    notes = [f"FAILED: {f['task']} {f['method']} seed {f['seed']}: {f['error']}" for f in failed]
    text = render(build(records, load_catalog(), select.value, view.value, notes), fmt.value)
    if unfinished:
        typer.echo(f"skipped {unfinished} unfinished run(s) in {root}"
                   f"{f', {len(failed)} of them failed' if failed else ''}", err=True)
    if out:
        from dabench.runs.store import write_atomic

        try:
            write_atomic(out, text)
        except OSError as exc:
            raise DabenchError(f"cannot write {out} ({exc.strerror}); choose another --out") from None
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text, nl=False)


_mount_subcommands()


def main() -> None:
    import logging

    logging.basicConfig(format="dabench: %(message)s", level=logging.WARNING)
    app()
