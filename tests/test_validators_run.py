"""The validators at every evaluation of a real (tiny) run: stored in metrics.jsonl and in the
result's evaluations, without touching training."""

from __future__ import annotations

import pytest

from conftest import TINY
from dabench.analysis.validators import VALIDATORS
from dabench.config import resolve
from dabench.runs.store import read_jsonl
from dabench.tasks.catalog import load_catalog
from dabench.training import loop as train


@pytest.mark.slow  # two tiny runs: ~15 s on an idle core
def test_every_evaluation_stores_every_validator_and_training_is_unchanged(tmp_path):
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    cfg = resolve(spec, "revgrad", 0, {**TINY, "pad_samples": 0})
    off = resolve(spec, "revgrad", 0, {**TINY, "pad_samples": 0, "selection.validators": False})
    assert cfg.run_id() == off.run_id()  # an execution setting: the same run
    on = train.run(spec, cfg, tmp_path / "on")
    lines = [l for l in read_jsonl(on.directory / "metrics.jsonl") if l["kind"] == "eval"]
    assert [l["step"] for l in lines] == [3, 6]
    for line in lines:
        assert set(line["validators"]) == set(VALIDATORS) and line["validators_s"] > 0
        assert all(isinstance(v, float) for v in line["validators"].values())  # DEV on S_V too
        assert 0 <= line["validators"]["entropy"] <= 2.303  # at most log 10
    evals = on.record["evaluations"]
    assert [e["step"] for e in evals] == [3, 6]
    assert evals[-1]["target_acc"] == on.record["target_acc_last"]
    assert evals[-1]["snd"] == lines[-1]["validators"]["snd"]
    plain = train.run(spec, off, tmp_path / "off")
    plain_lines = read_jsonl(plain.directory / "metrics.jsonl")
    assert all("validators" not in l for l in plain_lines)
    # the validators draw from no random stream training uses: identical runs
    assert [l for l in read_jsonl(on.directory / "metrics.jsonl") if l["kind"] == "train"] == \
        [l for l in plain_lines if l["kind"] == "train"]
    for key in ("target_acc_last", "target_acc_best", "source_acc_last"):
        assert on.record[key] == plain.record[key]
    assert plain.record["evaluations"][-1] == {"step": 6, "target_acc": plain.record[
        "target_acc_last"], "source_acc": plain.record["source_acc_last"]}
