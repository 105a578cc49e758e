"""Serial vs `--launcher local --workers 2` on the embedded digits suite (issue 17's benchmark).

Runs `dabench run digits --seeds 0,1,2` (both tasks, default methods: 12 runs) twice into fresh
runs folders: once serially (one process, torch's default threads: all cores), once through the
local launcher with two workers (each with half the cores). Prints the wall time of each, the
ratio, the machine's cores and load average before and after, and writes the numbers to
`$OUT/launch_speedup.json` (default benchmarks/out/).

    .venv/bin/python benchmarks/launch_speedup.py                 # full runs (3000 steps each)
    .venv/bin/python benchmarks/launch_speedup.py --steps 200     # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_times(runs: Path) -> dict[str, list[float]]:
    """method -> the wall time of each finished run (`wall_time_s` of its result.json), sorted."""
    times: dict[str, list[float]] = {}
    for result in sorted(runs.glob("*/*/*/result.json")):
        record = json.loads(result.read_text())
        times.setdefault(record["method"], []).append(float(record["wall_time_s"]))
    return {m: sorted(v) for m, v in sorted(times.items())}


def describe(times: dict[str, list[float]]) -> str:
    """e.g. "revgrad 72-85 s, source-only 36-41 s per run; 688 s of runs in all"."""
    spans = ", ".join(f"{m} {min(v):.0f}-{max(v):.0f} s" for m, v in times.items())
    total = sum(sum(v) for v in times.values())
    return f"{spans} per run; {total:.0f} s of runs in all"


def timed(args: list[str], runs: Path, steps: int | None) -> float:
    cmd = [sys.executable, "-m", "dabench", "run", "digits", "--seeds", "0,1,2",
           "--runs-dir", str(runs), "--device", "cpu", *args]
    if steps:
        cmd += ["--set", f"steps={steps}", "--set", f"eval_every={max(1, steps // 2)}"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    done = len(list(runs.glob("*/*/*/done")))
    if done != 12:
        sys.exit(f"expected 12 finished runs, found {done}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="override steps (default: the "
                        "task's, 3000)")
    parser.add_argument("--workers", type=int, default=2)
    a = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        serial = timed([], Path(tmp) / "serial", a.steps)
        local = timed(["--launcher", "local", "--workers", str(a.workers)], Path(tmp) / "local",
                      a.steps)
        per_run = {"serial": run_times(Path(tmp) / "serial"),
                   "local": run_times(Path(tmp) / "local")}
    result = {"cores": cores, "workers": a.workers, "steps": a.steps or "task default",
              "runs": 12, "serial_s": round(serial, 1), "local_s": round(local, 1),
              "per_run_s": per_run,
              "speedup": round(serial / local, 2), "load_before": load_before,
              "load_after": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                    time.gmtime())}
    out = Path(os.environ.get("OUT", ROOT / "benchmarks" / "out"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "launch_speedup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"digits suite, 12 runs, {cores} cores, steps {result['steps']}: serial "
          f"{serial:.1f} s, --launcher local --workers {a.workers} {local:.1f} s, "
          f"speed-up {serial / local:.2f}x (load average before {load_before[0]:.1f}, "
          f"after {result['load_after'][0]:.1f})")
    for name, times in per_run.items():
        print(f"  {name}: {describe(times)}")


if __name__ == "__main__":
    main()
