"""`dabench status` from a hand-made runs folder: done, running, failed, pending per task and
method; stale locks count as pending; JSON output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from dabench.cli import app


def make_run(root: Path, method: str, run_id: str, seed: int, *, done=False, lock=None,
             failed=None, ticket_only=False, steps_logged=0) -> Path:
    d = root / "mnist5k-to-mnistm5k" / method / run_id
    d.mkdir(parents=True)
    if ticket_only:
        (d / "ticket.json").write_text(json.dumps({"task": "mnist5k-to-mnistm5k", "method": method,
                                                   "seed": seed, "run_id": run_id,
                                                   "overrides": {}}))
        return d
    (d / "config.json").write_text(json.dumps({"task": "mnist5k-to-mnistm5k", "method": method,
                                               "seed": seed, "run_id": run_id,
                                               "config": {"steps": 60}}))
    with open(d / "metrics.jsonl", "w") as fh:
        for step in range(5, steps_logged + 1, 5):
            fh.write(json.dumps({"step": step, "kind": "train", "loss": 1.0}) + "\n")
    if done:
        (d / "result.json").write_text("{}")
        (d / "done").write_text("")
    if lock is not None:
        (d / "lock").write_text(json.dumps(lock))
    if failed:
        (d / "failed.json").write_text(json.dumps({"error": failed, "status": "failed"}))
    return d


def test_status_counts_and_details(tmp_path):
    root = tmp_path / "runs"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    make_run(root, "revgrad", "aaa", 0, done=True)
    make_run(root, "revgrad", "bbb", 1, steps_logged=35,
             lock={"host": socket.gethostname(), "pid": os.getpid(), "token": "t"})
    make_run(root, "revgrad", "ccc", 2, failed="loss term 'cls' became nan at step 12; lower it\n"
                                               "second line")
    make_run(root, "source-only", "ddd", 0, ticket_only=True)
    stale = make_run(root, "source-only", "eee", 1, steps_logged=20,
                     lock={"host": socket.gethostname(), "pid": dead.pid, "token": "t"})
    (stale / "checkpoint.pt").write_bytes(b"x")
    make_run(root, "source-only", "fff", 2, steps_logged=10,
             lock={"host": "far-away", "pid": 7, "token": "t"})
    past = time.time() - 3600  # a host that stopped heartbeating an hour ago
    os.utime(root / "mnist5k-to-mnistm5k/source-only/fff/lock", (past, past))

    out = CliRunner().invoke(app, ["status", "--runs-dir", str(root), "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["method"]: r for r in json.loads(out.stdout)["tasks"]}
    assert {k: rows["revgrad"][k] for k in ("done", "running", "failed", "pending")} == \
        {"done": 1, "running": 1, "failed": 1, "pending": 0}
    assert {k: rows["source-only"][k] for k in ("done", "running", "failed", "pending")} == \
        {"done": 0, "running": 0, "failed": 0, "pending": 3}
    running = next(r for r in rows["revgrad"]["runs"] if r["state"] == "running")
    assert running["host"] == socket.gethostname() and running["pid"] == os.getpid()
    assert running["step"] == 35 and running["steps"] == 60 and running["heartbeat_s"] < 60
    failed = next(r for r in rows["revgrad"]["runs"] if r["state"] == "failed")
    assert failed["reason"] == "loss term 'cls' became nan at step 12; lower it"
    reasons = {r["run_id"]: r.get("reason", "") for r in rows["source-only"]["runs"]}
    assert "process is gone" in reasons["eee"] and "no heartbeat for" in reasons["fff"]
    assert reasons["ddd"] == ""  # planned, never started

    table = CliRunner().invoke(app, ["status", "--runs-dir", str(root)])
    assert table.exit_code == 0
    assert "mnist5k-to-mnistm5k revgrad" in table.stdout and "step 35/60" in table.stdout
    assert "total: 1 done, 1 running, 1 failed, 3 pending" in table.stdout


def test_status_of_an_empty_folder(tmp_path):
    out = CliRunner().invoke(app, ["status", "--runs-dir", str(tmp_path / "none")])
    assert out.exit_code == 0 and "no runs in" in out.stdout


def test_a_run_folder_with_a_damaged_config_is_counted_and_named(tmp_path):
    """A finished run whose config.json was truncated, and a stopped one whose config.json is
    gone, are still runs: counted in their state and named with the damage and the fix, not
    dropped ("no runs") as a folder of garbage would be."""
    root = tmp_path / "runs"
    done = make_run(root, "revgrad", "aaa", 0, done=True)
    (done / "config.json").write_text('{"task": "mnist5k-to-mni')
    stopped = make_run(root, "revgrad", "bbb", 1, steps_logged=20)
    (stopped / "config.json").unlink()
    (stopped / "checkpoint.pt").write_bytes(b"x")
    (root / "mnist5k-to-mnistm5k" / "revgrad" / "junk").mkdir()  # no run's files: not a run
    out = CliRunner().invoke(app, ["status", "--runs-dir", str(root), "--format", "json"])
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout)["tasks"]
    assert (row["done"], row["pending"], row["running"], row["failed"]) == (1, 1, 0, 0)
    by_id = {r["run_id"]: r for r in row["runs"]}
    assert set(by_id) == {"aaa", "bbb"} and "seed" not in by_id["aaa"]
    assert by_id["aaa"]["reason"].startswith("config.json is unreadable (not a JSON object)")
    assert by_id["bbb"]["reason"].startswith("stopped at step 20; it resumes when run again; "
                                             "config.json is missing")
    text = CliRunner().invoke(app, ["status", "--runs-dir", str(root)]).output
    assert "done: seed ? (aaa): config.json is unreadable" in text and "--force" in text
