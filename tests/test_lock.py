"""The run lock: written whole, held against live owners on any host, taken over from dead ones,
refreshed by a heartbeat; many processes racing for one lock: exactly one wins."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dabench.runs.lock import LockHeld, RunLock, read_owner


def owner_file(directory: Path, **fields) -> Path:
    path = directory / "lock"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                "token": "x", **fields}))
    return path


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_lock_is_written_whole_and_released(tmp_path):
    with RunLock(tmp_path) as lock:
        owner = read_owner(tmp_path / "lock")
        assert owner["host"] == socket.gethostname() and owner["pid"] == os.getpid()
        assert owner["token"] and lock.stale_owner is None
    assert not (tmp_path / "lock").exists()


def test_live_owner_on_this_host_is_refused(tmp_path):
    owner_file(tmp_path)  # this very process: alive
    with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
        with RunLock(tmp_path):
            pass
    assert read_owner(tmp_path / "lock")["token"] == "x"  # untouched


def test_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner_file(tmp_path, pid=dead.pid)
    with RunLock(tmp_path) as lock:
        assert lock.stale_owner["pid"] == dead.pid
        assert read_owner(tmp_path / "lock")["pid"] == os.getpid()


def test_other_host_is_live_until_its_heartbeat_is_older_than_the_timeout(tmp_path):
    path = owner_file(tmp_path, host="some-other-node", pid=1)
    age(path, 50)
    with pytest.raises(LockHeld, match="some-other-node"):
        with RunLock(tmp_path, timeout_s=100):
            pass
    age(path, 150)
    with RunLock(tmp_path, timeout_s=100) as lock:
        assert lock.stale_owner["host"] == "some-other-node"


def test_requeued_slurm_task_takes_over_its_own_lock(tmp_path, monkeypatch):
    owner_file(tmp_path, host="node-7", pid=1, slurm_job="4242_3")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    with RunLock(tmp_path) as lock:
        assert lock.stale_owner["slurm_job"] == "4242_3"
        assert read_owner(tmp_path / "lock")["slurm_job"] == "4242_3"
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")  # another task of the array: refused
    owner_file(tmp_path, host="node-7", pid=1, slurm_job="4242_3")
    with pytest.raises(LockHeld):
        with RunLock(tmp_path):
            pass


def test_empty_lock_file_is_not_stale_while_fresh(tmp_path):
    """The old lock deleted an empty lock file at once, so a process could delete a lock
    between its creation and its first write. Now an unreadable lock is judged by age only."""
    (tmp_path / "lock").write_text("")
    with pytest.raises(LockHeld, match="unreadable"):
        with RunLock(tmp_path, timeout_s=100):
            pass
    age(tmp_path / "lock", 150)
    with RunLock(tmp_path, timeout_s=100) as lock:
        assert "unreadable" in lock.stale_owner


def test_heartbeat_refreshes_and_notices_a_takeover(tmp_path):
    with RunLock(tmp_path, heartbeat_s=0.05) as lock:
        age(tmp_path / "lock", 1000)
        time.sleep(0.5)
        assert time.time() - (tmp_path / "lock").stat().st_mtime < 5  # refreshed
        owner_file(tmp_path, host="thief", pid=1)  # someone judged us dead and took over
        time.sleep(0.5)
        assert lock.lost
    assert read_owner(tmp_path / "lock")["host"] == "thief"  # release leaves theirs alone


def _contender(directory: str, start: float, queue) -> None:
    while time.time() < start:
        time.sleep(0.001)
    try:
        with RunLock(Path(directory)):
            queue.put(("won", os.getpid()))
            time.sleep(1.0)  # hold it while the others try
    except LockHeld:
        queue.put(("refused", os.getpid()))


def test_many_processes_racing_for_one_lock_exactly_one_wins(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.time() + 1.0
    procs = [ctx.Process(target=_contender, args=(str(tmp_path), start, queue)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    results = [queue.get(timeout=5)[0] for _ in procs]
    assert results.count("won") == 1 and results.count("refused") == 5
    assert not (tmp_path / "lock").exists()
