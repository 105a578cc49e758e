"""Reverse validation (Ganin et al., JMLR 2016, Section 5.1.2; Zhong et al. 2010), at run time.

After the run's classifier eta has been trained on S' (labelled) and T' (unlabelled), with early
stopping on S_V, this trains the reverse classifier eta_r with the same method and settings on
the self-labelled target T' (labels eta(T')) as its labelled source and S' as its unlabelled
target, starting from eta's weights (`selection.reverse_start: warm`) or from a fresh
initialisation drawn from the run's seed (`scratch`, as the authors' release can:
`DANN.fit(..., do_random_init=True)` re-seeds and re-draws, DANN.py 64, 83-91 at 74eec5e), with
early stopping on the self-labelled T_V. The
accuracy of eta_r on S_V (true labels) at that point is the reverse-validation score: the
higher, the better eta's configuration (`dabench report --select reverse`). It goes through
the run's training phase (`dabench.training.phase.train_phase`) and writes
`reverse-metrics.jsonl` and `reverse.json` in the run folder.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Callable, Optional

from dabench.config import RunConfig
from dabench.data import TaskData
from dabench.data.batches import BatchStream
from dabench.data.holdout import for_evaluation, relabel
from dabench.runs import store as results
from dabench.training.evaluate import crop_averaged, predict_dataset
from dabench.training.phase import TrainState, train_phase
from dabench.methods import METHODS


def self_label(method, dataset, cfg: RunConfig, path) -> Any:
    """`dataset` with eta's predicted classes as its labels (its own labels are never read),
    predicted as an evaluation reads the inputs (the test transform)."""
    scored = for_evaluation(dataset)

    def logits(x):
        with path.autocast():
            return method.predict(x).float()

    ten_crop_aware = crop_averaged(logits)
    pred, _ = predict_dataset(lambda x: ten_crop_aware(path.put(x, scored)), scored,
                              cfg.eval_batch_size, cfg.num_workers)
    return relabel(dataset, pred)


def reverse_validate(cfg: RunConfig, data: TaskData, target_val: Any, path, state: TrainState,
                     directory: Path, interrupts,
                     fresh_net: Optional[Callable[[], Any]] = None) -> dict[str, Any]:
    """Train eta_r (see the module docstring); returns and stores its numbers. `fresh_net`
    builds an initialised network (needed for `selection.reverse_start: scratch`)."""
    eta = copy.deepcopy(state.method.net)
    if state.val_weights is not None:  # eta as early stopping on S_V left it
        eta.load_state_dict(state.val_weights)
    forward = METHODS.get(cfg.method)(eta, cfg)
    forward.autocast = path.autocast
    reverse = TaskData(source_train=self_label(forward, data.target_train, cfg, path),
                       source_test=self_label(forward, target_val, cfg, path),
                       target_train=data.source_train, target_test=data.source_test)
    start = copy.deepcopy(eta)
    if cfg.selection.reverse_start == "scratch":
        if fresh_net is None:
            raise ValueError("selection.reverse_start=scratch needs fresh_net")
        import torch

        with torch.random.fork_rng():  # the run's own random streams stay untouched
            torch.manual_seed(cfg.seed)
            start = fresh_net()
    method = METHODS.get(cfg.method)(start, cfg)  # a fresh optimizer
    method.autocast = path.autocast
    pin = path.device.type == "cuda"
    rstate = TrainState(method, [
        BatchStream(reverse.source_train, cfg.batch_size, cfg.seed * 2 + 3, cfg.num_workers, pin),
        BatchStream(reverse.target_train, cfg.batch_size, cfg.seed * 2 + 4, cfg.num_workers, pin,
                    replacement=cfg.target_sampling == "replacement")],
        validators=False)  # eta_r is scored by its S_V accuracy alone
    metrics = directory / "reverse-metrics.jsonl"
    metrics.unlink(missing_ok=True)
    t0 = time.perf_counter()
    train_phase(cfg, reverse, path, rstate, metrics, None, None, interrupts, t0)
    best = rstate.val_best or rstate.last_eval
    out = {"reverse_acc": best["target_acc"],  # eta_r on S_V, true labels
           "self_labelled_val_acc": best["source_acc"],  # eta_r on T_V, eta's labels
           "step": best["step"], "steps_run": rstate.step,
           "wall_time_s": round(time.perf_counter() - t0, 3)}
    results.write_json(directory / "reverse.json", out)
    return out
