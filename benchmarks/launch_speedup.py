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
    result = {"cores": cores, "workers": a.workers, "steps": a.steps or "task default",
              "runs": 12, "serial_s": round(serial, 1), "local_s": round(local, 1),
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


if __name__ == "__main__":
    main()
