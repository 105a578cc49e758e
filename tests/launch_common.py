"""Shared by the launcher tests: a 30-step run long enough to interrupt after its first
checkpoint, and its uninterrupted result with one torch thread (computed once per session)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import torch

LONG = {"steps": 30, "batch_size": 16, "eval_every": 10, "log_every": 5, "eval_batch_size": 500,
        "pad_samples": 0}


def sets(values: dict) -> list[str]:
    return [x for k, v in values.items() for x in ("--set", f"{k}={v}")]


@lru_cache(maxsize=None)
def reference(method: str, seed: int, threads: int) -> tuple[dict, tuple]:
    """(result record, (kind, step) of each metrics line) of the LONG run, uninterrupted, with
    `threads` torch threads (a worker's count: the summation order depends on it)."""
    from dabench.config import resolve
    from dabench.runs import store
    from dabench.tasks.catalog import load_catalog
    from dabench.training import loop as train

    spec = load_catalog().task("mnist5k-to-mnistm5k")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        outcome = train.run(spec, resolve(spec, method, seed, LONG), Path(tempfile.mkdtemp()))
    finally:
        torch.set_num_threads(before)
    lines = store.read_jsonl(outcome.directory / "metrics.jsonl")
    return outcome.record, tuple((r["kind"], r["step"]) for r in lines)
