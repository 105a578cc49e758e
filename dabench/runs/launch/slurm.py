"""The Slurm launcher: one job array, through submitit, or a plain script.

`submit_array` hands one argument tuple per array task to submitit's `SlurmExecutor.map_array`
(`--array=0-(n-1)%max_parallel`); the callable is `Requeueable`, so submitit requeues the task on
preemption or time-out (it signals the job `signal_delay_s` before the end) and the requeued task
starts the callable again, which resumes what it does. `dabench run` submits one task per pending
run (`submit`, each running `dabench.cli.worker.SlurmRun`, which resumes the run from its
checkpoint); `dabench extract-features` one task per shard (`SlurmCommand`: a `dabench` command
line, which skips what the cache holds already). `array_script` writes the same kind of array as a
plain script for clusters where submitit cannot be installed: array task k runs
`COMMAND --shard k/N`.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from dabench.errors import DabenchError, clip
from dabench.runs.launch.outcomes import EXIT_CODES, Outcome, from_returncode, last_error

try:  # a Slurm job that is preempted or runs out of time is requeued by submitit
    from submitit.helpers import Checkpointable as Requeueable
except ImportError:  # pragma: no cover - submitit is the optional [slurm] extra
    Requeueable = object

SIGNAL_DELAY_S = 120  # warn a job this long before its time limit: time to checkpoint


@dataclass(frozen=True)
class SlurmOptions:
    max_parallel: int = 64
    gpus_per_job: int = 0
    cpus_per_job: int = 4
    mem_gb: float = 16
    time_min: int = 120
    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None

    def __post_init__(self) -> None:
        """Refuse what Slurm would refuse, or what would change the emitted script: counts out
        of range, and names holding anything but the characters of a Slurm name (a newline
        would end the `#SBATCH` line and start a shell command)."""
        ranges = {"max_parallel": (1, None), "gpus_per_job": (0, 1), "cpus_per_job": (1, None),
                  "time_min": (1, None)}
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not isinstance(value, int) or value < low or (high is not None and value > high):
                allowed = f"{low} or {high}" if high == low + 1 else f"an integer >= {low}"
                why = " (a run uses one GPU)" if name == "gpus_per_job" else ""
                raise DabenchError(f"{_flag(name)} {clip(value)} is out of range: give "
                                   f"{allowed}{why}")
        if not (isinstance(self.mem_gb, (int, float)) and math.isfinite(self.mem_gb)
                and self.mem_gb * 1024 >= 1):
            raise DabenchError(f"--mem-gb {clip(self.mem_gb)} is out of range: give the memory "
                               "per array task in GB, a number > 0 (e.g. --mem-gb 16)")
        for name in ("partition", "account", "qos"):
            value = getattr(self, name)
            if value is not None:
                check_slurm_name(_flag(name), value)

    def sbatch_flags(self) -> dict[str, Any]:
        """sbatch flags (without --array) common to submitit and the plain script."""
        flags: dict[str, Any] = {"cpus-per-task": self.cpus_per_job, "mem": _mem(self.mem_gb),
                                 "time": self.time_min, "requeue": True}
        if self.gpus_per_job:
            flags["gpus-per-node"] = self.gpus_per_job
        for key in ("partition", "account", "qos"):
            if getattr(self, key):
                flags[key] = getattr(self, key)
        return flags


# Slurm partition, account and QOS names (a partition may be a comma-separated list)
_SLURM_NAME = re.compile(r"[A-Za-z0-9_.+@:-]+(,[A-Za-z0-9_.+@:-]+)*")


def _flag(field_name: str) -> str:
    return f"--{field_name.replace('_', '-')}"


def check_slurm_name(option: str, value: str) -> str:
    """`value` when it is a Slurm name (letters, digits and _ . + @ : -, comma-separated);
    otherwise an error naming `option`: nothing else is written into a script."""
    if not _SLURM_NAME.fullmatch(value):
        raise DabenchError(f"{option} '{clip(value)}' is not a Slurm name: use letters, digits "
                           "and _ . + @ : - only (a comma separates several); spaces, quotes, "
                           "newlines and shell characters are refused because the value is "
                           "written into the job script")
    return value


def check_script_text(option: str, value: str) -> str:
    """`value` (a path written into the script) when it is one printable line; otherwise an
    error naming `option` (a newline would end the `#SBATCH` line and start a command)."""
    if not value.isprintable():
        raise DabenchError(f"{option} '{clip(value)}' holds a newline or another control "
                           "character, which cannot be written into a Slurm script; choose a "
                           "path without one")
    return value


def _mem(gb: float) -> str:
    return f"{int(gb)}GB" if gb == int(gb) else f"{int(gb * 1024)}MB"


def require_submitit():
    """submitit, and Slurm's commands on PATH: an error naming what is missing (before the
    caller writes anything)."""
    try:
        import submitit
    except ImportError:
        raise DabenchError("--launcher slurm needs the 'submitit' package; run: pip install "
                           "'dabench[slurm]' (or write a plain script with --emit-sbatch FILE)",
                           exit_code=3) from None
    missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
    if missing:
        raise DabenchError(f"--launcher slurm submits jobs with Slurm's {' and '.join(missing)}, "
                           "which this machine does not have on PATH; run the command on a "
                           "Slurm login node, or write a script to submit there with "
                           "--emit-sbatch FILE", exit_code=3)
    return submitit


def submit_array(fn: Callable[..., str], args: list[list[Any]], folder: Path,
                 opts: SlurmOptions) -> list[Any]:
    """Submit one array job whose task k calls `fn(args[0][k], args[1][k], ...)`; returns
    submitit's jobs, one per task. submitit's files and logs go to `folder/<job id>/`."""
    submitit = require_submitit()
    executor = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=20)
    executor.update_parameters(
        job_name="dabench", cpus_per_task=opts.cpus_per_job, mem=opts.sbatch_flags()["mem"],
        time=opts.time_min, array_parallelism=opts.max_parallel, stderr_to_stdout=True,
        signal_delay_s=SIGNAL_DELAY_S, partition=opts.partition, account=opts.account,
        qos=opts.qos, gpus_per_node=opts.gpus_per_job or None,
        additional_parameters={"requeue": True})
    return executor.map_array(fn, *args)


def submit(tickets: list[dict[str, Any]], root: Path, data_root: Optional[Path],
           opts: SlurmOptions, fn: Callable[..., str]) -> list[Any]:
    """One array task per run ticket, each calling `fn(ticket, runs dir, data root, threads)`.
    Logs go to `<runs>/.slurm/`."""
    n = len(tickets)
    data = str(data_root) if data_root else None
    return submit_array(fn, [tickets, [str(root)] * n, [data] * n, [opts.cpus_per_job] * n],
                        root / ".slurm", opts)


class SlurmCommand(Requeueable):
    """An array task that runs one `dabench` command line (the ticket's `argv`) in a child
    process, its output appended to the ticket's `log`; returns the outcome's name
    (EXIT_CODES). When Slurm stops the task (requeue, preemption, time limit), the child is
    stopped and this task exits leaving no result, so the result submitit reads is that of the
    requeued task, which runs the command again."""

    def __call__(self, ticket: dict[str, Any]) -> str:
        from dabench.runs.lock import slurm_job

        log = Path(ticket["log"])
        log.parent.mkdir(parents=True, exist_ok=True)
        stopping: list[int] = []
        proc: Optional[subprocess.Popen] = None

        def stop(signum: int, _frame: object) -> None:
            stopping.append(signum)
            if proc is not None:
                proc.terminate()

        if threading.current_thread() is threading.main_thread():
            # scancel, preemption and `scontrol requeue` send SIGTERM: pass it on
            signal.signal(signal.SIGTERM, stop)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} started (Slurm job "
                     f"{slurm_job()})\n")
            fh.flush()
            proc = subprocess.Popen([sys.executable, "-m", "dabench", *ticket["argv"]],
                                    stdout=fh, stderr=subprocess.STDOUT)
            if stopping:  # the signal came before the command started
                proc.terminate()
            try:
                code = proc.wait()
            except BaseException:  # submitit's time-limit handler requeues the task and exits
                proc.terminate()
                proc.wait()
                raise
        if stopping:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_CODES["interrupted"])
        return from_returncode(ticket, code, log).result


def wait(jobs: list[Any], tickets: list[dict[str, Any]], poll_s: float = 2.0,
         sacct_every_s: float = 30.0) -> list[Outcome]:
    """Block until every job has ended (a result file, or an end state in sacct, which is
    asked once every `sacct_every_s` for the whole array); one outcome per ticket (with the
    last error of the ticket's `log`, when it has one, for what did not finish)."""
    asked = 0.0
    while True:
        if jobs and time.time() - asked > sacct_every_s:
            jobs[0].watcher.update()
            asked = time.time()
        if all(job.done() for job in jobs):
            break
        time.sleep(poll_s)
    out = []
    for job, ticket in zip(jobs, tickets):
        log = Path(ticket["log"]) if "log" in ticket else None
        try:
            result = job.result()
        except Exception as exc:  # submitit raises the job's failure, whatever its type
            reason = str(exc).strip().splitlines()
            out.append(Outcome(ticket, "crashed", (reason[-1] if reason else type(exc).__name__)
                               [:300] + f" (job {job.job_id})", log))
            continue
        reason = "" if result in ("done", "skipped") else last_error(log)
        out.append(Outcome(ticket, result, reason, log))
    return out


def array_ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8' (Slurm's --array list syntax)."""
    parts, start = [], None
    for i, k in enumerate(indices):
        if start is None:
            start = k
        if i + 1 == len(indices) or indices[i + 1] != k + 1:
            parts.append(f"{start}-{k}" if k != start else str(k))
            start = None
    return ",".join(parts)


def array_script(command: list[str], indices: list[int], count: int, opts: SlurmOptions,
                 log_dir: Path, header: list[str], comment: str, unit: str,
                 log_from: str = "--runs-dir") -> str:
    """A plain array script: task k runs `command --shard k/count`, only the tasks of `indices`
    are submitted. `header` and `comment` are comment lines (without '# '; a control character
    in them is escaped, so a comment stays one line). `log_from` names the option `log_dir`
    comes from (for the error when it cannot be written into the script). On the time-limit
    warning the script stops the command (SIGTERM: a run checkpoints, a shard keeps what it has
    cached) and requeues its own task, which then resumes it."""
    flags = {**opts.sbatch_flags(), "job-name": "dabench",
             "array": f"{array_ranges(indices)}%{opts.max_parallel}",
             "output": str(log_dir / "%A_%a.log"), "signal": f"B:USR1@{SIGNAL_DELAY_S}"}
    check_script_text(log_from, str(log_dir))
    lines = ["#!/bin/bash", *(f"# {_escaped(line)}" for line in header)]
    for key in sorted(flags):
        value = flags[key]
        if not str(value).isprintable():  # defence in depth: SlurmOptions refuses these
            raise DabenchError(f"--{key} '{clip(value)}' cannot be written into a Slurm script")
        lines.append(f"#SBATCH --{key}" if value is True else
                     f"#SBATCH --{key}={shlex.quote(str(value))}")
    run = " ".join(shlex.quote(c) for c in command)
    lines += [
        "",
        f"# {_escaped(comment)}",
        f'{run} --shard "${{SLURM_ARRAY_TASK_ID}}/{count}" &',
        "child=$!",
        f"requeue() {{  # time limit near: stop the {unit} (SIGTERM), then put this task back in "
        "the queue",
        '    kill -TERM "$child"; wait "$child"',
        '    scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
        "}",
        "trap requeue USR1",
        'wait "$child"',
        "",
    ]
    return "\n".join(lines)


def _escaped(text: str) -> str:
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def check_emit_target(path: Path) -> Path:
    """`--emit-sbatch FILE`: an error, before anything is written, when FILE cannot be
    written (a folder, a folder that does not exist, a path under a file, /proc, ...)."""
    where = f"--emit-sbatch {clip(path)}"
    if path.is_dir():
        raise DabenchError(f"{where} is a folder; give the name of the script file to write, "
                           f"e.g. --emit-sbatch {clip(path / 'runs.sbatch')}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise DabenchError(f"{where}: its folder {clip(parent)} {what}; give a file in an "
                           "existing folder")
    try:
        if path.exists() and not path.is_file():
            raise OSError(None, "not a regular file")
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".probe-"):
            pass
    except OSError as exc:
        raise DabenchError(f"{where}: cannot write there ({exc.strerror}); give a file in a "
                           "folder you can write to") from None
    return path


def sbatch_script(command: list[str], pending: list[int], count: int, opts: SlurmOptions,
                  log_dir: Path) -> str:
    """`dabench run`'s plain array script: task k runs `command --shard k/count` (one run of
    the plan each); only the indices of `pending` runs are submitted."""
    if not pending:
        raise DabenchError("every run of this plan has finished; nothing to put in the script "
                           "(use --force with the serial launcher to redo runs)")
    header = ["Written by `dabench run --launcher slurm --emit-sbatch`: "
              f"{len(pending)} pending of {count} planned runs.",
              "Submit with: sbatch THIS_FILE. Run it where `dabench` is on PATH (activate its",
              "environment first); progress: dabench status --runs-dir RUNS."]
    return array_script(command, pending, count, opts, log_dir, header,
                        "one run of the plan per array task; finished runs are skipped, "
                        "unfinished ones resume", "run")
