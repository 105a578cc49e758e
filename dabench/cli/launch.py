"""`dabench run --launcher local|slurm` and `--shard i/N`: hand the plan to a launcher.

The serial launcher (the default) trains in this process (`dabench.cli.run._run_plan`); the
others give each run to a `dabench worker` process (dabench/cli/worker.py) and read what happened
back from the runs folder.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from dabench.errors import DabenchError
from dabench.runs.launch.slurm import SlurmOptions


class Launcher(str, Enum):
    serial = "serial"
    local = "local"
    slurm = "slurm"


# The Slurm options, one definition for `dabench run` and `dabench extract-features`
_SLURM = SlurmOptions()
MAX_PARALLEL = typer.Option(_SLURM.max_parallel, "--max-parallel",
                            help="slurm: array tasks at once")
GPUS_PER_JOB = typer.Option(_SLURM.gpus_per_job, "--gpus-per-job",
                            help="slurm: GPUs per array task (0 or 1)")
CPUS_PER_JOB = typer.Option(_SLURM.cpus_per_job, "--cpus-per-job",
                            help="slurm: CPU cores per array task")
MEM_GB = typer.Option(_SLURM.mem_gb, "--mem-gb", help="slurm: memory per array task (GB)")
TIME_MIN = typer.Option(_SLURM.time_min, "--time-min",
                        help="slurm: time limit per job (minutes); a task that needs longer is "
                             "requeued and resumes (a run from its checkpoint)")
PARTITION = typer.Option(None, "--partition", help="slurm: partition")
ACCOUNT = typer.Option(None, "--account", help="slurm: account")
QOS = typer.Option(None, "--qos", help="slurm: quality of service")
EMIT_SBATCH = typer.Option(None, "--emit-sbatch",
                           help="slurm: write a plain array script to FILE instead of submitting")


def check_slurm_only(launcher: Launcher, slurm: SlurmOptions, extra: list[str] = ()) -> None:
    """The Slurm options (those set away from their defaults, and `extra` option names given)
    are errors with another launcher."""
    from dataclasses import fields

    given = [f"--{f.name.replace('_', '-')}" for f in fields(slurm)
             if getattr(slurm, f.name) != f.default] + list(extra)
    if launcher is not Launcher.slurm and given:
        one = len(given) == 1
        raise DabenchError(f"{', '.join(given)} {'belongs' if one else 'belong'} to --launcher "
                           f"slurm; add --launcher slurm or leave {'it' if one else 'them'} out")


@dataclass
class LaunchOptions:
    launcher: Launcher = Launcher.serial
    gpus: Optional[str] = None
    jobs_per_gpu: int = 1
    workers: int = 1
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    emit_sbatch: Optional[Path] = None
    wait: bool = False

    def check(self, force: bool, shard: Optional[str]) -> None:
        """Options that only one launcher understands are errors with the others."""
        if self.launcher is not Launcher.serial and force:
            raise DabenchError("--force works with the serial launcher only (a requeued job "
                               "would start over); delete the run folders to redo them")
        if self.launcher is not Launcher.local and (self.gpus or self.workers != 1
                                                    or self.jobs_per_gpu != 1):
            raise DabenchError("--gpus, --jobs-per-gpu and --workers belong to --launcher local")
        if self.gpus and self.workers != 1:
            raise DabenchError("--workers is for CPU-only machines; with --gpus, set runs per "
                               "GPU with --jobs-per-gpu N")
        check_slurm_only(self.launcher, self.slurm, ["--emit-sbatch"] * bool(self.emit_sbatch)
                         + ["--wait"] * self.wait)
        if self.launcher is Launcher.local:
            from dabench.runs.launch.local import make_slots, parse_gpus

            make_slots(parse_gpus(self.gpus), self.jobs_per_gpu, self.workers)  # validates
        if self.emit_sbatch and shard:
            raise DabenchError("--emit-sbatch writes one array task per run (each a --shard of "
                               "its own); leave --shard out")
        if self.emit_sbatch:
            from dabench.runs.launch.slurm import check_emit_target

            check_emit_target(self.emit_sbatch)
        elif self.launcher is Launcher.slurm:
            from dabench.runs.launch.slurm import require_submitit

            require_submitit()  # submitit and sbatch: checked before anything is written


def dispatch(entries: list, root: Path, data_root: Optional[Path], opts: LaunchOptions,
             rerun: list[str], plan_size: int) -> Optional[list[dict[str, Any]]]:
    """Run `entries` with the chosen launcher; the finished records, or None when the runs
    were only submitted. `rerun` is the `dabench run` command line that rebuilds the whole
    plan (for --emit-sbatch), `plan_size` that plan's length."""
    from dabench.runs import store
    from dabench.runs.launch.outcomes import summary
    from dabench.runs.status import forget_tickets, record_tickets

    if opts.launcher is Launcher.slurm and not opts.emit_sbatch:
        from dabench.runs.launch.slurm import require_submitit

        require_submitit()  # a missing package is reported before anything is written
    pending = [(i, e) for i, e in enumerate(entries) if not store.is_done(
        store.run_dir(root, e.spec.name, e.cfg.method, e.cfg.run_id()))]
    tickets = [e.ticket() for _, e in pending]
    typer.echo(f"{len(entries)} planned run(s), {len(entries) - len(pending)} finished before, "
               f"{len(pending)} to run ({opts.launcher.value} launcher)", err=True)
    if opts.emit_sbatch:
        return _emit_sbatch(opts, rerun, [i for i, _ in pending], plan_size, root)
    written = record_tickets(root, tickets)
    if opts.launcher is Launcher.local:
        from dabench.runs.launch.local import make_slots, parse_gpus, run_pool

        slots = make_slots(parse_gpus(opts.gpus), opts.jobs_per_gpu, opts.workers)
        typer.echo(f"{len(slots)} worker(s), {slots[0].threads} thread(s) each"
                   + (f", GPUs {opts.gpus}" if opts.gpus else ""), err=True)

        def on_outcome(o) -> None:
            typer.echo(f"{o.label}: {o.result}" + (f": {o.reason}" if o.reason else ""), err=True)

        outcomes = run_pool(tickets, root, data_root, slots, on_outcome)
    else:
        from dabench.cli.worker import SlurmRun
        from dabench.runs.launch import slurm

        if not tickets:
            outcomes = []
        else:
            try:
                jobs = slurm.submit(tickets, root, data_root, opts.slurm, SlurmRun())
            except Exception as exc:  # sbatch refused (bad partition, account, ...)
                forget_tickets(written)
                if isinstance(exc, DabenchError):
                    raise
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                raise DabenchError(f"Slurm did not accept the job array: {reason[:300]}; check "
                                   "--partition, --account and --qos (sinfo, sacctmgr show "
                                   "assoc), or write a script with --emit-sbatch FILE",
                                   exit_code=1) from exc
            typer.echo(f"submitted Slurm array job {jobs[0].job_id.split('_')[0]} "
                       f"({len(jobs)} task(s)); follow it with: dabench status --runs-dir "
                       f"{shlex.quote(str(root))}", err=True)
            if not opts.wait:
                return None
            outcomes = slurm.wait(jobs, tickets)
    typer.echo(summary(outcomes), err=True)
    records = _records(root, entries)
    bad = [o for o in outcomes if o.result not in ("done", "skipped", "busy")]
    if bad:
        typer.echo(_table(records), nl=False)
        raise DabenchError(f"{len(bad)} of {len(outcomes)} run(s) did not finish (see above); "
                           "run the same command again to resume them", exit_code=1)
    return records


def _records(root: Path, entries: list) -> list[dict[str, Any]]:
    from dabench.runs import store

    out = []
    for e in entries:
        directory = store.run_dir(root, e.spec.name, e.cfg.method, e.cfg.run_id())
        if store.is_done(directory):
            out.append(json.loads((directory / "result.json").read_text(encoding="utf-8")))
    return out


def _table(records: list[dict[str, Any]]) -> str:
    from dabench.reporting.aggregate import build
    from dabench.reporting.render import render
    from dabench.tasks.catalog import load_catalog

    return render(build(records, load_catalog(), view="runs"), "table") if records else ""


def _emit_sbatch(opts: LaunchOptions, rerun: list[str], pending: list[int], count: int,
                 root: Path) -> None:
    from dabench.atomic import write_atomic
    from dabench.runs.launch.slurm import sbatch_script

    log_dir = root.resolve() / ".slurm"
    text = sbatch_script(rerun, pending, count, opts.slurm, log_dir)
    write_atomic(opts.emit_sbatch, text)
    log_dir.mkdir(parents=True, exist_ok=True)  # sbatch does not make the --output folder
    typer.echo(f"wrote {opts.emit_sbatch} ({len(pending)} array task(s)); submit it with: "
               f"sbatch {shlex.quote(str(opts.emit_sbatch))}", err=True)
    return None
