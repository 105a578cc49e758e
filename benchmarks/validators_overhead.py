"""What the label-free validators cost: the embedded task (mnist5k-to-mnistm5k, RevGrad, the task's
own settings) run with `selection.validators=true` and `=false`, interleaved, each an ordinary
`dabench run` in its own process and runs folder, one torch thread. Prints the wall times, the
ratio of their medians, and the validators' own share of each validator run (the time
`metrics.jsonl` records for them at each evaluation, over the run's wall time), which does not
depend on what else the machine runs. The issue's bound: at most 10% (ratio <= 1.10).

    .venv/bin/python benchmarks/validators_overhead.py                  # 3 pairs, the full task
    .venv/bin/python benchmarks/validators_overhead.py --repeats 1 --set steps=500   # a check
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def one_run(runs: Path, seed: int, validators: bool, sets: list[str]) -> dict:
    """One `dabench run`; its result record, and the validators' seconds from metrics.jsonl."""
    cmd = [sys.executable, "-m", "dabench", "run", "mnist5k-to-mnistm5k", "--method", "revgrad",
           "--seeds", str(seed), "--runs-dir", str(runs), "--force", "--set", "threads=1",
           "--set", f"selection.validators={str(validators).lower()}"]
    for s in sets:
        cmd += ["--set", s]
    done = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        sys.exit(f"dabench run failed:\n{done.stderr[-2000:]}")
    (result,) = runs.glob("mnist5k-to-mnistm5k/revgrad/*/result.json")
    record = json.loads(result.read_text())
    lines = [json.loads(line) for line in (result.parent / "metrics.jsonl").read_text().splitlines()]
    record["validators_s"] = sum(l.get("validators_s", 0.0) for l in lines if l["kind"] == "eval")
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="pairs of runs (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], dest="sets",
                    help="passed to `dabench run`: KEY=VALUE")
    ap.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON here")
    args = ap.parse_args()
    walls: dict[bool, list[float]] = {True: [], False: []}
    shares = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for validators in ((True, False) if i % 2 == 0 else (False, True)):
                rec = one_run(Path(tmp) / f"{validators}-{i}", args.seed, validators, args.sets)
                walls[validators].append(rec["wall_time_s"])
                if validators:
                    shares.append(rec["validators_s"] / rec["wall_time_s"])
    on, off = statistics.median(walls[True]), statistics.median(walls[False])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out = {"wall_time_s": {"validators": walls[True], "no_validators": walls[False]},
           "ratio": on / off, "validators_share": shares, "load_average": load}
    print(f"mnist5k-to-mnistm5k, RevGrad, seed {args.seed}, {args.repeats} pair(s) "
          f"{' '.join(args.sets)}: wall time (median) {on:.1f} s with validators, {off:.1f} s "
          f"without; ratio {on / off:.3f}; the validators' own time: "
          f"{100 * statistics.fmean(shares):.2f}% of a run's wall time; load average {load:.1f}")
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
