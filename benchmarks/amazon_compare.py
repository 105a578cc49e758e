"""Compare Amazon suite variants (e.g. reverse validation's warm vs scratch start, the `paper`
vs the `release` recipe) measured into separate runs folders by `amazon_suite.py`.

    python benchmarks/amazon_compare.py warm=runs-warm scratch=runs-scratch release=runs-rel

Per pair that every folder has complete (the whole grid of every seed present): DANN and NN
under reverse validation and under the oracle, per folder, and each folder's training time (the
sum of the runs' wall times, reverse validation included, and the median passes a DANN run
made). Only complete pairs are compared: a folder still being measured adds nothing partial.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path


def complete_pairs(records: list[dict], grid: int) -> dict[str, list[int]]:
    """{task: seeds} where a seed holds `grid` runs of the task (every sweep point)."""
    count: dict[tuple[str, int], int] = {}
    for r in records:
        count[(r["task"], r["seed"])] = count.get((r["task"], r["seed"]), 0) + 1
    out: dict[str, list[int]] = {}
    for (task, seed), n in count.items():
        if n == grid:
            out.setdefault(task, []).append(seed)
    return {t: sorted(s) for t, s in out.items()}


def selected(records: list[dict], rule: str, method: str) -> dict[tuple[str, int], float]:
    from dabench.analysis.selection import RULES, select

    return {(r["task"], r["seed"]): 100.0 * r[RULES[rule].value]
            for r in select(records, rule)[0] if r["method"] == method}


def main() -> None:
    from dabench.runs.store import load_records
    from dabench.tasks.catalog import load_catalog

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", help="LABEL=RUNS_DIR")
    ap.add_argument("--grid", type=int, default=20, help="runs per pair and seed (paper: 20)")
    args = ap.parse_args()
    catalog = load_catalog()
    variants = {}
    for item in args.folders:
        label, _, folder = item.partition("=")
        variants[label] = load_records(Path(folder))[0]
    complete = [complete_pairs(recs, args.grid) for recs in variants.values()]
    keys = sorted({(t, s) for c in complete for t, seeds in c.items() for s in seeds
                   if all(s in other.get(t, []) for other in complete)},
                  key=lambda k: (list(catalog.tasks).index(k[0]), k[1]))
    if not keys:
        sys.exit("no pair is complete in every folder yet")
    head = ["Pair", "seed"] + [f"{lab} {m} ({rule})" for lab in variants
                               for m, rule in (("DANN", "reverse"), ("NN", "reverse"),
                                               ("DANN", "oracle"))]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    cells = {lab: {(m, rule): selected(recs, rule, meth)
                   for m, meth in (("DANN", "revgrad"), ("NN", "source-only"))
                   for rule in ("reverse", "oracle")} for lab, recs in variants.items()}
    columns: list[list[float]] = [[] for _ in head[2:]]
    for task, seed in keys:
        row = [catalog.tasks[task].title, str(seed)]
        i = 0
        for lab in variants:
            for m, rule in (("DANN", "reverse"), ("NN", "reverse"), ("DANN", "oracle")):
                value = cells[lab][(m, rule)][(task, seed)]
                columns[i].append(value)
                row.append(f"{value:.1f}")
                i += 1
        print("| " + " | ".join(row) + " |")
    print("| **mean** | " + " | ".join(["—"] + [f"**{statistics.fmean(c):.2f}**"
                                                 for c in columns]) + " |")
    print()
    for lab, recs in variants.items():
        mine = [r for r in recs if (r["task"], r["seed"]) in set(keys)]
        wall = sum(r["wall_time_s"] + r.get("reverse", {}).get("wall_time_s", 0) for r in mine)
        passes = [r["steps_run"] / r["config"]["eval_every"] for r in mine
                  if r["method"] == "revgrad" and "steps_run" in r]
        rpasses = [r["reverse"]["steps_run"] / r["config"]["eval_every"] for r in mine
                   if r["method"] == "revgrad" and "reverse" in r]
        print(f"{lab}: {len(mine)} runs, {wall:.0f} s of run wall time (reverse validation "
              f"included); DANN median {statistics.median(passes):.0f} passes + "
              f"{statistics.median(rpasses):.0f} of reverse validation")


if __name__ == "__main__":
    main()
