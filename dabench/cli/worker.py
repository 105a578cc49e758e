"""`dabench worker TICKET`: train one planned run in this process (hidden; the launchers start it).

A launcher never enters the training loop: it hands each run to a worker, here, as a JSON ticket
(`dabench.runs.plan.PlanEntry.ticket`). The worker resolves the ticket again, appends what it saw
(host, pid, CUDA_VISIBLE_DEVICES, threads, Slurm job) to the run's `launches.jsonl`, calls the
one loop, and reports the outcome through its exit code (`OUTCOMES`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Optional

import typer

from dabench.cli.app import _err, app
from dabench.runs.launch.outcomes import EXIT_CODES
from dabench.runs.launch.slurm import Requeueable


def execute(ticket: dict[str, Any], runs_dir: str, data_root: Optional[str] = None,
            threads: Optional[int] = None, launcher: str = "local") -> str:
    """Train the ticket's run (resuming it if unfinished); returns an outcome of EXIT_CODES."""
    from dabench.errors import DabenchError
    from dabench.runs import store
    from dabench.runs.lock import LockHeld, slurm_job
    from dabench.runs.plan import from_ticket
    from dabench.tasks.catalog import load_catalog

    if threads:
        import torch

        torch.set_num_threads(threads)
    if threading.current_thread() is threading.main_thread():
        # scancel and `kill` send SIGTERM: treat it as Ctrl-C (finish the step, checkpoint, exit)
        signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    root = Path(runs_dir)
    entry = from_ticket(load_catalog(), ticket)  # loads the ticket's plugin files first
    from dabench.api import load_plugins

    load_plugins()  # the plugins the launcher had are loaded here too, or one line
    directory = store.run_dir(root, entry.spec.name, entry.cfg.method, entry.cfg.run_id())
    directory.mkdir(parents=True, exist_ok=True)
    seen = {"host": socket.gethostname(), "pid": os.getpid(), "launcher": launcher,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "threads": threads, "slurm_job": slurm_job(), "started": time.time()}
    from dabench.training import loop as train

    try:
        outcome = train.run(entry.spec, entry.cfg, root, Path(data_root) if data_root else None)
        result = "skipped" if outcome.skipped else "done"
    except LockHeld as exc:
        _err(str(exc))
        result = "busy"
    except train.RunFailed as exc:
        _err(str(exc))
        result = "failed"
    except KeyboardInterrupt:
        _err("interrupted; the run keeps its last checkpoint and resumes when started again")
        result = "interrupted"
    except DabenchError as exc:
        _err(str(exc))
        result = "error"
    store.append_jsonl(directory / "launches.jsonl", {**seen, "ended": time.time(),
                                                      "outcome": result})
    return result


class SlurmRun(Requeueable):
    """The callable a Slurm array task runs (pickled by submitit). On preemption or time-out
    submitit calls `checkpoint`, which requeues the same ticket: the run resumes from its last
    checkpoint, and the lock, owned by this same array task, is taken over at once."""

    def __call__(self, ticket: dict[str, Any], runs_dir: str, data_root: Optional[str],
                 threads: Optional[int]) -> str:
        result = execute(ticket, runs_dir, data_root, threads, launcher="slurm")
        if result == "interrupted":
            # Slurm is stopping this task (requeue, preemption, cancel) and the run has just
            # checkpointed: leave no result behind, so the one submitit reads is the requeued
            # task's, which resumes the run.
            import sys

            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_CODES["interrupted"])
        return result


@app.command("worker", hidden=True)
def worker(
    ticket: str = typer.Argument(..., help="the run, as JSON (see dabench.runs.plan)"),
    runs_dir: Path = typer.Option(..., "--runs-dir"),
    data_root: Optional[Path] = typer.Option(None, "--data-root"),
    threads: Optional[int] = typer.Option(None, "--threads", min=1),
    launcher: str = typer.Option("local", "--launcher"),
) -> None:
    """Train one planned run (started by `dabench run --launcher ...`)."""
    result = execute(json.loads(ticket), str(runs_dir), str(data_root) if data_root else None,
                     threads, launcher)
    raise typer.Exit(EXIT_CODES[result])
