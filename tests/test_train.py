"""End-to-end runs of every method on a few steps of the real embedded task."""

from __future__ import annotations

import json
import signal

import pytest

from conftest import TINY
from dabench.training import loop as train
from dabench.config import resolve
from dabench.errors import DabenchError
from dabench.methods import METHODS
from dabench.runs.store import is_done, read_jsonl
from dabench.tasks.catalog import load_catalog


def tiny(method, seed=0, **extra):
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    return spec, resolve(spec, method, seed, {**TINY, **extra})


@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_runs_and_writes_its_run_folder(method, runs):
    spec, cfg = tiny(method)
    out = train.run(spec, cfg, runs)
    assert out.directory == runs / "mnist5k-to-mnistm5k" / method / cfg.run_id()
    assert is_done(out.directory) and not out.skipped
    assert not (out.directory / "checkpoint.pt").exists()  # removed once finished
    saved = json.loads((out.directory / "config.json").read_text())
    assert saved["config"] == cfg.flat() and saved["task_version"] == spec.version
    rec = out.record
    assert rec["target_total"] == 1000 and 0 <= rec["target_acc_last"] <= 1
    assert rec["target_acc_best"] >= rec["target_acc_last"]
    assert rec["target_correct_last"] == round(rec["target_acc_last"] * 1000)
    assert rec["model"] == {"source-only": "Source only", "revgrad": "RevGrad",  # the built-ins;
                            "target-only": "Target only"}.get(method, METHODS.get(method).label)
    # an installed plugin's method (examples/dabench-dan in CI) runs here too
    assert rec["versions"]["torch"] and rec["device"].startswith("cpu")
    assert 0.0 <= rec["pad"] <= 2.0
    import numpy as np

    feats = np.load(out.directory / "features.npz")
    assert feats["source_features"].shape == (200, 768) == feats["target_features"].shape
    assert feats["target_labels"].shape == (200,)
    lines = read_jsonl(out.directory / "metrics.jsonl")
    assert [l["step"] for l in lines if l["kind"] == "train"] == [2, 4, 6]
    assert [l["step"] for l in lines if l["kind"] == "eval"] == [3, 6]
    first = next(l for l in lines if l["kind"] == "train")
    if method == "revgrad":
        assert "domain_feature" in first and first["lambda"] > 0
    else:
        assert set(first) >= {"cls", "loss"} and "domain_feature" not in first


def test_finished_run_is_skipped_unless_forced(runs):
    spec, cfg = tiny("source-only")
    first = train.run(spec, cfg, runs)
    again = train.run(spec, cfg, runs)
    assert again.skipped and again.record == first.record
    forced = train.run(spec, cfg, runs, force=True)
    assert not forced.skipped
    assert forced.record["target_acc_last"] == first.record["target_acc_last"]  # deterministic


def test_a_run_leaves_the_callers_thread_count_and_determinism_as_they_were(runs, monkeypatch):
    """A run's `threads` and `deterministic` settings apply to the run only: a notebook (or the
    next run of a sweep) keeps its own, else the last bits of its losses change with the order
    in which runs happened to go."""
    import torch

    before = torch.get_num_threads()
    want = 1 if before > 1 else 2
    spec, cfg = tiny("source-only", threads=want, deterministic=True)
    seen = []
    real = train.train_phase

    def spy(*args, **kwargs):  # the thread count during the run
        seen.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()))
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "train_phase", spy)
    deterministic = torch.are_deterministic_algorithms_enabled()
    train.run(spec, cfg, runs)
    assert seen == [(want, True)]
    assert torch.get_num_threads() == before
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_seeds_give_different_runs(runs):
    spec, a = tiny("revgrad", seed=0)
    _, b = tiny("revgrad", seed=1)
    ra, rb = train.run(spec, a, runs), train.run(spec, b, runs)
    assert ra.directory != rb.directory

    def losses(r):
        return [m["loss"] for m in read_jsonl(r.directory / "metrics.jsonl") if m["kind"] == "train"]

    assert len(losses(ra)) == 3 and losses(ra) != losses(rb)  # other init, other batches


def _train_params(method, steps=3, **extra):
    import torch

    from dabench.models.build import build_network

    _, cfg = tiny(method, **extra)
    torch.manual_seed(0)
    m = METHODS.get(method)(build_network(10, cfg), cfg)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        xs, xt = torch.randn(8, 3, 28, 28, generator=g), torch.randn(8, 3, 28, 28, generator=g)
        ys = torch.randint(0, 10, (8,), generator=g)
        m.update((xs, ys), (xt, torch.full((8,), -1)), lam=0.8)
    return m.net.backbone.state_dict()


def test_revgrad_without_domain_loss_is_source_only():
    """The domain term is what moves RevGrad's features away from source-only's."""
    src = _train_params("source-only")
    off = _train_params("revgrad", **{"grl.weight": 0.0})
    on = _train_params("revgrad")
    assert all(torch_equal(src[k], off[k]) for k in src)
    assert not all(torch_equal(src[k], on[k]) for k in src)


def test_optim_name_picks_adam_with_the_lr_schedule_applied():
    import torch

    from dabench.models.build import build_network

    _, cfg = tiny("revgrad", **{"optim.name": "adam", "optim.lr": 0.001, "optim.momentum": 0.8})
    m = METHODS.get("revgrad")(build_network(10, cfg), cfg)
    assert isinstance(m.optimizer, torch.optim.Adam)
    assert m.optimizer.param_groups[0]["betas"] == (0.8, 0.999)
    m.set_lr_factor(0.5)
    assert m.optimizer.param_groups[0]["lr"] == pytest.approx(0.0005)
    _, sgd = tiny("revgrad", **{"optim.name": "sgd"})
    assert isinstance(METHODS.get("revgrad")(build_network(10, sgd), sgd).optimizer,
                      torch.optim.SGD)
    # Adam moves the weights differently from SGD on the same batches.
    a = _train_params("revgrad", **{"optim.name": "adam", "optim.lr": 0.001})
    b = _train_params("revgrad", **{"optim.name": "sgd", "optim.lr": 0.001})
    assert not all(torch_equal(a[k], b[k]) for k in a)


def torch_equal(a, b):
    import torch

    return torch.allclose(a, b, atol=1e-7)


def interrupted_at_step_4(runs, tmp_path):
    """A reference run, and the same run interrupted (Ctrl-C) after step 4 in `runs`."""
    spec, cfg = tiny("revgrad")
    reference = train.run(spec, cfg, tmp_path / "reference").record

    def interrupt(step, total, numbers):
        if step == 4:  # a first Ctrl-C: the loop checkpoints at the end of this step
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train.run(spec, cfg, runs, on_progress=interrupt)
    return spec, cfg, reference, runs / "mnist5k-to-mnistm5k" / "revgrad" / cfg.run_id()


def test_resume_after_interrupt_gives_the_same_result(runs, tmp_path):
    spec, cfg, reference, directory = interrupted_at_step_4(runs, tmp_path)
    assert (directory / "checkpoint.pt").is_file() and not is_done(directory)
    resumed = train.run(spec, cfg, runs).record
    for key in ("target_acc_last", "target_acc_best", "source_acc_last"):
        assert resumed[key] == reference[key]
    steps = [(l["kind"], l["step"]) for l in read_jsonl(directory / "metrics.jsonl")]
    assert steps == [("train", 2), ("eval", 3), ("train", 4), ("train", 6), ("eval", 6)]


def test_nan_loss_stops_with_a_clear_error(runs):
    spec, cfg = tiny("source-only", **{"optim.lr": 1e6, "steps": 40, "log_every": 1,
                                       "eval_every": 40})
    with pytest.raises(DabenchError, match=r"loss term '\w+' became (nan|inf) at step \d+"):
        train.run(spec, cfg, runs)


def test_cuda_requested_without_gpu(runs, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    spec, cfg = tiny("source-only", device="cuda")
    with pytest.raises(DabenchError, match="no CUDA GPU"):
        train.run(spec, cfg, runs)


@pytest.mark.parametrize("corrupt", [("checkpoint.pt",), ("checkpoint.pt", "checkpoint.prev.pt")])
def test_corrupt_checkpoint_falls_back_and_says_so(runs, tmp_path, caplog, corrupt):
    spec, cfg, reference, directory = interrupted_at_step_4(runs, tmp_path)
    assert (directory / "checkpoint.prev.pt").is_file()  # step 3, kept behind step 4's
    for name in corrupt:
        (directory / name).write_bytes(b"garbage, not a checkpoint")
    with caplog.at_level("WARNING", logger="dabench"):
        resumed = train.run(spec, cfg, runs).record
    assert "is unreadable" in caplog.text
    assert ("the run starts over from step 0" in caplog.text) == (len(corrupt) == 2)
    assert ("resumed from the previous checkpoint" in caplog.text) == (len(corrupt) == 1)
    assert resumed["target_acc_last"] == reference["target_acc_last"]
    steps = [(l["kind"], l["step"]) for l in read_jsonl(directory / "metrics.jsonl")]
    assert steps == [("train", 2), ("eval", 3), ("train", 4), ("train", 6), ("eval", 6)]


@pytest.mark.parametrize("extra, method, expected", [
    ({}, "revgrad", 64),  # the digits default: the same batch for both domains
    ({"target_batch_size": 16}, "revgrad", 16),
    ({"target_batch": "proportional"}, "revgrad", 64 * 1297 // 4000),  # 4,000 MNIST, 1,297 UCI
    ({"target_batch": "proportional"}, "target-only", 64),  # no source: one batch size
])
def test_target_batch_per_domain(extra, method, expected, runs, monkeypatch):
    """TA3N draws floor(128 x Nt / Ns) target items per step (script_train_val.sh 96-97)."""
    sizes = []

    class Recording(train.BatchStream):
        def __next__(self):
            x, y = super().__next__()
            sizes.append(len(x))
            return x, y

    monkeypatch.setattr(train, "BatchStream", Recording)
    spec = load_catalog().task("mnist-to-digits")
    cfg = resolve(spec, method, 0, {**TINY, "steps": 2, "eval_every": 2, "pad_samples": 0,
                                    "batch_size": 64,
                                    **extra})
    train.run(spec, cfg, runs)
    assert sizes[:4] == [64, expected, 64, expected]  # (source, target) per step
