"""`dabench report --view selection`: the model-selection study as a table (pure, no torch).

Per task and model, one row per rule (last, source-val, reverse and the validators of
dabench/analysis/validators.py): the target accuracy of what the rule picks across the
checkpoints (evaluations) and sweep configurations, mean ± std over seeds; the oracle (the best
target accuracy over the same candidates); the gap (oracle − pick, in points); and the Spearman
rank correlation between the rule's score and target accuracy over its candidates (mean over
seeds; signed so that > 0 means the rule ranks well). Then the mean over tasks of each (model,
rule). The study itself is `dabench.analysis.selection.study`.
"""

from __future__ import annotations

import statistics
from typing import Any, Optional

from dabench.analysis.selection import RULES, STUDY_RULES, Pick, study
from dabench.methods import method_order

COLUMNS = ["Task", "Model", "Rule", "Value", "±", "Oracle", "Gap", "ρ", "n", "Candidates"]
TITLE = ("Model selection study: target accuracy (%) each rule picks across checkpoints and "
         "sweep configurations, model selection: every rule, one row each (named in the Rule "
         "column)")


def _mean(values: list[float]) -> Optional[float]:
    return statistics.fmean(values) if values else None


def _std(values: list[float]) -> Optional[float]:
    return statistics.stdev(values) if len(values) > 1 else None


def _num(value: Optional[float], digits: int = 2, signed: bool = False) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _rule_note(name: str) -> str:
    """'<rule>: <its caption> — <paper>' (the validators' captions start with their name)."""
    rule = RULES[name]
    text = rule.caption if rule.caption.startswith(f"{name}:") else f"{name}: {rule.caption}"
    return text + (f" — {rule.paper}" if rule.paper else "")


def rows(records: list[dict[str, Any]], catalog=None) -> list[dict[str, Any]]:
    """One plain dict per (task, model, rule), then per (model, rule) the mean over the tasks
    where the rule picked in every seed (task "mean")."""
    picks = study(records)
    by: dict[tuple[str, str, str], list[Pick]] = {}
    for p in picks:
        by.setdefault((p.task, p.model, p.rule), []).append(p)
    order = {name: i for i, name in enumerate(catalog.tasks)} if catalog is not None else {}
    methods = {p.model: p.method for p in picks}
    keys = sorted(by, key=lambda k: (order.get(k[0], len(order)), k[0], method_order(methods[k[1]]),
                                     k[1], STUDY_RULES.index(k[2])))
    out = []
    for task, model, rule in keys:
        ps = sorted(by[(task, model, rule)], key=lambda p: p.seed)
        ok = [p for p in ps if p.value is not None]
        values = [100 * p.value for p in ok]
        oracles = [100 * p.oracle for p in ok]
        rhos = [p.rho for p in ps if p.rho is not None]
        out.append({"task": task, "model": model, "method": methods[model], "rule": rule,
                    "value": _mean(values), "std": _std(values), "oracle": _mean(oracles),
                    "gap": _mean([o - v for o, v in zip(oracles, values)]),
                    "rho": _mean(rhos), "n": len(ok), "seeds": [p.seed for p in ok],
                    "candidates": round(_mean([p.candidates for p in ps]) or 0),
                    "missing": len(ps) - len(ok)})
    for model in dict.fromkeys(r["model"] for r in out):
        for rule in STUDY_RULES:
            rs = [r for r in out if r["model"] == model and r["rule"] == rule and r["n"]]
            if not rs:
                continue
            rhos = [r["rho"] for r in rs if r["rho"] is not None]
            out.append({"task": "mean", "model": model, "method": rs[0]["method"], "rule": rule,
                        "value": _mean([r["value"] for r in rs]), "std": None,
                        "oracle": _mean([r["oracle"] for r in rs]),
                        "gap": _mean([r["gap"] for r in rs]),
                        "rho": _mean(rhos) if len(rhos) == len(rs) else None,
                        "n": len(rs), "seeds": [], "candidates": None, "missing": 0,
                        "tasks": len(rs)})
    return out


def selection_table(records: list[dict[str, Any]], catalog, notes: list[str] = ()
                    ) -> dict[str, Any]:
    """The study as the fields of one report `Table` (aggregate.py builds it: title, columns,
    cells, notes, records, row_runs)."""
    plain = rows(records, catalog)
    cells, row_runs = [], []
    for r in plain:
        task = r["task"] if r["task"] != "mean" else f"mean over {r['tasks']} task(s)"
        cells.append([task, r["model"], r["rule"], _num(r["value"]), _num(r["std"]),
                      _num(r["oracle"]), _num(r["gap"]), _num(r["rho"], 3), str(r["n"]),
                      "—" if r["candidates"] is None else str(r["candidates"])])
        row_runs.append([rec["run_dir"] for rec in records if rec.get("run_dir")
                         and rec["task"] == r["task"] and rec.get("model") == r["model"]])
    missing = sum(r["missing"] for r in plain if r["task"] != "mean")
    explain = [
        "Value: target accuracy (%) of the rule's pick, mean over seeds (n); ± sample std over "
        "seeds; Oracle: the best target accuracy over the same configurations and evaluations "
        "(selected with target labels); Gap = Oracle − Value (points); ρ: Spearman rank "
        "correlation between the rule's score and target accuracy over its candidates (every "
        "configuration x evaluation; reverse: one per configuration), mean over seeds, signed "
        "so that > 0 means the rule ranks well; Candidates: what the rule ranked per seed.",
        "mean rows: the mean over the tasks where the rule picked (n: those tasks; ρ only where "
        "every one of them has one).",
        *[_rule_note(name) for name in STUDY_RULES],
        "last: the last evaluation; over a sweep, the mean over its configurations (a "
        "configuration taken at random).",
    ]
    if missing:
        explain.append(f"{missing} (task, model, rule, seed) cell(s) without a pick: their runs "
                       "lack what the rule needs (selection.holdout for source-val, "
                       "selection.reverse for reverse, validators for the others)")
    return {"title": TITLE, "columns": list(COLUMNS), "cells": cells,
            "notes": [*explain, *notes], "row_runs": row_runs,
            "records": [{**{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()},
                         "selection": r["rule"]} for r in plain]}
