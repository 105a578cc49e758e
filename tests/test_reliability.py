"""Crash safety: SIGKILL and Ctrl-C mid-run, resume to the same result; locks; NaN guard."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import TINY
from dabench.runs import store as results
from dabench.training import loop as train
from dabench.cli import app
from dabench.config import resolve
from dabench.errors import DabenchError
from dabench.tasks.catalog import load_catalog

SETS = {"steps": 60, "batch_size": 16, "eval_every": 10, "log_every": 5, "eval_batch_size": 500}


def cli_args(runs: Path) -> list[str]:
    sets = [x for k, v in SETS.items() for x in ("--set", f"{k}={v}")]
    return [sys.executable, "-m", "dabench", "run", "mnist5k-to-mnistm5k", "-m", "revgrad",
            "--runs-dir", str(runs), *sets]


def run_dir(runs: Path) -> Path:
    cfg = resolve(load_catalog().task("mnist5k-to-mnistm5k"), "revgrad", 0, SETS)
    return results.run_dir(runs, "mnist5k-to-mnistm5k", "revgrad", cfg.run_id())


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {n} lines (exit {proc.poll()})")


@pytest.mark.slow
def test_sigkill_at_random_steps_then_resume_matches_uninterrupted(tmp_path):
    reference = subprocess.run(cli_args(tmp_path / "ref"), capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr
    expected = json.loads((run_dir(tmp_path / "ref") / "result.json").read_text())

    runs = tmp_path / "runs"
    metrics = run_dir(runs) / "metrics.jsonl"
    for lines in (5, 11):  # kill once early, once after a resume
        proc = subprocess.Popen(cli_args(runs), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_for_lines(metrics, lines, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not results.is_done(run_dir(runs))
    final = subprocess.run(cli_args(runs), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    got = json.loads((run_dir(runs) / "result.json").read_text())
    for key in ("target_acc_last", "target_acc_best", "best_step", "source_acc_last"):
        assert got[key] == expected[key], key
    steps = [(r["kind"], r["step"]) for r in results.read_jsonl(metrics)]
    want = [(r["kind"], r["step"]) for r in results.read_jsonl(run_dir(tmp_path / "ref") /
                                                                "metrics.jsonl")]
    assert steps == want  # no duplicated or missing lines
    ref_losses = [r["loss"] for r in results.read_jsonl(run_dir(tmp_path / "ref") /
                                                        "metrics.jsonl") if r["kind"] == "train"]
    assert [r["loss"] for r in results.read_jsonl(metrics) if r["kind"] == "train"] == ref_losses


@pytest.mark.slow
def test_ctrl_c_checkpoints_and_exits_130(tmp_path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen(cli_args(runs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for_lines(run_dir(runs) / "metrics.jsonl", 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert (run_dir(runs) / "checkpoint.pt").is_file()
    assert not (run_dir(runs) / "lock").exists()


def test_live_lock_refuses_and_stale_lock_is_taken_over(tmp_path):
    from dabench.runs.lock import RunLock, read_owner

    directory = tmp_path / "run"
    directory.mkdir()
    (directory / "lock").write_text(f"{socket.gethostname()} {os.getpid()}")  # alive: us
    with pytest.raises(DabenchError, match="being trained by"):
        with RunLock(directory):
            pass
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (directory / "lock").write_text(f"{socket.gethostname()} {dead.pid}")
    with RunLock(directory) as lock:
        assert lock.stale_owner["pid"] == dead.pid
        assert read_owner(directory / "lock")["pid"] == os.getpid()
    assert not (directory / "lock").exists()


def test_nan_run_is_recorded_failed_and_reported(tmp_path):
    runs = tmp_path / "runs"
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    good = resolve(spec, "source-only", 0, TINY)
    train.run(spec, good, runs)
    bad = resolve(spec, "source-only", 0, {**TINY, "optim.lr": 1e6, "steps": 40, "log_every": 1,
                                           "eval_every": 40})
    with pytest.raises(train.RunFailed, match="at step"):
        train.run(spec, bad, runs)
    failed = results.load_failed(runs)
    assert len(failed) == 1 and failed[0]["status"] == "failed" and "became" in failed[0]["error"]
    out = CliRunner().invoke(app, ["report", "--runs-dir", str(runs), "--format", "md"])
    assert out.exit_code == 0
    assert "FAILED: mnist5k-to-mnistm5k source-only seed 0: loss term" in out.stdout
    assert "1 of them failed" in out.stderr


def test_cli_continues_after_a_failed_run_and_exits_1(tmp_path):
    sets = ["--set", "optim.lr=1e6", "--set", "steps=30", "--set", "log_every=1",
            "--set", "eval_every=30", "--set", "batch_size=16"]
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--seeds", "0,1", "-m",
                                   "source-only", "--runs-dir", str(tmp_path), *sets])
    assert out.exit_code == 1
    assert out.stderr.count("became") == 2 and "2 of 2 run(s) failed" in out.stderr
