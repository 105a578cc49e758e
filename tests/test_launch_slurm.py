"""The Slurm launcher without a cluster: submitit's real path against stand-ins for sbatch, srun
and sacct (tests/fake_slurm), and the plain array script of --emit-sbatch against a golden file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, TINY
from dabench.cli import app
from dabench.runs import store

FAKE = Path(__file__).resolve().parent / "fake_slurm"
GOLDEN = Path(__file__).resolve().parent / "golden" / "emit-sbatch.sh"
QUICK = {**TINY, "pad_samples": 0}


def sets(values: dict) -> list[str]:
    return [x for k, v in values.items() for x in ("--set", f"{k}={v}")]


@pytest.mark.slow
def test_submitit_array_through_fake_sbatch_runs_every_run_once(tmp_path):
    pytest.importorskip("submitit")
    runs = tmp_path / "runs"
    env = {**os.environ, "PATH": f"{FAKE}{os.pathsep}{os.environ['PATH']}",
           "FAKE_SLURM": str(tmp_path / "slurm"), "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "dabench", "run", "mnist5k-to-mnistm5k", "--seed", "0",
            "--launcher", "slurm", "--wait", "--max-parallel", "1", "--cpus-per-job", "1",
            "--mem-gb", "2.5", "--time-min", "7", "--partition", "debug", "--account", "proj",
            "--qos", "high", "--runs-dir", str(runs), *sets(QUICK)]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "submitted Slurm array job 4242 (2 task(s))" in out.stderr
    assert "2 run(s): 2 done" in out.stderr
    script = (tmp_path / "slurm" / "job-4242.sh").read_text()
    for flag in ("--array=0-1%1", "--cpus-per-task=1", "--mem=2560MB", "--time=7",
                 "--partition=debug", "--account=proj", "--qos=high", "--requeue",
                 "--signal=USR2@120", "--job-name=dabench"):
        assert f"#SBATCH {flag}\n" in script, flag
    assert "gpus-per-node" not in script  # --gpus-per-job 0: a CPU job
    seen = sorted(store.read_jsonl(p)[0]["slurm_job"] for p in runs.glob("*/*/*/launches.jsonl"))
    assert seen == ["4242_0", "4242_1"]  # one array task per run
    for p in runs.glob("*/*/*/launches.jsonl"):
        assert [(r["launcher"], r["outcome"]) for r in store.read_jsonl(p)] == [("slurm", "done")]
    assert len([d for d in runs.glob("*/*/*") if store.is_done(d)]) == 2

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "2 finished before, 0 to run" in again.stderr
    assert not (tmp_path / "slurm" / "job-4342.sh").exists()  # nothing pending: no submission


def test_slurm_without_submitit_is_one_line_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import fails as if not installed
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--launcher", "slurm",
                                   "--runs-dir", str(tmp_path)])
    assert out.exit_code == 3
    assert out.stderr.strip().splitlines() == [
        "dabench: error: --launcher slurm needs the 'submitit' package; run: pip install "
        "'dabench[slurm]' (or write a plain script with --emit-sbatch FILE)"]


def test_emit_sbatch_matches_the_golden_script_and_skips_finished_runs(tmp_path):
    runs = tmp_path / "runs"
    base = ["run", "digits", "--seeds", "0,1", "--set", "steps=50", "--runs-dir", str(runs)]
    from dabench.runs.plan import plan_entries
    from dabench.tasks.catalog import load_catalog

    plan = plan_entries(load_catalog(), ["digits"], [], [0, 1], {"steps": 50, "device": "auto"})
    assert len(plan) == 8
    for k in (2, 3, 6):  # pretend these finished: the array leaves them out
        d = store.run_dir(runs, plan[k].spec.name, plan[k].cfg.method, plan[k].cfg.run_id())
        d.mkdir(parents=True)
        (d / "result.json").write_text("{}")
        (d / "done").write_text("")
    target = tmp_path / "sweep.sbatch"
    out = CliRunner().invoke(app, [*base, "--launcher", "slurm", "--emit-sbatch", str(target),
                                   "--max-parallel", "2", "--gpus-per-job", "1",
                                   "--cpus-per-job", "8", "--mem-gb", "32", "--time-min", "240",
                                   "--partition", "gpu", "--qos", "normal"])
    assert out.exit_code == 0, out.output
    assert "5 array task(s)" in out.stderr
    text = target.read_text().replace(str(runs.resolve()), "RUNS")
    if os.environ.get("DABENCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    assert "--array=0-1,4-5,7%2" in text  # only the pending runs' indices
    assert not list(runs.glob("*/*/*/ticket.json"))  # a script, nothing submitted or planned


def test_emit_sbatch_array_task_runs_exactly_its_run(tmp_path):
    """What array task k executes (`dabench run ... --shard k/N`) is run k of the plan."""
    runs = tmp_path / "runs"
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "--seeds", "0,1", "--runs-dir",
                                   str(runs), "--shard", "3/4", *sets(QUICK)])
    assert out.exit_code == 0, out.output
    done = [json.loads((d / "result.json").read_text()) for d in runs.glob("*/*/*")]
    assert [(r["method"], r["seed"]) for r in done] == [("revgrad", 1)]


def test_slurm_command_stopped_by_slurm_stops_its_command_and_leaves_no_result(tmp_path):
    """SIGTERM (scancel, preemption, `scontrol requeue`) reaches the command, and the task exits
    130 without returning, so submitit keeps no result and the requeued task runs it again;
    left alone, the task returns the command's outcome."""
    import signal
    import time

    log = tmp_path / "shard.log"
    ticket = {"argv": ["extract-features", "video", "--data-root", str(tmp_path / "none")],
              "log": str(log)}
    code = ("import sys; from dabench.runs.launch.slurm import SlurmCommand; "
            f"print('result', SlurmCommand()({ticket!r}))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    end = time.time() + 60
    while time.time() < end and not children.read_text().split():
        time.sleep(0.01)
    child = int(children.read_text().split()[0])  # `python -m dabench ...`, still starting
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "result" not in out
    assert not Path(f"/proc/{child}").exists()
    assert "data folder" not in log.read_text()  # stopped before it got anywhere

    alone = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=60)
    assert alone.returncode == 0 and alone.stdout.split() == ["result", "error"]
    assert log.read_text().splitlines()[-1].startswith("dabench: error: data folder")
