"""`dabench run`: plan (task, method, seed) runs and train each through the one loop."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

import typer

from dabench.cli.app import DATA_ROOT, PLUGIN, Device, _choices, _err, app
from dabench.cli.launch import (ACCOUNT, CPUS_PER_JOB, EMIT_SBATCH, GPUS_PER_JOB, MAX_PARALLEL,
                                MEM_GB, PARTITION, QOS, TIME_MIN, LaunchOptions, Launcher,
                                dispatch)
from dabench.runs.launch.slurm import SlurmOptions
from dabench.training.tracking import TRACKERS
from dabench.data.paths import data_root_or_env
from dabench.errors import DabenchError

DryRunFormat = _choices("DryRunFormat", ("text", "json"))


Track = _choices("Track", TRACKERS)


def _parse_seeds(seeds: List[int], seed_list: Optional[str]) -> List[int]:
    from dabench.config import check_seed

    out = [check_seed(s, "--seed") for s in seeds]
    if seed_list:
        try:
            listed = [int(s) for s in seed_list.split(",") if s.strip()]
        except ValueError:
            raise DabenchError(f"--seeds '{seed_list}' must be comma-separated integers, "
                               "for example --seeds 0,1,2") from None
        out += [check_seed(s, "--seeds") for s in listed]
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
    data_root: Optional[Path] = DATA_ROOT,
    device: Optional[Device] = typer.Option(None, "--device", show_default=False,
                                            help="auto, cpu or cuda [default: auto, or what "
                                                 "--set device=... says]"),
    force: bool = typer.Option(False, "--force", help="rerun finished runs"),
    launcher: Launcher = typer.Option("serial", "--launcher",
                                      help="serial (this process), local (a pool of worker "
                                           "processes) or slurm (a job array)"),
    shard: Optional[str] = typer.Option(None, "--shard",
                                        help="i/N: run only slice i of N of the plan"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="local: GPU ids, e.g. 0,1,2,3"),
    jobs_per_gpu: int = typer.Option(1, "--jobs-per-gpu", help="local: runs per GPU at once"),
    workers: int = typer.Option(1, "--workers", help="local, CPU only: runs at once"),
    max_parallel: int = MAX_PARALLEL,
    gpus_per_job: int = GPUS_PER_JOB,
    cpus_per_job: int = CPUS_PER_JOB,
    mem_gb: float = MEM_GB,
    time_min: int = TIME_MIN,
    partition: Optional[str] = PARTITION,
    account: Optional[str] = ACCOUNT,
    qos: Optional[str] = QOS,
    emit_sbatch: Optional[Path] = EMIT_SBATCH,
    wait: bool = typer.Option(False, "--wait", help="slurm: wait for the jobs to end"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print every planned (task, method, "
                                 "seed) with its run id and resolved settings; read no data, "
                                 "write nothing"),
    fmt: DryRunFormat = typer.Option("text", "--format", help="with --dry-run: text or json"),
    plugin: List[Path] = PLUGIN,
    track: Track = typer.Option("none", "--track", help="stream each run's curves, settings "
                                "and result to tensorboard (event files in the run folder) or "
                                "mlflow (RUNS/mlruns, or $MLFLOW_TRACKING_URI)"),
) -> None:
    """Train and evaluate every (task, method, seed), then print what ran.

    Examples:

      dabench run mnist5k-to-mnistm5k

      dabench run mnist5k-to-mnistm5k --method revgrad --seeds 0,1,2 --set steps=3000

      dabench run amazon --seeds 0,1,2   (the paper's grid: the task file's sweep)

      dabench run books-to-dvd -m revgrad --sweep grl.weight=0.1,0.6 --sweep backbone.width=50,100

      dabench run digits --seeds 0,1,2 --launcher local --workers 2

      dabench run leaderboard --launcher local --gpus 0,1,2,3 --jobs-per-gpu 2

      dabench run office31 --launcher slurm --gpus-per-job 1 --partition gpu

      dabench run office31 --shard 3/8

      dabench run office31-a-to-d --set recipe=cdan --dry-run --format json

      dabench run mnist5k-to-mnistm5k -m revgrad -m mine --plugin my_method.py

    A finished run (same resolved config) is skipped unless --force.
    """
    from dabench import api, plugins
    from dabench.reporting.aggregate import build
    from dabench.reporting.render import render
    from dabench.runs import store as results
    from dabench.runs.plan import parse_shard, shard as take_shard
    from dabench.tasks.catalog import load_catalog

    seed_list = _parse_seeds(seed, seeds)
    opts = LaunchOptions(launcher, gpus, jobs_per_gpu, workers, SlurmOptions(
        max_parallel, gpus_per_job, cpus_per_job, mem_gb, time_min, partition, account, qos),
        emit_sbatch, wait)
    opts.check(force, shard)
    # every setting is checked (resolved into the plan) before anything is created; a broken
    # plugin stops it here too
    entries = api.plan(tasks, method, seed_list, sets, sweep, device.value if device else None,
                       plugin, None if track.value == "none" else track.value)
    catalog = load_catalog()
    for spec in {e.spec.name: e.spec for e in entries}.values():
        if spec.same_domain_warning():
            logging.getLogger("dabench").warning("warning: %s", spec.same_domain_warning())
    if dry_run:
        _print_plan(take_shard(entries, *parse_shard(shard)) if shard else entries, fmt.value)
        return
    if fmt.value != "text":
        raise DabenchError("--format applies to --dry-run only; add --dry-run or drop --format")
    root = results.runs_root(runs_dir)
    if emit_sbatch:  # its log folder is written into the script: refuse it before creating it
        from dabench.runs.launch.slurm import check_script_text

        check_script_text("--runs-dir", str(root.resolve()))
    results.ensure_writable(root)
    data = data_root_or_env(data_root)
    plan_size = len(entries)
    if shard:
        entries = take_shard(entries, *parse_shard(shard))
    if launcher is Launcher.serial:
        records = _run_plan(entries, root, data, force)
    else:
        rerun = _command_line(tasks, method, seed_list, sets, str(entries[0].overrides["device"])
                              if entries else "auto", root, data, sweep,
                              plugins.loaded_files(), track.value)
        records = dispatch(entries, root, data, opts, rerun, plan_size)
        if records is None:  # submitted, not waited for
            return
    typer.echo(render(build(records, catalog, view="runs"), "table"), nl=False)
    typer.echo(f"results in {root}", err=True)


def _print_plan(entries: list, fmt: str) -> None:
    """--dry-run: the plan, described (dabench.runs.plan.describe), on stdout."""
    import json

    from dabench.runs.plan import describe, describe_text

    described = describe(entries)
    typer.echo(json.dumps(described, indent=2, sort_keys=True) if fmt == "json" else
               describe_text(described), nl=fmt == "json")


def _command_line(tasks: List[str], methods: List[str], seeds: List[int], sets: List[str],
                  device: str, root: Path, data: Optional[Path],
                  sweeps: List[str] = (), plugin_files: List[str] = (),
                  track: str = "none") -> List[str]:
    """The `dabench run` command that rebuilds this plan (absolute folders), for a script."""
    out = ["dabench", "run", *tasks]
    for p in plugin_files:
        out += ["--plugin", p]
    for m in methods:
        out += ["--method", m]
    out += ["--seeds", ",".join(str(s) for s in seeds)]
    for s in sets:
        out += ["--set", s]
    for s in sweeps:
        out += ["--sweep", s]
    if track != "none":
        out += ["--track", track]
    out += ["--device", device, "--runs-dir", str(root.resolve())]
    return out + (["--data-root", str(data.resolve())] if data else [])


def _run_plan(entries: list, root: Path, data_root: Optional[Path], force: bool) -> list[dict]:
    """`dabench.api.run_plan` with a progress bar on stderr when it is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from dabench.api import Reporter, run_plan

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), console=console,
                  disable=not console.is_terminal) as progress:

        class Bar(Reporter):
            def start(self, label: str, total: int):
                self.bar = bar = progress.add_task(label, total=total, info="")
                self.total = total

                def on_progress(step: int, total: int, numbers: dict) -> None:
                    info = " ".join(f"{k}={v:.3f}" for k, v in numbers.items() if k in
                                    {"loss", "target_acc"})
                    progress.update(bar, completed=step, info=info)
                return on_progress

            def finished(self, label: str, outcome) -> None:
                progress.update(self.bar, completed=self.total)
                status = "skipped (finished before)" if outcome.skipped else "done"
                typer.echo(f"{label}: target acc {100 * outcome.record['target_acc_last']:.2f}% "
                           f"[{status}] {outcome.directory}", err=True)

            def busy(self, label: str, why: str) -> None:
                typer.echo(f"{label}: running elsewhere ({why}); skipped", err=True)

            def failed(self, label: str, error: Exception) -> None:
                _err(f"{label}: {error}")

        return run_plan(entries, root, data_root, force, Bar())
