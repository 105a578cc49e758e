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


# ---------------------------------------------------------------- starts and the release's rules

def _gauss_catalog(tmp_path):
    gaussians(tmp_path)
    (tmp_path / "gauss.yaml").write_text(TASK)
    return build_catalog([tmp_path / "gauss.yaml"])


def test_reverse_start_scratch_trains_eta_r_from_fresh_weights(tmp_path, monkeypatch):
    """warm: eta_r starts from eta's weights; scratch: from a fresh initialisation drawn from the
    run's seed (the release's do_random_init); eta itself is the same either way."""
    import torch

    from dabench.methods.base import Method
    from dabench.models.build import build_network

    catalog = _gauss_catalog(tmp_path)
    task = catalog.task("s-to-t")
    built: list[list] = []  # the weights every Method starts from, in order
    real = Method.__init__

    def spy(self, net, cfg):
        built.append([p.detach().clone() for p in net.parameters()])
        real(self, net, cfg)

    monkeypatch.setattr(Method, "__init__", spy)
    records, starts = {}, {}
    for start in ("warm", "scratch"):
        built.clear()
        # 16 steps: eta_r is still far from converged, so its start shows in its accuracy (at 50
        # steps both starts reach the same accuracies on these Gaussians)
        cfg = resolve(task, "revgrad", 0, {"steps": 16, "selection.reverse_start": start})
        records[start] = train.run(task, cfg, tmp_path / "runs").record
        eta, starts[start] = built[-2], built[-1]  # eta (labelling T'), then eta_r's start
        assert all(torch.equal(a, b) for a, b in zip(eta, starts[start])) == (start == "warm")
    assert records["warm"]["target_acc_source_val"] == records["scratch"]["target_acc_source_val"]
    assert records["warm"]["run_id"] == resolve(task, "revgrad", 0, {"steps": 16}).run_id()
    warm, scratch = records["warm"]["reverse"], records["scratch"]["reverse"]
    assert (warm["reverse_acc"], warm["self_labelled_val_acc"]) != (
        scratch["reverse_acc"], scratch["self_labelled_val_acc"])
    torch.manual_seed(0)
    fresh = list(build_network(2, resolve(task, "revgrad", 0, {}), 5).parameters())
    assert all(torch.equal(a, b) for a, b in zip(starts["scratch"], fresh))


def test_release_stop_rule_matches_the_release_loop():
    """DANN.py 95-167 at 74eec5e, replayed: the pass at which the release breaks."""
    from dabench.training.schedules import release_stop

    def release(risks):  # the release's loop over validation risks, one per pass
        best, continue_until = 2.0, 30
        for t, risk in enumerate(risks):
            if risk <= best:
                best, best_t = risk, t
                continue_until = max(continue_until, int(1.5 * t))
            elif t > continue_until:
                return t
        return len(risks)

    def ours(risks):
        best, best_t = 2.0, 0
        for t, risk in enumerate(risks):
            if risk <= best:
                best, best_t = risk, t
            elif release_stop(t, best_t, 30):
                return t
        return len(risks)

    rng = np.random.default_rng(1)
    for _ in range(200):
        risks = list(np.round(rng.uniform(0.1, 0.3, 200) - np.linspace(0, rng.uniform(0, 0.2),
                                                                         200), 2))
        assert ours(risks) == release(risks)
    assert ours([0.5] + [0.6] * 199) == 31  # never better after pass 0: stops at t = 31


def test_release_recipe_holds_out_the_tail_and_draws_targets_with_replacement():
    import torch

    from dabench.data.batches import BatchStream
    from dabench.data.holdout import last_split

    train_idx, val_idx = last_split(2000, 0.1)
    assert val_idx.tolist() == list(range(1800, 2000)) and train_idx.tolist() == list(range(1800))
    data = torch.utils.data.TensorDataset(torch.arange(100).float()[:, None], torch.zeros(100))
    stream = BatchStream(data, 10, seed=3, replacement=True)
    drawn = torch.cat([next(stream)[0][:, 0] for _ in range(10)])  # one "epoch"
    assert len(drawn) == 100 and len(set(drawn.tolist())) < 100  # repeats: with replacement
    perm = BatchStream(data, 10, seed=3)
    assert sorted(torch.cat([next(perm)[0][:, 0] for _ in range(10)]).tolist()) == \
        list(range(100))
    cfg = resolve(load_catalog().task("books-to-dvd"), "revgrad", 0, {"recipe": "release"})
    assert (cfg.selection.stop, cfg.selection.patience, cfg.steps // cfg.eval_every) == \
        ("release", 30, 200)
    assert (cfg.selection.source_val, cfg.target_sampling) == ("last", "replacement")


def test_release_recipe_run_stops_by_the_release_rule(tmp_path):
    catalog = _gauss_catalog(tmp_path)
    task = catalog.task("s-to-t")
    cfg = resolve(task, "revgrad", 0, {"selection.stop": "release", "selection.patience": 3,
                                       "steps": 2000, "selection.source_val": "last",
                                       "target_sampling": "replacement"})
    record = train.run(task, cfg, tmp_path / "runs").record
    evals = record["steps_run"] // cfg.eval_every
    best = record["source_val_step"] // cfg.eval_every - 1
    assert record["steps_run"] < 2000
    assert evals - 1 == max(3, int(1.5 * best)) + 1  # the first pass past the window
