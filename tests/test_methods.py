"""The method seam: a method brings its label, order and config section; nothing else changes."""

from __future__ import annotations

import subprocess
import sys

from dabench.config import KEYS, RunConfig
from dabench.methods import METHODS, method_label, method_order
from dabench.reporting.labels import model_label

NEW_METHOD = """
import sys
from dataclasses import dataclass
from dabench.methods import Method, register_method

@dataclass
class ToyConfig:
    alpha: float = 0.5

@register_method("toy", label="Toy DA", order=20, config={"toy": ToyConfig})
class Toy(Method):
    def loss(self, src, tgt, lam):
        raise AssertionError("not trained here")

from dabench.config import KEYS, RunConfig, parse_sets
from dabench.reporting.aggregate import Row, gap_notes
from dabench.reporting.labels import model_label
assert "toy.alpha" in KEYS and RunConfig().toy.alpha == 0.5, KEYS
assert parse_sets(["toy.alpha=0.25"]) == {"toy.alpha": 0.25}
assert model_label("toy", {"model.temporal": "tempooling"}) == "TemPooling + Toy DA"
rows = [Row("T", "D", "Accuracy (%)", v, m, 1, None, benchmark="t", method=m)
        for v, m in ((50.0, "source-only"), (60.0, "revgrad"), (70.0, "toy"), (90.0, "target-only"))]
notes = gap_notes(rows)
assert notes == ["D: revgrad closes 25% of the source-only -> target-only gap.",
                 "D: toy closes 50% of the source-only -> target-only gap."], notes
assert "torch" not in sys.modules, "method modules must not import torch at import time"
print("ok")
"""


def test_a_new_method_needs_no_edit_elsewhere():
    done = subprocess.run([sys.executable, "-c", NEW_METHOD], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_labels_order_and_sections_come_from_the_registry():
    # the built-ins (an installed plugin, e.g. examples/dabench-dan in CI, adds its own)
    assert {"revgrad", "source-only", "target-only"} <= set(METHODS.names())
    assert all(METHODS.get(m).__module__.startswith("dabench.methods.")
               for m in ("revgrad", "source-only", "target-only"))
    assert [method_label(m) for m in ("source-only", "revgrad", "target-only")] == [
        "Source only", "RevGrad", "Target only"]
    assert method_order("source-only") < method_order("revgrad") < method_order("target-only")
    assert model_label("source-only", {"model.temporal": "temrelation"}) == "TemRelation"
    assert model_label("gone-method", {}) == "gone-method"  # an old run's unknown method
    assert {k for k in KEYS if k.startswith("grl.")} == {
        "grl.gamma", "grl.horizon", "grl.max", "grl.schedule", "grl.weight"}
    assert RunConfig().grl.gamma == 10.0


def test_run_ids_do_not_change_when_a_method_or_a_rename_comes():
    """A later method's section (at its defaults) and a renamed key leave run ids as they were."""
    from dabench.config import identity, parse_sets

    cfg = RunConfig()
    body = identity(cfg.flat())
    assert "pad_samples" in body and "proxy_a_distance_items" not in body  # hashed by first name
    assert parse_sets(["pad_samples=0"]) == {"proxy_a_distance_items": 0}  # the old key: an alias
    assert {k for k in body if k.startswith("grl.")}  # RevGrad's section was always in the id
    code = NEW_METHOD.replace('print("ok")', "print(RunConfig().run_id())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == cfg.run_id()  # the toy method's section is not in the id
