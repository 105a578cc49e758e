"""A per-task summary of a swept benchmark under several selection rules (pure, no torch).

For each task and method: the selected target accuracy (mean ± std over seeds) under each rule,
the published value, the proxy A-distance of the selected runs, and which swept values the
rule chose. `benchmarks/amazon_suite.py` prints it as the README's "Measured" table.
"""

from __future__ import annotations

import statistics
from typing import Any, Optional

from dabench.analysis.selection import RULES, chosen_values, select


def _mean_std(values: list[float]) -> tuple[Optional[float], Optional[float]]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def summarise(records: list[dict[str, Any]], catalog, methods: tuple[str, ...],
              rules: tuple[str, ...] = ("reverse", "oracle")) -> list[dict[str, Any]]:
    """One dict per task (catalog order) with, per method and rule: `acc` (mean % over seeds),
    `std`, `n`, `pad` (mean), `chosen` ({swept key: {value: times}}), and `published`."""
    chosen = {rule: select(records, rule)[0] for rule in rules}
    out = []
    for name, spec in catalog.tasks.items():
        row: dict[str, Any] = {"task": name, "title": spec.title}
        for method in methods:
            pub = [p.value for p in spec.published if p.method == method]
            row[f"{method}.published"] = pub[0] if pub else None
            for rule in rules:
                recs = [r for r in chosen[rule] if r["task"] == name and r["method"] == method]
                acc, std = _mean_std([100.0 * r[RULES[rule].value] for r in recs])
                pads = [r["pad"] for r in recs if r.get("pad") is not None]
                keys = {k for r in recs for k in r.get("selected", {}).get("config", {})}
                row[f"{method}.{rule}"] = {
                    "acc": acc, "std": std, "n": len(recs),
                    "pad": statistics.fmean(pads) if pads else None,
                    "chosen": {k: chosen_values(recs, k) for k in sorted(keys)}}
        if any(row[f"{m}.{r}"]["n"] for m in methods for r in rules):
            out.append(row)
    return out


def markdown(rows: list[dict[str, Any]], methods: tuple[str, ...], labels: dict[str, str],
             rules: tuple[str, ...] = ("reverse", "oracle")) -> str:
    """The summary as a Markdown table with a mean row (over tasks every cell has)."""
    head = ["Pair"]
    for rule in rules:
        head += [f"{labels[m]} ({rule})" for m in methods]
    head += [f"{labels[m]} published" for m in methods]
    head += [f"PAD {labels[m]} ({rules[0]})" for m in methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cols: dict[int, list[float]] = {}

    def cell(i: int, value: Optional[float], std: Optional[float] = None, digits: int = 1) -> str:
        if value is None:
            return "—"
        cols.setdefault(i, []).append(value)
        return f"{value:.{digits}f}" + (f" ± {std:.1f}" if std is not None else "")

    for row in rows:
        n = max(row[f"{m}.{r}"]["n"] for m in methods for r in rules)  # seeds behind the row
        cells, i = [f"{row['title']} (n={n})"], 0
        for rule in rules:
            for m in methods:
                c = row[f"{m}.{rule}"]
                cells.append(cell(i, c["acc"], c["std"]))
                i += 1
        for m in methods:
            cells.append(cell(i, row[f"{m}.published"]))
            i += 1
        for m in methods:
            cells.append(cell(i, row[f"{m}.{rules[0]}"]["pad"], digits=2))
            i += 1
        lines.append("| " + " | ".join(cells) + " |")
    full = [c for c in cols.values() if len(c) == len(rows)]
    means = ["**mean**"] + [f"**{statistics.fmean(c):.2f}**" if len(c) == len(rows) else "—"
                            for c in (cols.get(i, []) for i in range(len(head) - 1))]
    if full:
        lines.append("| " + " | ".join(means) + " |")
    return "\n".join(lines) + "\n"
