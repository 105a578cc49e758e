"""`--launcher slurm` on a real single-node Slurm cluster (tests/slurm_cluster.py): a small sweep
where every run finishes once, one task requeued mid-run (as preemption does) resuming to the
same result as an uninterrupted run. Skipped, with the reason, where the cluster cannot start."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import REPO
from dabench.config import resolve
from dabench.runs import store
from dabench.runs.lock import read_owner
from dabench.tasks.catalog import load_catalog
from launch_common import LONG, reference, sets
from slurm_cluster import Cluster, Unavailable



@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    pytest.importorskip("submitit")
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        env = cluster.start()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        cluster.stop()
        pytest.skip(f"no Slurm cluster: {exc}")
    yield env
    cluster.stop()


@pytest.mark.slow
def test_sweep_on_real_slurm_with_a_requeued_task(slurm, tmp_path):
    runs = tmp_path / "runs"
    spec = load_catalog().task("mnist-to-mnistm")
    victim = store.run_dir(runs, spec.name, "revgrad", resolve(spec, "revgrad", 0, LONG).run_id())
    env = {**slurm, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dabench", "run", "mnist-to-mnistm", "--seed", "0", "--launcher",
         "slurm", "--wait", "--max-parallel", "2", "--cpus-per-job", "1", "--mem-gb", "1",
         "--time-min", "10", "--runs-dir", str(runs), *sets(LONG)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = victim / "metrics.jsonl"
    end = time.time() + 240
    while time.time() < end and proc.poll() is None:  # past the first checkpoint (step 10)
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    owner = read_owner(victim / "lock")
    assert owner and owner.get("slurm_job"), (owner, proc.poll())
    requeue = subprocess.run(["scontrol", "requeue", owner["slurm_job"]], env=env,
                             capture_output=True, text=True)
    assert requeue.returncode == 0, requeue.stderr
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err
    assert "2 run(s): 2 done" in err

    attempts = {d.parent.name: store.read_jsonl(d / "launches.jsonl")
                for d in runs.glob("*/*/*")}
    assert [a["outcome"] for a in attempts["revgrad"]] == ["interrupted", "done"]
    assert len({a["slurm_job"] for a in attempts["revgrad"]}) == 1  # the same array task
    assert [a["outcome"] for a in attempts["source-only"]] == ["done"]  # ran once
    first_stop = attempts["revgrad"][0]
    assert first_stop["launcher"] == "slurm" and first_stop["threads"] == 1

    ref, ref_steps = reference("revgrad", 0, 1)  # --cpus-per-job 1: the worker's threads
    got = json.loads((victim / "result.json").read_text())
    for key in ("target_acc_last", "target_acc_best", "best_step", "source_acc_last"):
        assert got[key] == ref[key], key
    assert tuple((r["kind"], r["step"]) for r in store.read_jsonl(metrics)) == ref_steps
