"""The local launcher: a pool of worker processes on this machine, one run per process.

Each run is its own `dabench worker` process, so a crash or an out-of-memory kill takes one run
down, not the sweep. Slots: with `gpus`, `jobs_per_gpu` workers per GPU, each seeing only its GPU
(CUDA_VISIBLE_DEVICES); without, `workers` CPU workers. The machine's cores are split between the
slots (torch threads per worker), so N workers do not fight over the same cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from dabench.errors import DabenchError
from dabench.runs import store
from dabench.runs.launch.outcomes import Outcome, from_returncode

POLL_S = 0.2


@dataclass(frozen=True)
class Slot:
    gpu: Optional[str]  # the CUDA device id this slot's workers see, None on the CPU
    threads: int  # torch threads of this slot's worker


def parse_gpus(text: Optional[str]) -> list[str]:
    """'0,1,3' -> ['0', '1', '3']; ids are passed to CUDA_VISIBLE_DEVICES as they are."""
    gpus = [g.strip() for g in (text or "").split(",") if g.strip()]
    if len(set(gpus)) != len(gpus):
        raise DabenchError(f"--gpus '{text}' names a GPU twice; use --jobs-per-gpu N to run "
                           "several runs on one GPU")
    return gpus


def make_slots(gpus: list[str], jobs_per_gpu: int, workers: int,
               cores: Optional[int] = None) -> list[Slot]:
    """One slot per concurrent worker; cores split evenly (at least one thread each)."""
    if jobs_per_gpu < 1 or workers < 1:
        raise DabenchError("--jobs-per-gpu and --workers must be at least 1")
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count() or 1
    ids: list[Optional[str]] = [g for g in gpus for _ in range(jobs_per_gpu)] if gpus \
        else [None] * workers
    threads = max(1, cores // len(ids))
    return [Slot(g, threads) for g in ids]


def worker_command(ticket: dict[str, Any], root: Path, data_root: Optional[Path],
                   threads: int) -> list[str]:
    cmd = [sys.executable, "-m", "dabench", "worker", json.dumps(ticket, sort_keys=True),
           "--runs-dir", str(root), "--threads", str(threads), "--launcher", "local"]
    return cmd + (["--data-root", str(data_root)] if data_root else [])


def log_path(root: Path, ticket: dict[str, Any]) -> Path:
    """Per-run log: `worker.log` in the run's folder (appended by every attempt)."""
    return store.run_dir(root, ticket["task"], ticket["method"], ticket["run_id"]) / "worker.log"


def run_pool(tickets: list[dict[str, Any]], root: Path, data_root: Optional[Path],
             slots: list[Slot], on_outcome: Callable[[Outcome], None] = lambda o: None,
             command: Callable[..., list[str]] = worker_command,
             log_for: Optional[Callable[[dict[str, Any]], Path]] = None) -> list[Outcome]:
    """Run every ticket in a worker process (`command(ticket, root, data_root, threads)`), at
    most one per slot at a time, its output appended to `log_for(ticket)` (default: the run's
    worker.log); outcomes in the order of `tickets`. Ctrl-C (or SIGTERM) asks every worker to
    checkpoint and stop."""
    queue = list(enumerate(tickets))
    free = list(range(len(slots)))
    running: dict[int, tuple[subprocess.Popen, int, dict[str, Any], Path]] = {}  # slot -> ...
    done: dict[int, Outcome] = {}
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    try:
        while queue or running:
            while queue and free:
                slot_id = free.pop(0)
                index, ticket = queue.pop(0)
                slot = slots[slot_id]
                log = log_for(ticket) if log_for else log_path(root, ticket)
                log.parent.mkdir(parents=True, exist_ok=True)
                env = {**os.environ, "OMP_NUM_THREADS": str(slot.threads),
                       "MKL_NUM_THREADS": str(slot.threads)}
                if slot.gpu is not None:
                    env["CUDA_VISIBLE_DEVICES"] = slot.gpu
                with open(log, "a", encoding="utf-8") as fh:
                    fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} worker started "
                             f"(slot {slot_id}, gpu {slot.gpu}, {slot.threads} threads)\n")
                    proc = subprocess.Popen(command(ticket, root, data_root, slot.threads),
                                            stdout=fh, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)  # our Ctrl-C is forwarded
                running[slot_id] = (proc, index, ticket, log)
            time.sleep(POLL_S)
            for slot_id, (proc, index, ticket, log) in list(running.items()):
                code = proc.poll()
                if code is None:
                    continue
                del running[slot_id]
                free.append(slot_id)
                done[index] = record_outcome(root, from_returncode(ticket, code, log))
                on_outcome(done[index])
    except KeyboardInterrupt:
        for proc, *_ in running.values():
            proc.send_signal(signal.SIGINT)  # finish the step, checkpoint, exit 130
        for proc, *_ in running.values():
            proc.wait()
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    return [done[i] for i in sorted(done)]


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def record_outcome(root: Path, outcome: Outcome) -> Outcome:
    """A worker that died without a word (killed, segfault) leaves `failed.json` behind, so
    `report` and `status` show the run as failed until it is run again."""
    if outcome.result == "crashed" and "run_id" in outcome.ticket:
        t = outcome.ticket
        directory = store.run_dir(root, t["task"], t["method"], t["run_id"])
        if directory.is_dir() and not store.is_done(directory):
            store.mark_failed(directory, {"task": t["task"], "method": t["method"],
                                          "seed": t["seed"], "error": outcome.reason,
                                          "status": "failed"})
    return outcome
