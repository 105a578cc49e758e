"""Start-up time of the front door: `dabench --help`, `dabench list-tasks`, `dabench --version`.

Each command is run N times as a fresh process (`python -m dabench ...`, output discarded) after
one warm-up call that fills the catalogue cache; prints the median and the range of the wall
times, the median CPU time (user + system, which a loaded machine inflates much less than the
wall time), the machine's cores and load average before and after, and writes them to `$OUT/startup.json` (default benchmarks/out/). `--cold` also times
`list-tasks` with the catalogue cache emptied before every call (each call validates every task
file, as before the cache).

    .venv/bin/python benchmarks/startup.py            # 7 runs each
    .venv/bin/python benchmarks/startup.py -n 15 --cold
    .venv/bin/python benchmarks/startup.py --tree /tmp/old-checkout   # another checkout's dabench
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"--help": ["--help"], "list-tasks": ["list-tasks"], "--version": ["--version"]}


def wall(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """One call's wall time and CPU time (user + system); run in the cache folder, since `-m`
    puts the cwd first on the path. On a loaded machine the CPU time stays close to what the
    wall time is on an idle one; the wall time does not."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dabench", *args], env=env, check=True,
                   cwd=env["XDG_CACHE_HOME"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def works(args: list[str], env: dict[str, str]) -> bool:
    """False (and says so) for a command this checkout does not have (an older one)."""
    done = subprocess.run([sys.executable, "-m", "dabench", *args], env=env,
                          cwd=env["XDG_CACHE_HOME"], capture_output=True)
    if done.returncode:
        print(f"dabench {' '.join(args)}: exit {done.returncode} in this checkout; not timed")
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=7, help="runs per command [7]")
    parser.add_argument("--cold", action="store_true", help="also list-tasks without the cache")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout whose dabench is timed [this one]")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="dabench-startup-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(cache),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(args.tree.resolve()),
                                                        os.environ.get("PYTHONPATH")]))}
    load_before = os.getloadavg()
    out: dict[str, dict] = {}
    try:
        wall(["list-tasks"], env)  # fills the cache
        commands = {name: argv for name, argv in COMMANDS.items() if works(argv, env)}
        runs = {name: [] for name in commands}
        if args.cold:
            runs["list-tasks (no cache)"] = []
        for _ in range(args.n):  # interleaved, so a change of load hits every command alike
            for name, argv in commands.items():
                runs[name].append(wall(argv, env))
            if args.cold:
                shutil.rmtree(cache / "dabench", ignore_errors=True)
                runs["list-tasks (no cache)"].append(wall(["list-tasks"], env))
                shutil.rmtree(cache / "dabench", ignore_errors=True)
                wall(["list-tasks"], env)  # the cache back for the next round
        for name, pairs in runs.items():
            times, cpu = [w for w, _ in pairs], [c for _, c in pairs]
            out[name] = {"median_s": round(statistics.median(times), 3),
                         "min_s": round(min(times), 3), "max_s": round(max(times), 3),
                         "cpu_median_s": round(statistics.median(cpu), 3), "runs": len(times)}
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    load_after = os.getloadavg()
    for name, r in out.items():
        print(f"dabench {name:24s} median {r['median_s']:.3f} s  "
              f"(min {r['min_s']:.3f}, max {r['max_s']:.3f}, {r['runs']} runs); "
              f"CPU median {r['cpu_median_s']:.3f} s")
    print(f"checkout {args.tree.resolve()}; {os.cpu_count()} cores; load average (1 min) {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after")
    folder = Path(os.environ.get("OUT", ROOT / "benchmarks" / "out"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "startup.json").write_text(json.dumps(
        {"commands": out, "tree": str(args.tree.resolve()), "cores": os.cpu_count(), "load_before": load_before,
         "load_after": load_after, "python": sys.version.split()[0],
         "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}, indent=2) + "\n")


if __name__ == "__main__":
    main()
