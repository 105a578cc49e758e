"""The one training loop: every (task, method, seed) runs through `run()`.

Seeding happens here and only here. The loop draws a source and a target batch per step,
sets the learning rate from the pure schedules and asks the method for its adaptation weight
(RevGrad's GRL coefficient), calls
`method.update`, logs every `log_every` steps, evaluates every `eval_every` steps and at the
end, checkpoints at each evaluation, and resumes from the last checkpoint of an unfinished run.
One module past ~300 lines on purpose: it is the one training loop, and what it writes into the
run folder (config, metrics, features, result record) is kept beside the loop that writes it.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

import dabench
from dabench.atomic import atomic_file
from dabench.runs import store as results
from dabench.runs.lock import RunLock
from dabench.training import schedules
from dabench.training.checkpoint import Checkpoint, Interrupts, StopAtBoundary
from dabench.config import RunConfig
from dabench.training.device import DevicePath, select_device
from dabench.data import TaskData, load_task_data
from dabench.data.batches import BatchStream, target_batch_size
from dabench.data.holdout import hold_out
from dabench.errors import DabenchError
from dabench.training.evaluate import accuracy, group_accuracy, outputs_dataset, predict_dataset
from dabench.methods import METHODS, Method
from dabench.models.build import build_network
from dabench.reporting.labels import model_label
from dabench.tasks.catalog import TaskSpec

log = logging.getLogger("dabench")
ProgressFn = Callable[[int, int, dict[str, float]], None]  # (step, total, latest numbers)


@dataclass
class RunOutcome:
    directory: Path
    record: dict[str, Any]
    skipped: bool  # finished before; not run again


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def _lr_factor(cfg: RunConfig, step: int) -> float:
    """The learning-rate factor at `step`, from the pure schedules; p runs over the whole run
    unless a horizon (in steps) is set."""
    o = cfg.optim
    at = step + o.lr_step_offset  # TA3N: p starts one epoch in (optim.lr_step_offset)
    p_lr = at / o.lr_horizon if o.lr_horizon else schedules.progress(at, cfg.steps)
    return 1.0 if o.lr_schedule == "constant" else schedules.lr_factor(p_lr, o.lr_alpha, o.lr_beta)


def evaluate(method: Method, data: TaskData, cfg: RunConfig, path: DevicePath,
             validators: bool = False) -> dict:
    """Target and source accuracy; with `validators`, also the label-free model-selection
    scores of dabench/analysis/validators.py from the same forward passes (target predictions,
    source and target features, source labels: never the target labels)."""
    def forward(dataset) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        def outputs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            net = method.net.eval()
            with path.autocast():
                feats = net.features(path.put(x, dataset))
                return net.classify(feats).float(), feats[net.embedding_key].float()  # (B, C), (B, D)
        return outputs

    def predictor(dataset) -> Callable[[torch.Tensor], torch.Tensor]:
        def predict(x: torch.Tensor) -> torch.Tensor:
            with path.autocast():
                return method.predict(path.put(x, dataset)).float()
        return predict

    if validators:
        tlogits, tfeats, labels = outputs_dataset(forward(data.target_test), data.target_test,
                                                  cfg.eval_batch_size, cfg.num_workers)
        slogits, sfeats, slabels = outputs_dataset(forward(data.source_test), data.source_test,
                                                   cfg.eval_batch_size, cfg.num_workers)
        pred, spred = tlogits.argmax(1), slogits.argmax(1)
    else:
        pred, labels = predict_dataset(predictor(data.target_test), data.target_test,
                                       cfg.eval_batch_size, cfg.num_workers)
        spred, slabels = predict_dataset(predictor(data.source_test), data.source_test,
                                         cfg.eval_batch_size, cfg.num_workers)
    out: dict[str, Any] = {"target_acc": accuracy(pred, labels)}
    if len(data.target_names) > 1:
        out["target_groups"] = group_accuracy(pred, labels, data.target_groups, data.target_names)
    out["source_acc"] = accuracy(spred, slabels)
    out["target_correct"] = int((pred == labels).sum())
    out["target_total"] = len(labels)
    if validators:
        from dabench.analysis import validators as v

        t0 = time.perf_counter()
        out["validators"] = v.compute(
            v.softmax(tlogits.double().numpy()), tfeats.numpy(), v.softmax(slogits.double().numpy()),
            sfeats.numpy(), slabels.numpy(), cfg.selection.validator_items, cfg.seed)
        out["validators_s"] = round(time.perf_counter() - t0, 4)  # what they cost (benchmarks)
    return out


def _check_finite(numbers: dict[str, float], step: int) -> None:
    for name, value in numbers.items():
        if not math.isfinite(value):
            raise RunFailed(f"loss term '{name}' became {value} at step {step}; lower the "
                               "learning rate (--set optim.lr=...) or enable gradient clipping "
                               "(--set optim.clip_grad_norm=20)")


class RunFailed(DabenchError):
    """A run stopped on a training error (non-finite loss); its folder records it as failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=1)


@dataclass
class _State:
    """Everything the loop mutates; saved in checkpoints at step boundaries."""

    method: Method
    streams: list[BatchStream]
    step: int = 0  # completed steps
    best: Optional[dict] = None
    last_eval: Optional[dict] = None
    elapsed: float = 0.0
    sums: Optional[dict] = None  # loss sums since the last log line
    # early stopping on the source validation set (selection.holdout > 0): the evaluation with
    # the best source_acc (on S_V; ties go to the later one), the weights then, and the count
    # of evaluations since
    val_best: Optional[dict] = None
    val_weights: Optional[dict] = None
    since_val_best: int = 0
    checkpointed: int = 0  # the step of the last checkpoint (not saved: a resume starts there)
    validators: bool = True  # compute the validators at each evaluation (not for eta_r)

    def loop_state(self) -> dict:
        return {"best": self.best, "last_eval": self.last_eval, "elapsed": self.elapsed,
                "sums": self.sums or {}, "val_best": self.val_best,
                "val_weights": self.val_weights, "since_val_best": self.since_val_best}


def run(task: TaskSpec, cfg: RunConfig, root: Path, data_root: Optional[Path] = None,
        force: bool = False, on_progress: Optional[ProgressFn] = None) -> RunOutcome:
    """Train and evaluate one (task, method, seed) and write its run directory.

    An unfinished run resumes from its checkpoint; a finished one is returned as it is unless
    `force`. Ctrl-C checkpoints at the end of the current step and raises KeyboardInterrupt.
    """
    directory = results.run_dir(root, task.name, cfg.method, cfg.run_id())
    if results.is_done(directory) and not force:
        try:
            return RunOutcome(directory, results.read_result(directory), True)
        except results.DamagedRun as exc:  # run it again; the other runs are not touched
            log.warning("%s; running it again", exc)
            force = True
    method_cls = METHODS.get(cfg.method)
    device = select_device(cfg.device)
    # Data and model first: bad data or weights fail here, before anything is written.
    seed_everything(cfg.seed, cfg.deterministic)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = load_task_data(task, data_root, config=cfg)
    target_val = None
    if cfg.selection.holdout > 0:  # S -> S' + S_V, T -> T' + T_V (JMLR 2016 Section 5.1.2)
        data, target_val = hold_out(data, cfg.selection.holdout, cfg.seed)
    path = DevicePath.for_run(device, cfg)
    method = method_cls(path.prepare(build_network(
        task.num_classes, cfg, getattr(data.source_train, "feature_dim", None))), cfg)
    method.autocast = path.autocast  # forward passes in bf16 on CUDA; backward outside it
    pin = device.type == "cuda"
    first = data.source_train if method.uses_source else data.target_train
    target_batch = (target_batch_size(cfg.batch_size, cfg.target_batch, cfg.target_batch_size,
                                      len(first), len(data.target_train))
                    if method.uses_source else cfg.batch_size)
    state = _State(method, [
        BatchStream(first, cfg.batch_size, cfg.seed * 2 + 1, cfg.num_workers, pin),
        BatchStream(data.target_train, target_batch, cfg.seed * 2 + 2, cfg.num_workers, pin)])
    with RunLock(directory):
        if results.is_done(directory) and not force:  # finished by another process meanwhile
            return RunOutcome(directory, results.read_result(directory), True)
        _prepare_directory(directory, task, cfg, force)
        ckpt = Checkpoint(directory)
        ckpt.resume(state)  # an unfinished run resumes where its last usable checkpoint left it
        _truncate_metrics(directory / "metrics.jsonl", state.step)
        (directory / "failed.json").unlink(missing_ok=True)
        t0 = time.perf_counter() - state.elapsed
        try:
            with Interrupts() as interrupts:
                try:
                    _train(cfg, data, path, state, directory / "metrics.jsonl", ckpt,
                           on_progress, interrupts, t0)
                except StopAtBoundary:  # first Ctrl-C, between two steps: save this state
                    state.elapsed = time.perf_counter() - t0
                    with interrupts.critical():
                        results.sync_file(directory / "metrics.jsonl")
                        ckpt.save(state)
                    raise KeyboardInterrupt from None
                # A second Ctrl-C (a plain KeyboardInterrupt) may land inside a step: that
                # state is mixed and never saved; the last boundary checkpoint stays.
                record = _result_record(task, cfg, state, device, time.perf_counter() - t0)
                if cfg.selection.reverse and target_val is not None:
                    from dabench.training.reverse import reverse_validate

                    try:  # Ctrl-C here: the run resumes from its last checkpoint
                        record["reverse"] = reverse_validate(cfg, data, target_val, path, state,
                                                             directory, interrupts)
                    except StopAtBoundary:
                        raise KeyboardInterrupt from None
                    record["reverse_acc"] = record["reverse"]["reverse_acc"]
        except RunFailed as exc:
            results.mark_failed(directory, {"task": task.name, "method": cfg.method,
                                            "seed": cfg.seed, "step": state.step,
                                            "error": str(exc), "status": "failed"})
            raise
        record["target_eval"] = data.target_eval  # "test", or the split held out of training
        # every evaluation's accuracies and validator scores, for the selection rules
        record["evaluations"] = _evaluations(directory / "metrics.jsonl")
        # with a holdout: on S' and T' (the paper's Figure 3b), with the weights early stopping
        # on S_V chose (the model the selection rules report)
        if cfg.proxy_a_distance_items > 0:
            pair = (data.source_train, data.target_train) if target_val is not None else \
                (data.source_test, data.target_test)
            if state.val_weights is not None:
                method.net.load_state_dict(state.val_weights)
            record["pad"] = _export_features(method, pair, cfg, path, directory)
        for name in ("metrics.jsonl", "reverse-metrics.jsonl"):
            results.sync_file(directory / name)
        results.write_json(directory / "result.json", record)
        results.mark_done(directory)
        ckpt.clear()
    return RunOutcome(directory, record, False)


def _prepare_directory(directory: Path, task: TaskSpec, cfg: RunConfig, force: bool) -> None:
    if force:
        for name in ("done", "result.json", "metrics.jsonl", "checkpoint.pt", "checkpoint.prev.pt",
                     "failed.json"):
            (directory / name).unlink(missing_ok=True)
    results.write_json(directory / "config.json", {
        "task": task.name, "task_version": task.version, "method": cfg.method, "seed": cfg.seed,
        "run_id": cfg.run_id(), "config": cfg.flat(), "sweep": list(cfg.sweep)})


def _train(cfg: RunConfig, data: TaskData, path: DevicePath, state: _State, metrics: Path,
           ckpt: Optional[Checkpoint], on_progress: Optional[ProgressFn],
           interrupts: Interrupts, t0: float) -> None:
    """Steps state.step .. cfg.steps (fewer when early stopping ends it); state is consistent
    whenever control leaves a step. `ckpt` None: no checkpoints (the reverse classifier)."""
    method, (src, tgt) = state.method, state.streams
    for step in range(state.step, cfg.steps):
        lr, lam = _lr_factor(cfg, step), method.adaptation_weight(step)
        method.set_lr_factor(lr)
        (xs, ys), (xt, yt) = next(src), next(tgt)
        if not method.uses_target_labels:
            yt = torch.full_like(yt, -1)  # target labels never reach an adapting method
        xs, xt = path.put(xs, src.dataset, True), path.put(xt, tgt.dataset, True)
        terms = method.update((xs, path.put(ys)), (xt, path.put(yt)), lam)
        sums = state.sums or {}
        state.sums = {k: sums.get(k, 0) + v for k, v in terms.items()}
        state.step = done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            n = (done - 1) % cfg.log_every + 1
            numbers = {k: float(v) / n for k, v in state.sums.items()}  # one sync per log line
            state.sums = None
            _check_finite(numbers, done)
            results.append_jsonl(metrics, {"step": done, "kind": "train", "lambda": lam,
                                           "lr": cfg.optim.lr * lr, **numbers}, sync=False)
            if on_progress:
                on_progress(done, cfg.steps, numbers)
        if done % cfg.eval_every == 0 or done == cfg.steps:
            state.last_eval = {"step": done, **evaluate(
                method, data, cfg, path, state.validators and cfg.selection.validators)}
            # not fsynced line by line (a resume drops the lines after its checkpoint anyway):
            # synced with each checkpoint and before the result is recorded
            results.append_jsonl(metrics, {"kind": "eval", **state.last_eval}, sync=False)
            if state.best is None or state.last_eval["target_acc"] > state.best["target_acc"]:
                state.best = state.last_eval
            stop = _early_stopping(cfg, state)
            state.elapsed = time.perf_counter() - t0
            due = done - state.checkpointed >= cfg.checkpoint_every
            if done < cfg.steps and ckpt is not None and not stop and due:
                state.checkpointed = done
                _check_finite({k: float(v) for k, v in (state.sums or {}).items()}, done)
                with interrupts.critical():
                    results.sync_file(metrics)
                    ckpt.save(state)  # only a state whose losses are finite is kept
            if on_progress:
                on_progress(done, cfg.steps, {"target_acc": state.last_eval["target_acc"]})
            if stop:
                break
        if interrupts.requested:
            raise StopAtBoundary


def _early_stopping(cfg: RunConfig, state: _State) -> bool:
    """Track the best source-validation evaluation; True when `selection.patience` evaluations
    have passed without a better one (only with a holdout, whose S_V is `source_test`)."""
    if cfg.selection.holdout <= 0:
        return False
    last = state.last_eval
    if state.val_best is None or last["source_acc"] >= state.val_best["source_acc"]:
        state.val_best, state.since_val_best = last, 0
        state.val_weights = {k: v.detach().clone() for k, v in
                             state.method.net.state_dict().items()}
        return False
    state.since_val_best += 1
    return 0 < cfg.selection.patience <= state.since_val_best


def _export_features(method: Method, pair: tuple, cfg: RunConfig, path: DevicePath,
                     directory: Path) -> Optional[float]:
    """Embed up to `proxy_a_distance_items` source and target test items: save them in
    features.npz (for `dabench plot features`) and return their proxy A-distance (None for tiny
    domains)."""
    from dabench.analysis.proxy_a_distance import proxy_a_distance

    net = method.net.eval()
    out = {}
    for name, dataset in zip(("source", "target"), pair):
        n = min(cfg.proxy_a_distance_items, len(dataset))
        idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(cfg.seed))[:n]
        if hasattr(dataset, "take"):  # feature vectors: sparse batches, no DataLoader
            batches = (dataset.take(part) for part in idx.split(cfg.eval_batch_size))
        else:
            batches = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, idx.tolist()),
                                                  batch_size=cfg.eval_batch_size)
        feats, labels = [], []
        with torch.no_grad(), path.autocast():
            for x, y in batches:
                feats.append(net.embed(path.put(x, dataset)).float().cpu())  # (B, D)
                labels.append(y)
        out[f"{name}_features"] = torch.cat(feats).numpy()
        out[f"{name}_labels"] = torch.cat(labels).numpy()
    with atomic_file(directory / "features.npz") as fh:
        np.savez_compressed(fh, **{k: v.astype(np.float16) if v.dtype == np.float32 else v
                                   for k, v in out.items()})
    if min(len(out["source_features"]), len(out["target_features"])) < 8:
        return None  # too few items to split into train / validation / test
    return proxy_a_distance(out["source_features"], out["target_features"], seed=cfg.seed)


def _evaluations(path: Path) -> list[dict[str, Any]]:
    """The evaluation lines of metrics.jsonl, flat: step, target_acc, source_acc and each
    validator's score (what `report --select` and `--view selection` choose among)."""
    return [{"step": r["step"], "target_acc": r["target_acc"], "source_acc": r["source_acc"],
             **r.get("validators", {})}
            for r in results.read_jsonl(path) if r.get("kind") == "eval"]


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after the checkpoint we resume from, so no step appears twice."""
    if not path.exists():
        return
    kept = [r for r in results.read_jsonl(path) if r.get("step", 0) <= step]
    results.write_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))


def _result_record(task: TaskSpec, cfg: RunConfig, state: _State, device: torch.device,
                   wall: float) -> dict[str, Any]:
    last, best = state.last_eval, state.best
    record: dict[str, Any] = {
        "task": task.name, "task_version": task.version, "dataset": task.dataset,
        "title": task.title, "method": cfg.method, "model": model_label(cfg.method, cfg.flat(), len(task.recipes) > 1),
        "recipe": cfg.recipe, "seed": cfg.seed, "run_id": cfg.run_id(), "steps": cfg.steps,
        "target_acc_last": last["target_acc"], "target_acc_best": best["target_acc"],
        "best_step": best["step"], "source_acc_last": last["source_acc"],
        "target_correct_last": last["target_correct"], "target_total": last["target_total"],
        "wall_time_s": round(wall, 3), "device": _device_name(device),
        "versions": {"dabench": dabench.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "git_commit": results.git_commit(), "config": cfg.flat(), "sweep": list(cfg.sweep),
        "status": "done",
    }
    if state.val_best is not None:  # for `report --select source-val` / `reverse`
        record.update({"source_val_acc": state.val_best["source_acc"],
                       "target_acc_source_val": state.val_best["target_acc"],
                       "source_val_step": state.val_best["step"], "steps_run": state.step})
    if "target_groups" in last:
        record["target_groups_last"] = last["target_groups"]
        record["target_groups_best"] = best["target_groups"]
    return record


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
