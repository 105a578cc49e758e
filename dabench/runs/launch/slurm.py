"""The Slurm launcher: one job array for the pending runs, through submitit, or a plain script.

`submit` hands every ticket to submitit's `SlurmExecutor.map_array`: one array task per run,
`--array=0-(n-1)%max_parallel`, each task running `dabench.cli.worker.SlurmRun`, which submitit
requeues on preemption or time-out (it signals the job `signal_delay_s` before the end); the
requeued task resumes the run from its checkpoint. `sbatch_script` writes the same array as a plain
script for clusters where submitit cannot be installed: array task k runs
`dabench run ... --shard k/N`, one run of the plan each.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from dabench.errors import DabenchError
from dabench.runs.launch.outcomes import Outcome

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


def _mem(gb: float) -> str:
    return f"{int(gb)}GB" if gb == int(gb) else f"{int(gb * 1024)}MB"


def require_submitit():
    try:
        import submitit
    except ImportError:
        raise DabenchError("--launcher slurm needs the 'submitit' package; run: pip install "
                           "'dabench[slurm]' (or write a plain script with --emit-sbatch FILE)",
                           exit_code=3) from None
    return submitit


def submit(tickets: list[dict[str, Any]], root: Path, data_root: Optional[Path],
           opts: SlurmOptions, fn: Callable[..., str]) -> list[Any]:
    """Submit one array job (one task per ticket); returns submitit's jobs. Logs go to
    `<runs>/.slurm/`."""
    submitit = require_submitit()
    executor = submitit.SlurmExecutor(folder=root / ".slurm" / "%j", max_num_timeout=20)
    flags = opts.sbatch_flags()
    executor.update_parameters(
        job_name="dabench", cpus_per_task=opts.cpus_per_job, mem=flags["mem"],
        time=opts.time_min, array_parallelism=opts.max_parallel, stderr_to_stdout=True,
        signal_delay_s=SIGNAL_DELAY_S, partition=opts.partition, account=opts.account,
        qos=opts.qos, gpus_per_node=opts.gpus_per_job or None,
        additional_parameters={"requeue": True})
    n = len(tickets)
    threads = opts.cpus_per_job
    data = str(data_root) if data_root else None
    return executor.map_array(fn, tickets, [str(root)] * n, [data] * n, [threads] * n)


def wait(jobs: list[Any], tickets: list[dict[str, Any]], poll_s: float = 2.0,
         sacct_every_s: float = 30.0) -> list[Outcome]:
    """Block until every job has ended (a result file, or an end state in sacct, which is
    asked once every `sacct_every_s` for the whole array); one outcome per ticket."""
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
        try:
            out.append(Outcome(ticket, job.result()))
        except Exception as exc:  # submitit raises the job's failure, whatever its type
            reason = str(exc).strip().splitlines()
            out.append(Outcome(ticket, "crashed", (reason[-1] if reason else type(exc).__name__)
                               [:300] + f" (job {job.job_id})"))
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


def sbatch_script(command: list[str], pending: list[int], count: int, opts: SlurmOptions,
                  log_dir: Path) -> str:
    """A plain array script: task k runs `command --shard k/count` (one run of the plan each);
    only the indices of `pending` runs are submitted. On the time-limit warning the script
    stops the run (it checkpoints) and requeues its own task, which then resumes the run."""
    if not pending:
        raise DabenchError("every run of this plan has finished; nothing to put in the script "
                           "(use --force with the serial launcher to redo runs)")
    flags = {**opts.sbatch_flags(), "job-name": "dabench",
             "array": f"{array_ranges(pending)}%{opts.max_parallel}",
             "output": str(log_dir / "%A_%a.log"), "signal": f"B:USR1@{SIGNAL_DELAY_S}"}
    lines = ["#!/bin/bash", "# Written by `dabench run --launcher slurm --emit-sbatch`: "
             f"{len(pending)} pending of {count} planned runs.",
             "# Submit with: sbatch THIS_FILE. Run it where `dabench` is on PATH (activate its",
             "# environment first); progress: dabench status --runs-dir RUNS."]
    for key in sorted(flags):
        value = flags[key]
        lines.append(f"#SBATCH --{key}" if value is True else
                     f"#SBATCH --{key}={shlex.quote(str(value))}")
    run = " ".join(shlex.quote(c) for c in command)
    lines += [
        "",
        "# one run of the plan per array task; finished runs are skipped, unfinished ones resume",
        f'{run} --shard "${{SLURM_ARRAY_TASK_ID}}/{count}" &',
        "child=$!",
        "requeue() {  # time limit near: stop the run (SIGTERM), then put this task back in the queue",
        '    kill -TERM "$child"; wait "$child"',
        '    scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
        "}",
        "trap requeue USR1",
        'wait "$child"',
        "",
    ]
    return "\n".join(lines)
