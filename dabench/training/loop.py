"""The one training loop: every (task, method, seed) runs through `run()`.

Seeding happens here and only here. `run()` builds the data, the network and the method, runs
the training phase (`dabench.training.phase.train_phase`: the steps, logging, evaluation, early
stopping), checkpoints at evaluations, resumes from the last checkpoint of an unfinished run,
runs reverse validation when asked (`dabench.training.reverse`, a second phase through the same
function) and writes the run folder (config, metrics, features, result record).
"""

from __future__ import annotations

import json
import logging
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

import dabench
from dabench.atomic import atomic_file
from dabench.runs import store as results
from dabench.runs.lock import RunLock
from dabench.training.checkpoint import Checkpoint, Interrupts, StopAtBoundary
from dabench.config import RunConfig
from dabench.training.device import DevicePath, select_device
from dabench.data import data_provenance, incomplete_domains, load_task_data
from dabench.data.batches import BatchStream, target_batch_size
from dabench.data.holdout import for_evaluation, hold_out
from dabench.training.phase import ProgressFn, RunFailed, TrainState, train_phase
from dabench.training.reverse import reverse_validate
from dabench.training.tracking import open_tracker
from dabench.methods import METHODS, Method
from dabench.reporting.labels import model_label
from dabench.tasks.catalog import TaskSpec

log = logging.getLogger("dabench")


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


def run(task: TaskSpec, cfg: RunConfig, root: Path, data_root: Optional[Path] = None,
        force: bool = False, on_progress: Optional[ProgressFn] = None) -> RunOutcome:
    """Train and evaluate one (task, method, seed) and write its run directory.

    An unfinished run resumes from its checkpoint; a finished one is returned as it is unless
    `force`. Ctrl-C checkpoints at the end of the current step and raises KeyboardInterrupt.
    The process's torch thread count and deterministic-algorithms flag are restored afterwards,
    so a run's `threads` or `deterministic` setting does not leak into the caller (a notebook,
    the next run of a sweep, a test): the summation order, and so the last bits of every loss,
    depends on the thread count.
    """
    threads = torch.get_num_threads()
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        return _run(task, cfg, root, data_root, force, on_progress)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])


def _run(task: TaskSpec, cfg: RunConfig, root: Path, data_root: Optional[Path],
         force: bool, on_progress: Optional[ProgressFn]) -> RunOutcome:
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
    incomplete = incomplete_domains(task, data.domain_counts)
    for key, n in incomplete.items():
        log.warning("domain '%s' of %s has %d images where the complete dataset has %d: the run "
                    "is not comparable with published values (see `dabench data check %s`)",
                    key, task.name, n["found"], n["expected"], task.name)
    target_val = None
    if cfg.selection.holdout > 0:  # S -> S' + S_V, T -> T' + T_V (JMLR 2016 Section 5.1.2)
        data, target_val = hold_out(data, cfg.selection.holdout, cfg.seed,
                                    cfg.selection.source_val)
    path = DevicePath.for_run(device, cfg)

    def fresh_net() -> torch.nn.Module:  # the method's hook; also reverse validation's scratch start
        return path.prepare(method_cls.build_network(
            task.num_classes, cfg, getattr(data.source_train, "feature_dim", None)))

    method = method_cls(fresh_net(), cfg)
    method.autocast = path.autocast  # forward passes in bf16 on CUDA; backward outside it
    pin = device.type == "cuda"
    first = data.source_train if method.uses_source else data.target_train
    target_batch = (target_batch_size(cfg.batch_size, cfg.target_batch, cfg.target_batch_size,
                                      len(first), len(data.target_train))
                    if method.uses_source else cfg.batch_size)
    state = TrainState(method, [
        BatchStream(first, cfg.batch_size, cfg.seed * 2 + 1, cfg.num_workers, pin),
        BatchStream(data.target_train, target_batch, cfg.seed * 2 + 2, cfg.num_workers, pin,
                    replacement=cfg.target_sampling == "replacement")])
    with RunLock(directory) as lock:
        if results.is_done(directory) and not force:  # finished by another process meanwhile
            return RunOutcome(directory, results.read_result(directory), True)
        _prepare_directory(directory, task, cfg, force)
        ckpt = Checkpoint(directory)
        ckpt.resume(state)  # an unfinished run resumes where its last usable checkpoint left it
        _truncate_metrics(directory / "metrics.jsonl", state.step)
        (directory / "failed.json").unlink(missing_ok=True)
        t0 = time.perf_counter() - state.elapsed
        state.tracker = open_tracker(cfg.track, root, directory, task.name, cfg, state.step)
        try:
            with Interrupts() as interrupts:
                try:
                    train_phase(cfg, data, path, state, directory / "metrics.jsonl", ckpt,
                                on_progress, interrupts, t0, lock)
                except StopAtBoundary:  # first Ctrl-C, between two steps: save this state
                    state.elapsed = time.perf_counter() - t0
                    with interrupts.critical():
                        results.sync_file(directory / "metrics.jsonl")
                        ckpt.save(state)
                    raise KeyboardInterrupt from None
                # A second Ctrl-C (a plain KeyboardInterrupt) may land inside a step: that
                # state is mixed and never saved; the last boundary checkpoint stays.
                record = _result_record(task, cfg, state, device, time.perf_counter() - t0)
                record["domain_items"] = dict(data.domain_counts)
                if incomplete:  # the report marks the row and gives it no delta
                    record["incomplete_data"] = incomplete
                if cfg.selection.reverse and target_val is not None:
                    try:  # Ctrl-C here: the run resumes from its last checkpoint
                        record["reverse"] = reverse_validate(cfg, data, target_val, path, state,
                                                             directory, interrupts, fresh_net)
                    except StopAtBoundary:
                        raise KeyboardInterrupt from None
                    record["reverse_acc"] = record["reverse"]["reverse_acc"]
        except RunFailed as exc:
            results.mark_failed(directory, {"task": task.name, "method": cfg.method,
                                            "seed": cfg.seed, "step": state.step,
                                            "error": str(exc), "status": "failed"})
            state.tracker.close()
            raise
        except BaseException:
            state.tracker.close()
            raise
        record["target_eval"] = data.target_eval  # "test", or the split held out of training
        regenerated = data_provenance(data)  # e.g. `dabench data build mnistm`: not the original
        if regenerated:
            record["data_regenerated"] = regenerated
        # every evaluation's accuracies and validator scores, for the selection rules
        record["evaluations"] = _evaluations(directory / "metrics.jsonl")
        # with a holdout: on S' and T' (the paper's Figure 3b), with the weights early stopping
        # on S_V chose (the model the selection rules report)
        if cfg.proxy_a_distance_items > 0:
            pair = (for_evaluation(data.source_train), for_evaluation(data.target_train)) \
                if target_val is not None else (data.source_test, data.target_test)
            if state.val_weights is not None:
                method.net.load_state_dict(state.val_weights)
            record["pad"] = _export_features(method, pair, cfg, path, directory)
        for name in ("metrics.jsonl", "reverse-metrics.jsonl"):
            results.sync_file(directory / name)
        lock.ensure_held()  # taken over meanwhile: the other process records the result
        results.write_json(directory / "result.json", record)
        results.mark_done(directory)
        ckpt.clear()
        state.tracker.finish(record)
        state.tracker.close()
    return RunOutcome(directory, record, False)


def _prepare_directory(directory: Path, task: TaskSpec, cfg: RunConfig, force: bool) -> None:
    if force:
        for name in ("done", "result.json", "metrics.jsonl", "checkpoint.pt", "checkpoint.prev.pt",
                     "failed.json"):
            (directory / name).unlink(missing_ok=True)
    results.write_json(directory / "config.json", {
        "task": task.name, "task_version": task.version, "method": cfg.method, "seed": cfg.seed,
        "run_id": cfg.run_id(), "config": cfg.flat(), "sweep": list(cfg.sweep)})


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
                x = path.put(x, dataset)
                if x.ndim == 5:  # ten test crops per item (test_crops=ten): mean embedding
                    feats.append(net.embed(x.flatten(0, 1)).float().unflatten(
                        0, x.shape[:2]).mean(1).cpu())  # (B, D)
                else:
                    feats.append(net.embed(x).float().cpu())  # (B, D)
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


def _result_record(task: TaskSpec, cfg: RunConfig, state: TrainState, device: torch.device,
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
        "precision": "bf16" if cfg.amp and device.type == "cuda" else "fp32",
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
