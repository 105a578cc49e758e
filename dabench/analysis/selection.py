"""Model selection rules for the report: which configuration (of a sweep) and which evaluation
of a run stand for a (task, method, seed). Pure functions over run records; no torch.

- `last`: the last evaluation of every run; no choice between configurations.
- `oracle`: the best target-test accuracy over evaluations, and over the configurations of a
  sweep (uses target labels: an upper bound on what selection can reach, as TA3N/AMEAN/TLlib
  report).
- `source-val`: the configuration and evaluation with the best accuracy on the held-out
  labelled source S_V (`selection.holdout`; early stopping on S_V).
- `reverse`: reverse validation (Ganin et al., JMLR 2016, Section 5.1.2): the configuration
  whose reverse classifier is most accurate on S_V (`selection.reverse`, trained at run time
  by dabench/training/reverse.py), at its S_V early-stopping evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from dabench.config import group_key


@dataclass(frozen=True)
class Rule:
    value: str  # the record field reported (a target accuracy in [0, 1])
    score: Optional[str]  # the field maximised to choose a configuration (None: no choice)
    caption: str  # how the table's caption names it
    needs: str = ""  # the setting that produces `score`, for the note on runs without it


RULES = {
    "last": Rule("target_acc_last", None, "last evaluation (uses no target labels)"),
    "oracle": Rule("target_acc_best", "target_acc_best",
                   "oracle: best target-test accuracy over evaluations "
                   "(selected with target labels, as TA3N/AMEAN/TLlib report)"),
    "source-val": Rule("target_acc_source_val", "source_val_acc",
                       "source-val: configuration and evaluation with the best accuracy on "
                       "held-out labelled source (uses no target labels)",
                       "--set selection.holdout=0.1"),
    "reverse": Rule("target_acc_source_val", "reverse_acc",
                    "reverse validation (JMLR 2016 Sec. 5.1.2): configuration whose reverse "
                    "classifier is most accurate on held-out source; early stopping on it "
                    "(uses no target labels)",
                    "--set selection.holdout=0.1 --set selection.reverse=true"),
}


def _base(record: dict[str, Any]) -> str:
    """(task, method, seed) and the run's group without its swept keys (dabench.config.
    group_key, the grouping the tables use: execution keys never split it): one choice each."""
    group = group_key(record["config"], leave_out=record.get("sweep", []))
    return json.dumps([record["task"], record["method"], record["seed"], group])


def select(records: list[dict[str, Any]], rule: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(one record per (task, method, seed, unswept config) chosen by `rule`, notes).

    A chosen record comes back with its swept keys removed from `config` (so seeds that chose
    differently still aggregate together) and the choice under `selected`. Runs without the
    numbers a rule needs are left out and counted in a note."""
    r = RULES[rule]
    if r.score is None:
        return list(records), []
    usable = [rec for rec in records if rec.get(r.score) is not None
              and rec.get(r.value) is not None]
    notes = []
    if len(usable) < len(records):
        notes.append(f"{len(records) - len(usable)} run(s) left out: they have no "
                     f"{r.score.replace('_', ' ')} (run them with {r.needs})")
    groups: dict[str, list[dict]] = {}
    for rec in usable:
        groups.setdefault(_base(rec), []).append(rec)
    chosen = []
    for recs in groups.values():
        # ties: the first in a stable order of the swept values
        recs = sorted(recs, key=lambda x: json.dumps(
            {k: x["config"].get(k) for k in x.get("sweep", [])}, sort_keys=True, default=str))
        best = max(recs, key=lambda x: x[r.score])
        swept = best.get("sweep", [])
        out = dict(best)
        out["config"] = {k: v for k, v in best["config"].items() if k not in swept}
        out["selected"] = {"rule": rule, "score": best[r.score], "candidates": len(recs),
                           "config": {k: best["config"].get(k) for k in swept}}
        chosen.append(out)
    return chosen, notes


def chosen_values(records: list[dict[str, Any]], key: str) -> dict[Any, int]:
    """How often each value of swept `key` was chosen (e.g. the lambda that wins most often)."""
    out: dict[Any, int] = {}
    for rec in records:
        value = rec.get("selected", {}).get("config", {}).get(key)
        if value is not None:
            out[value] = out.get(value, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
