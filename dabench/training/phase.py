"""One training phase: the steps of the one training loop, on a `TrainState`.

`dabench.training.loop.run` drives the run's phase (checkpoints, progress, the run folder);
reverse validation (`dabench.training.reverse`) drives a second phase on the self-labelled
data with the same function. Each step draws a source and a target batch, sets the learning
rate from the pure schedules and the method's adaptation weight (RevGrad's GRL coefficient),
calls `method.update`, logs every `log_every` steps, evaluates every `eval_every` steps and at
the end, and stops early on the source validation set when a holdout asks for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from dabench.config import RunConfig
from dabench.data import TaskData
from dabench.data.batches import BatchStream
from dabench.errors import DabenchError
from dabench.methods import Method
from dabench.runs import store as results
from dabench.runs.lock import RunLock
from dabench.training import schedules
from dabench.training.checkpoint import Checkpoint, Interrupts, StopAtBoundary
from dabench.training.device import DevicePath
from dabench.training.evaluate import (accuracy, crop_averaged, group_accuracy, outputs_dataset,
                                         predict_dataset)
from dabench.training.tracking import Tracker

ProgressFn = Callable[[int, int, dict[str, float]], None]  # (step, total, latest numbers)


def lr_factor(cfg: RunConfig, step: int) -> float:
    """The learning-rate factor at `step`, from the pure schedules; p runs over the whole run
    unless a horizon (in steps) is set."""
    o = cfg.optim
    if o.lr_update == "after":  # set after each step (TA3N): step i trains at p_(i-1)'s rate
        if step == 0:
            return 1.0
        step -= 1
    at = step + o.lr_step_offset  # TA3N: p starts one epoch in (optim.lr_step_offset)
    p_lr = at / o.lr_horizon if o.lr_horizon else schedules.progress(at, cfg.steps)
    return 1.0 if o.lr_schedule == "constant" else schedules.lr_factor(p_lr, o.lr_alpha, o.lr_beta)


def evaluate(method: Method, data: TaskData, cfg: RunConfig, path: DevicePath,
             validators: bool = False) -> dict:
    """The method's accuracy on the target test set (and its groups) and the source test set;
    with `validators`, also the label-free model-selection scores of
    dabench/analysis/validators.py from the same forward passes (target predictions, source and
    target features, source labels: never the target labels)."""
    def forward(dataset) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        def outputs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            net = method.net.eval()
            with path.autocast():
                feats = net.features(path.put(x, dataset))
                return net.classify(feats).float(), feats[net.embedding_key].float()  # (B, C), (B, D)
        return outputs

    def predictor(dataset) -> Callable[[torch.Tensor], torch.Tensor]:
        def logits(x: torch.Tensor) -> torch.Tensor:
            with path.autocast():
                return method.predict(x).float()

        ten_crop_aware = crop_averaged(logits)  # (B, 10, ...) batches of test_crops=ten
        return lambda x: ten_crop_aware(path.put(x, dataset))

    validators = validators and cfg.test_crops != "ten"  # validators read single-crop outputs
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
class TrainState:
    """Everything a training phase mutates; saved in checkpoints at step boundaries.
    `streams`: the source (or first) and the target BatchStream."""

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
    tracker: Tracker = field(default_factory=Tracker)  # --track (not saved)

    def loop_state(self) -> dict:
        return {"best": self.best, "last_eval": self.last_eval, "elapsed": self.elapsed,
                "sums": self.sums or {}, "val_best": self.val_best,
                "val_weights": self.val_weights, "since_val_best": self.since_val_best}


def train_phase(cfg: RunConfig, data: TaskData, path: DevicePath, state: TrainState,
                metrics: Path, ckpt: Optional[Checkpoint], on_progress: Optional[ProgressFn],
                interrupts: Interrupts, t0: float, lock: Optional[RunLock] = None) -> None:
    """Steps state.step .. cfg.steps (fewer when early stopping ends it); state is consistent
    whenever control leaves a step. Train and eval lines go to `metrics` (JSON lines); `ckpt`
    None: no checkpoints (the reverse classifier); `t0`: the perf_counter the phase's elapsed
    time counts from. Raises RunFailed on a non-finite loss, StopAtBoundary after a Ctrl-C.
    `lock`: the run's lock; once another process has taken it over, the next step (or the next
    checkpoint, which reads the lock file) raises LockLost before anything more is written."""
    method, (src, tgt) = state.method, state.streams
    for step in range(state.step, cfg.steps):
        lr, lam = lr_factor(cfg, step), method.adaptation_weight(step)
        method.set_lr_factor(lr)
        if lock is not None and lock.lost:  # the heartbeat found another owner
            lock.ensure_held()
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
            line = {"step": done, "kind": "train", "lambda": lam, "lr": cfg.optim.lr * lr,
                    **numbers}
            results.append_jsonl(metrics, line, sync=False)
            state.tracker.log(line)
            if on_progress:
                on_progress(done, cfg.steps, numbers)
        if done % cfg.eval_every == 0 or done == cfg.steps:
            state.last_eval = {"step": done, **evaluate(
                method, data, cfg, path, state.validators and cfg.selection.validators)}
            # not fsynced line by line (a resume drops the lines after its checkpoint anyway):
            # synced with each checkpoint and before the result is recorded
            results.append_jsonl(metrics, {"kind": "eval", **state.last_eval}, sync=False)
            state.tracker.log({"kind": "eval", **state.last_eval})
            if state.best is None or state.last_eval["target_acc"] > state.best["target_acc"]:
                state.best = state.last_eval
            stop = _early_stopping(cfg, state)
            state.elapsed = time.perf_counter() - t0
            due = done - state.checkpointed >= cfg.checkpoint_every
            if done < cfg.steps and ckpt is not None and not stop and due:
                state.checkpointed = done
                _check_finite({k: float(v) for k, v in (state.sums or {}).items()}, done)
                if lock is not None:
                    lock.ensure_held()  # never overwrite the checkpoint of the new owner
                with interrupts.critical():
                    results.sync_file(metrics)
                    ckpt.save(state)  # only a state whose losses are finite is kept
            if on_progress:
                on_progress(done, cfg.steps, {"target_acc": state.last_eval["target_acc"]})
            if stop:
                break
        if interrupts.requested:
            raise StopAtBoundary


def _early_stopping(cfg: RunConfig, state: TrainState) -> bool:
    """Track the best source-validation evaluation; True when `selection.patience` evaluations
    have passed without a better one, or with `selection.stop: release` by the DANN release's
    rule (`schedules.release_stop`) (only with a holdout, whose S_V is `source_test`)."""
    if cfg.selection.holdout <= 0:
        return False
    last = state.last_eval
    if state.val_best is None or last["source_acc"] >= state.val_best["source_acc"]:
        state.val_best, state.since_val_best = last, 0
        state.val_weights = {k: v.detach().clone() for k, v in
                             state.method.net.state_dict().items()}
        return False
    state.since_val_best += 1
    if cfg.selection.stop == "release":  # counted in evaluations (the release: passes)
        index = _eval_index(cfg, last["step"])
        return schedules.release_stop(index, _eval_index(cfg, state.val_best["step"]),
                                      cfg.selection.patience)
    return 0 < cfg.selection.patience <= state.since_val_best


def _eval_index(cfg: RunConfig, step: int) -> int:
    """0-based index of the evaluation after `step` steps (one every `eval_every`)."""
    return math.ceil(step / cfg.eval_every) - 1
