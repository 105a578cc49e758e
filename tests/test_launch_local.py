"""The local launcher: one worker process per run, fake GPU ids, a worker killed mid-run, two
launchers on one runs folder (every run trained exactly once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import TINY
from launch_common import LONG, reference, sets
from dabench.cli import app
from dabench.config import resolve
from dabench.runs import store
from dabench.runs.launch.local import make_slots
from dabench.runs.lock import read_owner
from dabench.tasks.catalog import load_catalog

QUICK = {**TINY, "pad_samples": 0}


def launches(runs: Path) -> dict[str, list[dict]]:
    return {p.parent.name: store.read_jsonl(p) for p in runs.glob("*/*/*/launches.jsonl")}


def cli(runs: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dabench", "run", "mnist5k-to-mnistm5k", "--runs-dir", str(runs),
            "--launcher", "local", *args]


@pytest.mark.slow
def test_each_worker_sees_only_its_gpu_and_a_share_of_the_cores(runs):
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--seed", "0", "--launcher", "local",
                                   "--gpus", "3,7", "--runs-dir", str(runs), *sets(QUICK)])
    assert out.exit_code == 0, out.output
    seen = launches(runs)
    assert len(seen) == 2 and all(len(v) == 1 for v in seen.values())
    assert {v[0]["cuda_visible_devices"] for v in seen.values()} == {"3", "7"}
    assert {v[0]["threads"] for v in seen.values()} == {make_slots(["3", "7"], 1, 1)[0].threads}
    assert {v[0]["outcome"] for v in seen.values()} == {"done"}
    assert "2 run(s): 2 done" in out.stderr
    for log in runs.glob("*/*/*/worker.log"):
        assert "worker started (slot" in log.read_text()
    again = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--seed", "0", "--launcher",
                                     "local", "--gpus", "3,7", "--runs-dir", str(runs),
                                     *sets(QUICK)])
    assert again.exit_code == 0 and "2 finished before, 0 to run" in again.stderr


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 180) -> None:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition never met (launcher exit {proc.poll()})")


@pytest.mark.slow
def test_killed_worker_fails_alone_and_a_rerun_completes_it_identically(tmp_path):
    runs = tmp_path / "runs"
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    victim = store.run_dir(runs, spec.name, "revgrad", resolve(spec, "revgrad", 0, LONG).run_id())
    args = cli(runs, "-m", "revgrad", "--seeds", "0,1", "--workers", "2", *sets(LONG))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = victim / "metrics.jsonl"
    wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 3, proc)
    os.kill(read_owner(victim / "lock")["pid"], signal.SIGKILL)  # the worker, as the OOM killer
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "1 done, 1 crashed" in err and "worker killed by SIGKILL" in err
    others = [d for d in runs.glob("*/revgrad/*") if d != victim]
    assert len(others) == 1 and store.is_done(others[0])  # the other run finished
    assert not store.is_done(victim)
    assert "SIGKILL" in json.loads((victim / "failed.json").read_text())["error"]

    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 finished before, 1 to run" in again.stderr and store.is_done(victim)
    assert not (victim / "failed.json").exists()
    # the reference: the same run uninterrupted, with the worker's thread count
    ref, ref_steps = reference("revgrad", 0, make_slots([], 1, 2)[0].threads)
    assert tuple((r["kind"], r["step"]) for r in store.read_jsonl(metrics)) == ref_steps
    got = json.loads((victim / "result.json").read_text())
    for key in ("target_acc_last", "target_acc_best", "best_step", "source_acc_last"):
        assert got[key] == ref[key], key


@pytest.mark.slow
def test_two_launchers_on_one_runs_folder_train_each_run_once(runs):
    args = cli(runs, "--seed", "0", "--workers", "2", *sets(QUICK))
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    seen = launches(runs)
    assert len(seen) == 2
    for run_id, attempts in seen.items():
        outcomes = [a["outcome"] for a in attempts]
        assert outcomes.count("done") == 1, (run_id, outcomes)  # trained exactly once
        assert set(outcomes) <= {"done", "busy", "skipped"}
    assert all(store.is_done(d) for d in runs.glob("*/*/*"))
