"""`dabench run`: plan (task, method, seed) runs and train each through the one loop."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dabench.cli.app import Device, _err, app
from dabench.data.paths import data_root_or_env
from dabench.errors import DabenchError


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
    sweep: List[str] = typer.Option([], "--sweep", help="run a grid: KEY=v1,v2,... (repeat for "
                                    "every combination), or a task's named sweep; `none`: "
                                    "no sweep [default: the task's own sweep, if any]"),
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

      dabench run amazon --seeds 0,1,2   (the paper's grid: the task file's sweep)

      dabench run books-to-dvd -m revgrad --sweep grl.weight=0.1,0.6 --sweep backbone.width=50,100

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
    data = data_root_or_env(data_root)
    from dabench.runs.sweep import parse_sweep

    grids = [parse_sweep(s) for s in sweep]
    plan = build_plan(catalog, tasks, method, _parse_seeds(seed, seeds), overrides, grids)
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
