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
- `entropy`, `im`, `bnm`, `snd`, `dev`: the label-free validators of
  dabench/analysis/validators.py, computed at every evaluation; the configuration and
  evaluation with the best score (the lowest for entropy and DEV).

`study` measures every rule at once (`dabench report --view selection`): per (task, method,
seed), the target accuracy each rule picks, the oracle's, and the Spearman rank correlation
between the rule's score and target accuracy over its candidates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from dabench.config import group_key
from dabench.analysis.validators import VALIDATORS


@dataclass(frozen=True)
class Rule:
    value: str  # the record field reported (a target accuracy in [0, 1])
    score: Optional[str]  # the field maximised to choose a configuration (None: no choice)
    caption: str  # how the table's caption names it
    needs: str = ""  # the setting that produces `score`, for the note on runs without it
    per_evaluation: bool = False  # `score` is a validator scored at every evaluation
    sign: int = 1  # +1: maximise the score; -1: minimise it
    paper: str = ""


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
                    "--set selection.holdout=0.1 --set selection.reverse=true",
                    paper="https://jmlr.org/papers/v17/15-239.html"),
    **{name: Rule(f"target_acc_{name}", f"{name}_score",
                  f"{name}: configuration and evaluation with the "
                  f"{'highest' if v.higher_is_better else 'lowest'} {v.title} (uses no target "
                  "labels)", "--set selection.validators=true, the default; runs made before "
                  "dabench computed validators need --force", True, 1 if v.higher_is_better else -1, v.paper)
       for name, v in VALIDATORS.items()},
}
STUDY_RULES = ("last", "source-val", "reverse", *VALIDATORS)  # `--view selection`, in order


def _base(record: dict[str, Any]) -> str:
    """(task, method, seed) and the run's group without its swept keys (dabench.config.
    group_key, the grouping the tables use: execution keys never split it): one choice each."""
    group = group_key(record["config"], leave_out=record.get("sweep", []))
    return json.dumps([record["task"], record["method"], record["seed"], group])


def in_run(record: dict[str, Any], rule: str) -> Optional[tuple[float, float]]:
    """(score, target accuracy) of what `rule` picks within one run; None if it cannot tell.

    Per-evaluation validators: the evaluation with the best score (ties: the later one);
    the others: the run's own fields (source-val and reverse: the S_V early-stopping
    evaluation; last: the last one, with no score)."""
    r = RULES[rule]
    if r.per_evaluation:
        evals = [e for e in record.get("evaluations", []) if e.get(rule) is not None]
        if not evals:
            return None
        best = max(evals, key=lambda e: (r.sign * e[rule], e["step"]))
        return best[rule], best["target_acc"]
    if record.get(r.value) is None or (r.score is not None and record.get(r.score) is None):
        return None
    return (record[r.score] if r.score else float("nan")), record[r.value]


def candidates(record: dict[str, Any], rule: str) -> list[tuple[float, float]]:
    """(score, target accuracy) of every evaluation a rule ranks in one run: every evaluation
    for the validators and source-val (accuracy on S_V; runs with a holdout only), the picked
    one for reverse (it scores configurations, not evaluations), none for last."""
    r = RULES[rule]
    if rule == "source-val" and record.get("source_val_acc") is None:
        return []  # no held-out S_V: the rule picks nothing here, so it ranks nothing either
    if rule == "source-val" or r.per_evaluation:
        key = "source_acc" if rule == "source-val" else rule
        return [(e[key], e["target_acc"]) for e in record.get("evaluations", [])
                if e.get(key) is not None]
    if rule == "reverse":
        pick = in_run(record, rule)
        return [pick] if pick else []
    return []


def select(records: list[dict[str, Any]], rule: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(one record per (task, method, seed, unswept config) chosen by `rule`, notes).

    A chosen record comes back with its swept keys removed from `config` (so seeds that chose
    differently still aggregate together) and the choice under `selected`. Runs without the
    numbers a rule needs are left out and counted in a note."""
    r = RULES[rule]
    if r.score is None:
        return list(records), []
    if r.per_evaluation:  # the run's best evaluation by the validator stands for the run
        picks = [(rec, in_run(rec, rule)) for rec in records]
        records = [rec if pick is None else {**rec, r.score: pick[0], r.value: pick[1]}
                   for rec, pick in picks]
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
        best = max(recs, key=lambda x: r.sign * x[r.score])
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


def spearman(xs: list[float], ys: list[float]) -> Optional[float]:
    """Spearman's rank correlation (average ranks for ties); None below 3 pairs or when either
    side is constant."""
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return None if sxx == 0 or syy == 0 else sxy / (sxx * syy) ** 0.5


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@dataclass
class Pick:
    """One rule on one (task, method, seed, unswept config) group of runs."""

    task: str
    method: str
    model: str
    seed: int
    rule: str
    value: Optional[float]  # target accuracy of the pick, in [0, 1] (None: the rule cannot tell)
    oracle: float  # the best target accuracy over the group's configurations and evaluations
    # Spearman(score, target accuracy) over `candidates`, signed so that > 0 means the rule's
    # preferred scores go with higher accuracy (negated for the rules that minimise)
    rho: Optional[float]
    candidates: int  # configurations x evaluations the rule ranked


def study(records: list[dict[str, Any]], rules: tuple[str, ...] = STUDY_RULES) -> list[Pick]:
    """Every rule's pick in every group of runs (a group: a (task, method, seed) and the
    config without its swept keys; its runs are the sweep's configurations)."""
    groups: dict[str, list[dict]] = {}
    for rec in records:
        groups.setdefault(_base(rec), []).append(rec)
    out = []
    for recs in groups.values():
        first = recs[0]
        oracle = max(r["target_acc_best"] for r in recs)
        for rule in rules:
            chosen, _ = select(recs, rule)
            value = chosen[0][RULES[rule].value] if chosen and rule != "last" else None
            if rule == "last":  # no choice between configurations: their mean
                value = sum(r["target_acc_last"] for r in recs) / len(recs)
            pairs = [c for r in recs for c in candidates(r, rule)]
            rho = spearman([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
            if rho is not None and RULES[rule].sign < 0:
                rho = -rho  # so that a positive rho always means "the rule ranks well"
            out.append(Pick(first["task"], first["method"], first.get("model", first["method"]),
                            first["seed"], rule, value, oracle, rho, len(pairs)))
    return out
