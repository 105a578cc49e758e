"""`--launcher slurm` on a real single-node Slurm cluster (tests/slurm_cluster.py): a small sweep
where every run finishes once, one task requeued mid-run (as preemption does) resuming to the
same result as an uninterrupted run; and `extract-features --launcher slurm` on a tiny video tree.
Skipped, with the reason, where the cluster cannot start."""

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
from test_features_shard import base_args
from test_video_tasks import tiny_task_file, tree  # noqa: F401 (fixture)



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
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    victim = store.run_dir(runs, spec.name, "revgrad", resolve(spec, "revgrad", 0, LONG).run_id())
    env = {**slurm, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dabench", "run", "mnist5k-to-mnistm5k", "--seed", "0", "--launcher",
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


@pytest.mark.slow
def test_feature_extraction_shards_on_real_slurm(slurm, tree, tmp_path):  # noqa: F811
    cache = tmp_path / "cache"
    env = {**slurm, "PYTHONPATH": str(REPO), "DABENCH_TASK_PATH": str(tiny_task_file(tmp_path))}
    out = subprocess.run(
        [sys.executable, "-m", "dabench", *base_args(tree, cache), "--launcher", "slurm",
         "--shards", "2", "--max-parallel", "2", "--cpus-per-job", "1", "--mem-gb", "1",
         "--time-min", "5"], env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert "2 shard(s): 2 done" in out.stderr
    assert "feature cache complete" in out.stdout and "15 of 15 videos cached" in out.stdout
    # 15 videos per dataset, sorted and dealt out: 8 to shard 0 and 7 to shard 1, per dataset
    for k, n in ((0, 16), (1, 14)):
        log = (cache / "logs" / f"shard-{k}-of-2.log").read_text()
        assert f"total: {n} videos, 0 cached, {n} extracted (shard {k}/2)" in log
        assert "started (Slurm job " in log and "_None)" not in log  # ran as an array task
