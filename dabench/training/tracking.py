"""Live tracking (`--track tensorboard` / `--track mlflow`, the setting `track`).

What the loop writes to metrics.jsonl also streams to the tracker as it is written: every
training line (the loss terms, lambda, lr) and every evaluation (accuracies) under its step, as
"train/<name>" and "eval/<name>". The resolved settings go in as hyper-parameters when the run
starts and the result record's numbers as final metrics ("final/<name>") when it ends. The
tracker's run is named by dabench's run id.

- TensorBoard: event files in the run's folder, `<run>/tensorboard/` (`tensorboard --logdir
  runs` shows every run). A resumed run opens its writer with `purge_step` = the checkpoint's
  step + 1, so TensorBoard drops what the interrupted attempt wrote after the checkpoint and the
  curves go on without a step twice.
- MLflow: a local file store in the runs folder, `<runs>/mlruns` (`mlflow ui --backend-store-uri
  runs/mlruns`), or MLFLOW_TRACKING_URI when set; experiment "dabench", run name and tag
  `dabench.run_id` = the run id. A resumed run reopens the same MLflow run and logs only the
  steps after the last one it holds; a run started afresh (`--force`, or no checkpoint) deletes
  the old MLflow run of its id (and its old event files) first.

Both are optional extras (`pip install 'dabench[tensorboard]'` / `'dabench[mlflow]'`);
`check_available` says so in one line before anything trains.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from dabench.errors import DabenchError

TRACKERS = ("none", "tensorboard", "mlflow")
_NEEDS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}
MLFLOW_EXPERIMENT = "dabench"
MLFLOW_TAGS = ("dabench.run_id", "dabench.task", "dabench.method", "dabench.seed")


def check_available(kind: str) -> None:
    """One-line error when the tracker's package is not installed (no import of it)."""
    if kind in _NEEDS:
        module, extra = _NEEDS[kind]
        if importlib.util.find_spec(module) is None:
            raise DabenchError(f"--track {kind} needs the {module} package, which is not "
                               f"installed; pip install 'dabench[{extra}]' (or pip install "
                               f"{module})")


def _numbers(line: dict[str, Any], prefix: str) -> dict[str, float]:
    """The numeric entries of a metrics line (sub-target accuracies as prefix/name/group)."""
    out = {}
    for key, value in line.items():
        if key in ("step", "kind") or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[f"{prefix}/{key}"] = float(value)
        elif isinstance(value, dict):
            out.update({f"{prefix}/{key}/{k}": float(v) for k, v in value.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out


class Tracker:
    """The interface the loop calls; the base tracks nothing (`track=none`)."""

    def log(self, line: dict[str, Any]) -> None:
        """A metrics.jsonl line ({"step", "kind": "train" | "eval", numbers...})."""

    def finish(self, record: dict[str, Any]) -> None:
        """The run's result record, once it is written."""

    def close(self) -> None:
        """Always called (also when the run stops early); flushes what was logged."""


class TensorBoard(Tracker):
    def __init__(self, directory: Path, config: dict[str, Any], resume_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder = directory / "tensorboard"
        if not resume_step and folder.is_dir():  # a fresh start (--force, or no checkpoint)
            import shutil

            shutil.rmtree(folder)
        self.writer = SummaryWriter(str(folder),
                                    purge_step=resume_step + 1 if resume_step else None)
        if not resume_step:  # the settings once, when the run starts
            from torch.utils.tensorboard.summary import hparams

            values = {k: v for k, v in config.items() if isinstance(v, (int, float, str, bool))}
            writer = self.writer._get_file_writer()
            for summary in hparams(values, {"final/target_acc_last": 0.0}):
                writer.add_summary(summary)
            self.writer.add_text("config", "    " + json.dumps(config, indent=1, sort_keys=True)
                                 .replace("\n", "\n    "))

    def log(self, line: dict[str, Any]) -> None:
        for name, value in _numbers(line, line["kind"]).items():
            self.writer.add_scalar(name, value, line["step"])

    def finish(self, record: dict[str, Any]) -> None:
        step = record.get("steps_run", record.get("steps", 0))
        for name, value in _numbers(_final(record), "final").items():
            self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        self.writer.close()


class MLflow(Tracker):
    def __init__(self, root: Path, task: str, method: str, seed: int, run_id: str,
                 config: dict[str, Any], resume_step: int) -> None:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # the default: files in the runs folder (MLflow 3 asks for this opt-in)
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = (root.resolve() / "mlruns").as_uri()
        from mlflow.tracking import MlflowClient

        self.client = client = MlflowClient(uri)
        exp = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
        exp_id = exp.experiment_id if exp else client.create_experiment(MLFLOW_EXPERIMENT)
        found = client.search_runs([exp_id], f"tags.`dabench.run_id` = '{run_id}'",
                                   max_results=1)
        self.last = -1  # the last step the MLflow run holds: nothing at or before it again
        if found and not resume_step:  # a fresh start (--force, or no checkpoint): a new run
            client.delete_run(found[0].info.run_id)
            found = []
        if found:
            self.run = found[0].info.run_id
            for key in found[0].data.metrics:
                history = client.get_metric_history(self.run, key)
                self.last = max([self.last, *(m.step for m in history)])
            client.update_run(self.run, status="RUNNING")
        else:
            tags = dict(zip(MLFLOW_TAGS, (run_id, task, method, str(seed))))
            self.run = client.create_run(exp_id, run_name=run_id, tags=tags).info.run_id
            from mlflow.entities import Param

            params = [Param(k, str(v)[:500]) for k, v in sorted(config.items())]
            for i in range(0, len(params), 100):  # MLflow takes at most 100 params a call
                client.log_batch(self.run, params=params[i:i + 100])
        self.finished = False

    def _log(self, numbers: dict[str, float], step: int) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in numbers.items()]
        if metrics:
            self.client.log_batch(self.run, metrics=metrics)

    def log(self, line: dict[str, Any]) -> None:
        if line["step"] > self.last:
            self._log(_numbers(line, line["kind"]), line["step"])

    def finish(self, record: dict[str, Any]) -> None:
        self._log(_numbers(_final(record), "final"), record.get("steps_run", record["steps"]))
        self.finished = True

    def close(self) -> None:
        self.client.set_terminated(self.run, status="FINISHED" if self.finished else "KILLED")


def _final(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("target_acc_last", "target_acc_best", "best_step", "source_acc_last", "pad",
            "wall_time_s", "source_val_acc", "target_acc_source_val", "reverse_acc")
    return {k: record[k] for k in keep if record.get(k) is not None}


def open_tracker(kind: str, root: Path, directory: Path, task: str, cfg: Any,
                 resume_step: int) -> Tracker:
    """The run's tracker (`cfg.track`); `resume_step` > 0 when the run resumes from there."""
    check_available(kind)
    config = cfg.flat()
    if kind == "tensorboard":
        return TensorBoard(directory, config, resume_step)
    if kind == "mlflow":
        return MLflow(root, task, cfg.method, cfg.seed, cfg.run_id(), config, resume_step)
    return Tracker()
