"""Measure the embedded benchmark: mnist5k-to-mnistm5k, every method, several seeds, on this machine.

Runs through the same code path as `dabench run` (results land in a runs folder, so a second
invocation reuses finished runs), then prints the report table, the gap RevGrad closes, the wall
time per run, and writes everything as JSON.

    .venv/bin/python benchmarks/digits_table.py                  # 3 seeds x 3 methods
    .venv/bin/python benchmarks/digits_table.py --seeds 0 --methods revgrad

Output JSON: $OUT/digits_table.json if OUT is set, else benchmarks/out/digits_table.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from dabench.training import loop as train
from dabench.config import parse_sets, resolve
from dabench.reporting.render import render
from dabench.reporting.aggregate import build
from dabench.tasks.catalog import load_catalog


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="mnist5k-to-mnistm5k")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="source-only,revgrad,target-only")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--runs-dir", default="benchmarks/out/runs")
    args = ap.parse_args()

    spec = load_catalog().task(args.task)
    overrides = parse_sets(args.sets)
    records, walls = [], {}
    for method in args.methods.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            cfg = resolve(spec, method, seed, overrides)
            t0 = time.perf_counter()
            out = train.run(spec, cfg, Path(args.runs_dir))
            took = out.record["wall_time_s"] if out.skipped else time.perf_counter() - t0
            walls.setdefault(method, []).append(took)
            records.append(out.record)
            print(f"{method} seed {seed}: target {100 * out.record['target_acc_last']:.2f}% "
                  f"({took:.0f} s{', reused' if out.skipped else ''})", flush=True)
    catalog = load_catalog()
    tables = {sel: build(records, catalog, sel, "runs") for sel in ("last", "oracle")}
    print(render(tables["last"], "md"))
    summary = {
        "task": args.task, "seeds": args.seeds, "overrides": args.sets,
        "machine": f"{platform.machine()} {platform.processor()}, {os.cpu_count()} cores, "
                   f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        "wall_time_s": {m: {"mean": statistics.fmean(w), "max": max(w)} for m, w in walls.items()},
        "rows": json.loads(render(tables["last"], "json")),
        "rows_oracle": json.loads(render(tables["oracle"], "json")),
    }
    for m, w in summary["wall_time_s"].items():
        print(f"wall time per run, {m}: mean {w['mean']:.0f} s, max {w['max']:.0f} s")
    out_dir = Path(os.environ.get("OUT") or "benchmarks/out")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "digits_table.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out_dir / 'digits_table.json'}")


if __name__ == "__main__":
    main()
