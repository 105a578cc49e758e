"""Reverse validation (JMLR 2016 Section 5.1.2) on two Gaussian domains where the right lambda
is known, and a short run of the shipped Amazon benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dabench.analysis.selection import select
from dabench.config import resolve
from dabench.runs.plan import build_plan
from dabench.runs.sweep import parse_sweep
from dabench.tasks.catalog import build_catalog, load_catalog
from dabench.training import loop as train

TASK = """family: gauss
dataset: Gaussians
version: 1
modality: vectors
classes: [a, b]
domains:
  s: {name: S, loader: vectors, options: {train: s_train.npz, test: s_test.npz}}
  t: {name: T, loader: vectors, options: {train: t_train.npz, test: t_test.npz}}
defaults:
  backbone.name: shallow
  backbone.width: 8
  model.classifier_layers: 0
  model.domain_layers: 0
  grl.schedule: constant
  optim.name: sgd
  optim.momentum: 0.0
  optim.lr_schedule: constant
  optim.lr: 0.1
  batch_size: 32
  steps: 300
  eval_every: 25
  log_every: 25
  pad_samples: 0
  selection.holdout: 0.1
  selection.reverse: true
  selection.patience: 4
  threads: 1
tasks:
  s-to-t: {title: S-to-T, source: s, targets: [t]}
"""


def gaussians(folder: Path) -> None:
    """Label in dimension 0 (class means -1.5 / +1.5); the target is shifted by +1 in the other
    four dimensions, which carry no label information."""
    rng = np.random.default_rng(0)
    for domain, shift in (("s", 0.0), ("t", 1.0)):
        for split, n in (("train", 400), ("test", 400)):
            y = rng.integers(0, 2, n)
            x = rng.normal(size=(n, 5)).astype(np.float32)
            x[:, 0] += 3.0 * y - 1.5
            x[:, 1:] += shift
            np.savez(folder / f"{domain}_{split}.npz", x=x, y=y)


@pytest.mark.slow
def test_reverse_validation_picks_the_lambda_that_is_better_on_the_target(tmp_path):
    gaussians(tmp_path)
    (tmp_path / "gauss.yaml").write_text(TASK)
    catalog = build_catalog([tmp_path / "gauss.yaml"])
    # lambda 0.05 keeps the label information; lambda 50 drowns it in the domain loss
    plan = build_plan(catalog, ["s-to-t"], ["revgrad"], [0], {},
                      [parse_sweep("grl.weight=0.05,50")])
    records = [train.run(spec, cfg, tmp_path / "runs").record for spec, cfg in plan]
    good, bad = sorted(records, key=lambda r: r["config"]["grl.weight"])
    print({k: (good[k], bad[k]) for k in ("target_acc_source_val", "reverse_acc")})
    assert good["target_acc_source_val"] > 0.85 > bad["target_acc_source_val"] + 0.1
    assert good["reverse_acc"] > bad["reverse_acc"]  # the reverse classifier sees it
    chosen, _ = select(records, "reverse")
    assert [c["selected"]["config"]["grl.weight"] for c in chosen] == [0.05]
    rv = json.loads((tmp_path / "runs" / "s-to-t" / "revgrad" / plan[0][1].run_id()
                     / "reverse.json").read_text())
    assert rv["reverse_acc"] == records[0]["reverse_acc"] and rv["steps_run"] >= 25


@pytest.mark.slow
def test_short_amazon_run_from_the_shipped_files(tmp_path):
    spec = load_catalog().task("books-to-dvd")
    cfg = resolve(spec, "revgrad", 0, {"steps": 224, "eval_every": 56, "pad_samples": 200,
                                       "grl.weight": 0.6, "threads": 1})
    rec = train.run(spec, cfg, tmp_path).record
    assert rec["target_total"] == 3586  # dvd_test.svmlight
    assert rec["target_acc_source_val"] > 0.6 and rec["source_val_acc"] > 0.6
    assert 0.5 <= rec["reverse_acc"] <= 1.0 and rec["pad"] is not None
