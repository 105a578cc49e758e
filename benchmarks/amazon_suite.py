"""Time the whole Amazon suite: 12 pairs x the paper's grid (18 DANN + 2 NN configurations) x
the given seeds, every run with its reverse-validation training, in N parallel processes.

Each process is an ordinary `dabench run amazon --shard i/N` (one slice of the plan, one torch
thread, the data read once per process), so this is exactly what a user runs; a second
invocation finds the runs finished and only reports. Prints the wall time, then the report
(reverse validation and oracle, per pair, with the proxy A-distances), then the model-selection
study of every rule (`dabench report --view selection --format md`).

    .venv/bin/python benchmarks/amazon_suite.py                      # seed 0, 2 processes
    .venv/bin/python benchmarks/amazon_suite.py --seeds 0,1,2 --runs-dir runs-amazon
    .venv/bin/python benchmarks/amazon_suite.py --tasks books-to-dvd --sweep quick  # a check
    .venv/bin/python benchmarks/amazon_suite.py --set recipe=release --runs-dir runs-release
    .venv/bin/python benchmarks/amazon_suite.py --set selection.reverse_start=scratch \
        --runs-dir runs-scratch       # then: benchmarks/amazon_compare.py warm=... scratch=...

After the table it prints, per method, each pair's difference to Table 1a with a 95% interval
over the seeds and the same for the mean over pairs (dabench/analysis/paper_gap.py).

The load average (1 minute) at the start and the end says whether the machine was quiet: the
wall time counts only on otherwise idle cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def summary(root: Path) -> str:
    """The README's table: per pair DANN and NN under reverse validation and oracle selection,
    the published values, the proxy A-distances, and the lambda reverse validation chose."""
    from dabench.analysis.sweep_summary import markdown, summarise
    from dabench.runs.store import load_records
    from dabench.tasks.catalog import load_catalog

    records, _ = load_records(root)
    methods = ("revgrad", "source-only")
    rows = summarise(records, load_catalog(), methods)
    text = markdown(rows, methods, {"revgrad": "DANN", "source-only": "NN"})
    chosen: dict = {}
    for row in rows:
        for value, times in row["revgrad.reverse"]["chosen"].get("grl.weight", {}).items():
            chosen[value] = chosen.get(value, 0) + times
    from dabench.reporting.aggregate import build
    from dabench.reporting.render import render

    text += f"\ngrl.weight (= 2 lambda) chosen by reverse validation: {chosen}\n"
    for method, label in (("revgrad", "DANN"), ("source-only", "NN")):
        text += f"\n{label} (reverse validation) vs Table 1a, 95% intervals over seeds:\n\n"
        text += paper_gap_table(records, load_catalog(), method)
    study = render(build(records, load_catalog(), view="selection"), "md")
    return text + "\n" + study + "\n" + validators_share(records)


def paper_gap_table(records: list, catalog, method: str, rule: str = "reverse") -> str:
    """Per pair: the selected accuracy's difference to the published value with its 95%
    interval over seeds, and the mean over pairs (dabench/analysis/paper_gap.py)."""
    from dabench.analysis.paper_gap import markdown, paper_comparison
    from dabench.analysis.selection import RULES, select

    per_task: dict = {}
    for rec in select(records, rule)[0]:
        if rec["method"] == method:
            per_task.setdefault(rec["task"], {})[rec["seed"]] = 100.0 * rec[RULES[rule].value]
    order = [t for t in catalog.tasks if t in per_task]
    per_task = {t: per_task[t] for t in order}
    published = {t: p.value for t in order for p in catalog.tasks[t].published
                 if p.method == method}
    tasks, overall, _ = paper_comparison(per_task, published)
    return markdown(tasks, overall, {t: catalog.tasks[t].title for t in order})


def validators_share(records: list) -> str:
    """What the validators cost in these runs: their seconds (metrics.jsonl's validators_s)
    over the runs' training wall time (result.json), summed over the runs."""
    import json

    spent = wall = 0.0
    timed = 0
    for rec in records:
        path = Path(rec["run_dir"]) / "metrics.jsonl"
        text = path.read_text() if path.is_file() else ""
        lines = [json.loads(line) for line in text.splitlines()]
        times = [line["validators_s"] for line in lines if "validators_s" in line]
        if times:
            spent, wall, timed = spent + sum(times), wall + rec["wall_time_s"], timed + 1
    if not timed:
        return "validators: their time is not recorded in these runs (validators_s)\n"
    share = 100 * spent / wall if wall else float("nan")
    return (f"validators: {spent:.0f} s of the runs' {wall:.0f} s training wall time "
            f"({share:.1f}%; {timed} run(s))\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--processes", type=int, default=2, help="parallel `dabench run` processes")
    ap.add_argument("--runs-dir", type=Path, default=Path("benchmarks/out/amazon-runs"))
    ap.add_argument("--tasks", default="amazon", help="a suite or comma-separated tasks")
    ap.add_argument("--sweep", action="append", default=[],
                    help="passed to `dabench run` (default: the task file's grid, the paper's)")
    ap.add_argument("--set", action="append", default=[], dest="sets",
                    help="passed to `dabench run`: KEY=VALUE")
    args = ap.parse_args()
    run = [sys.executable, "-m", "dabench", "run", *args.tasks.split(","), "--seeds", args.seeds,
           "--runs-dir", str(args.runs_dir)]
    for flag, values in (("--sweep", args.sweep), ("--set", args.sets)):
        run += [part for v in values for part in (flag, v)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    logs = [tempfile.TemporaryFile("w+") for _ in range(args.processes)]  # not a pipe: no
    procs = [subprocess.Popen([*run, "--shard", f"{i}/{args.processes}"], env=env,  # deadlock
                              stdout=subprocess.DEVNULL, stderr=log, text=True)
             for i, log in enumerate(logs)]
    failed = [log for p, log in zip(procs, logs) if p.wait() != 0]
    wall = time.perf_counter() - t0
    for log in failed:
        log.seek(0)
        sys.stderr.write(log.read()[-2000:])
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime  # what the runs cost, whatever else the machine ran
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"amazon suite, seeds {args.seeds}: {wall:.0f} s wall ({wall / 60:.1f} min) with "
          f"{args.processes} processes on {cores} cores; load average {load0:.1f} at the start, "
          f"{load:.1f} at the end; "
          f"{cpu:.0f} CPU s in all, i.e. {cpu / args.processes / 60:.1f} min on "
          f"{args.processes} otherwise idle cores")
    print(summary(args.runs_dir))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
