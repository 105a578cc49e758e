"""`--track tensorboard` / `--track mlflow`: the curves, settings and result read back from the
event files and the MLflow file store, also across a resumed run."""

from __future__ import annotations

import json

import pytest

from conftest import TINY
from dabench.config import resolve
from dabench.errors import DabenchError
from dabench.runs.store import read_jsonl
from dabench.tasks.catalog import load_catalog
from dabench.training import loop as train
from dabench.training import tracking

SETS = {**TINY, "pad_samples": 0}  # steps 6: train lines at 2, 4, 6; evaluations at 3, 6


def crashed_then_resumed(runs, track):
    """A run that dies after logging step 4 (its checkpoint is at step 3), then resumed: the
    tracker saw step 4 twice."""
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    cfg = resolve(spec, "revgrad", 0, {**SETS, "track": track})

    def crash(step, total, numbers):
        if step == 4 and "loss" in numbers:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        train.run(spec, cfg, runs, on_progress=crash)
    directory = runs / "mnist5k-to-mnistm5k" / "revgrad" / cfg.run_id()
    assert (directory / "checkpoint.pt").is_file()
    record = train.run(spec, cfg, runs).record
    return cfg, directory, record


def test_tensorboard_event_files_read_back_without_a_step_twice(runs):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg, directory, record = crashed_then_resumed(runs, "tensorboard")
    acc = EventAccumulator(str(directory / "tensorboard"))
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/cls", "train/domain_feature", "train/lambda", "train/lr",
            "eval/target_acc", "eval/source_acc", "final/target_acc_last"} <= scalars
    assert [e.step for e in acc.Scalars("train/loss")] == [2, 4, 6]
    assert [e.step for e in acc.Scalars("eval/target_acc")] == [3, 6]
    lines = [l for l in read_jsonl(directory / "metrics.jsonl")]
    logged = {l["step"]: l["loss"] for l in lines if l["kind"] == "train"}
    assert {e.step: pytest.approx(e.value, rel=1e-6) for e in acc.Scalars("train/loss")} == logged
    (final,) = acc.Scalars("final/target_acc_last")
    assert final.value == pytest.approx(record["target_acc_last"])
    assert "config" in acc.Tags()["tensors"] or "config/text_summary" in acc.Tags()["tensors"]


def test_mlflow_store_reads_back_named_by_the_run_id(runs, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from mlflow.tracking import MlflowClient

    cfg, directory, record = crashed_then_resumed(runs, "mlflow")
    client = MlflowClient((runs.resolve() / "mlruns").as_uri())
    exp = client.get_experiment_by_name("dabench")
    (found,) = client.search_runs([exp.experiment_id])
    assert found.info.run_name == cfg.run_id() == found.data.tags["dabench.run_id"]
    assert found.info.status == "FINISHED"
    assert found.data.params["optim.lr"] == str(cfg.optim.lr)
    assert found.data.params["grl.gamma"] == "10.0" and found.data.params["task"] == "mnist5k-to-mnistm5k"
    history = client.get_metric_history(found.info.run_id, "train/loss")
    assert sorted(m.step for m in history) == [2, 4, 6]  # step 4 once, though trained twice
    assert sorted(m.step for m in client.get_metric_history(found.info.run_id,
                                                            "eval/target_acc")) == [3, 6]
    assert found.data.metrics["final/target_acc_last"] == pytest.approx(record["target_acc_last"])
    # a forced rerun replaces the MLflow run of that id
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    train.run(spec, cfg, runs, force=True)
    (again,) = client.search_runs([exp.experiment_id])
    assert again.info.run_id != found.info.run_id and again.info.run_name == cfg.run_id()


def test_a_missing_tracker_package_is_one_line(monkeypatch):
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DabenchError, match=r"--track mlflow needs the mlflow package, which is "
                                           r"not installed; pip install 'dabench\[mlflow\]'"):
        tracking.check_available("mlflow")
    tracking.check_available("none")


def test_track_is_not_part_of_the_run_id():
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    ids = {resolve(spec, "revgrad", 0, {"track": t}).run_id() for t in tracking.TRACKERS}
    assert len(ids) == 1
    with pytest.raises(DabenchError, match="must be one of none, tensorboard, mlflow"):
        resolve(spec, "revgrad", 0, {"track": "wandb"})
