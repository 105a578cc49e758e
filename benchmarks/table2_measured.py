"""The DANN paper's Table 2 on the data this project has: prepare the data, time the networks,
print the measured table (docs/results.md, "The DANN paper's Table 2 on real data").

    # 1. a data root with the real USPS as libsvm .bz2 (from SUBSETS/usps/usps_all.mat:
    #    rows 0-7,290 are the official training set, the rest the test set) and the sign subsets
    .venv/bin/python benchmarks/table2_measured.py prepare --shared SUBSETS --out DATA
    #    (SUBSETS: a folder holding usps/usps_all.mat, all 9,298 USPS digits, and signs-real/,
    #    GTSRB's official layout and Syn Signs with its labelling file)
    # 2. the runs (3 methods x 3 seeds per task; one torch thread each), e.g.
    DABENCH_TASK_PATH=benchmarks/table2_measured.yaml:benchmarks/table2_signs_measured.yaml \\
      .venv/bin/python -m dabench run measured-mnist-to-usps -m source-only -m revgrad -m target-only \\
      --seeds 0,1,2 --data-root DATA --set threads=1 --set steps=1000
    # 3. time per RevGrad step of each Table 2 network here, and the full tasks' estimated time
    .venv/bin/python benchmarks/table2_measured.py steps
    # 4. the table from the finished runs, beside the published values
    .venv/bin/python benchmarks/table2_measured.py table --runs-dir RUNS
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

TABLE2 = ("mnist-to-mnistm", "syndigits-to-svhn", "svhn-to-mnist", "synsigns-to-gtsrb",
          "mnist-to-usps", "usps-to-mnist")
# measured task -> the built-in task whose published values stand beside it
PAIRS = {"measured-mnist-to-usps": "mnist-to-usps", "measured-usps-to-mnist": "usps-to-mnist",
         "measured-synsigns-to-gtsrb": "synsigns-to-gtsrb"}
# complete test-set sizes of the built-in tasks' evaluations (source test + target test)
EVAL_IMAGES = {"mnist-to-mnistm": 10000 + 9001, "syndigits-to-svhn": 9553 + 26032,
               "svhn-to-mnist": 26032 + 10000, "synsigns-to-gtsrb": 100000 + 7842,
               "mnist-to-usps": 10000 + 2007, "usps-to-mnist": 2007 + 10000}


def prepare(shared: Path, out: Path) -> None:
    import numpy as np
    import scipy.io

    from dabench.data.smallimages.formats import write_libsvm_images

    raw = scipy.io.loadmat(str(shared / "usps" / "usps_all.mat"))["usps_all"]
    x, y = raw[:, :256].reshape(-1, 16, 16), raw[:, 256].astype(np.int64) - 1
    (out / "usps").mkdir(parents=True, exist_ok=True)
    write_libsvm_images(out / "usps" / "usps.bz2", x[:7291], y[:7291])
    write_libsvm_images(out / "usps" / "usps.t.bz2", x[7291:], y[7291:])
    for name in ("GTSRB", "synsigns"):
        link = out / name
        if not link.exists():
            link.symlink_to((shared / "signs-real" / name).resolve())
    print(f"wrote {out / 'usps'} (7291 + 2007 digits) and linked the sign subsets")


def steps(repeats: int) -> None:
    """Median seconds per RevGrad step (64 + 64 random images of the task's input size, one
    thread, CPU) and per evaluated image, and the full task's estimated wall time."""
    import torch

    from dabench.config import resolve
    from dabench.methods.revgrad import RevGrad
    from dabench.models.build import build_network
    from dabench.models.paper_cnns import NETS
    from dabench.tasks.catalog import load_catalog

    torch.set_num_threads(1)
    catalog = load_catalog()
    print("| Task | network | s per step (64+64) | steps | evaluations | estimated wall time |")
    print("|---|---|---|---|---|---|")
    for name in TABLE2:
        task = catalog.task(name)
        cfg = resolve(task, "revgrad", 0, {"device": "cpu"})
        side = NETS[cfg.backbone.name][0]
        method = RevGrad(build_network(task.num_classes, cfg), cfg)
        b = cfg.batch_size
        xs, xt = torch.randn(b, 3, side, side), torch.randn(b, 3, side, side)
        ys = torch.randint(0, task.num_classes, (b,))
        times = []
        for i in range(repeats + 1):
            start = time.perf_counter()
            method.update((xs, ys), (xt, torch.full_like(ys, -1)), 0.5)
            if i:  # the first step warms up
                times.append(time.perf_counter() - start)
        step = statistics.median(times)
        with torch.no_grad():
            start = time.perf_counter()
            method.net.eval()
            method.net(torch.randn(500, 3, side, side))
            per_image = (time.perf_counter() - start) / 500
        evals = math.ceil(cfg.steps / cfg.eval_every)
        total = cfg.steps * step + evals * EVAL_IMAGES[name] * per_image
        print(f"| {name} | {cfg.backbone.name} | {step:.3f} | {cfg.steps} | {evals} x "
              f"{EVAL_IMAGES[name]} images | {total / 3600:.1f} h |", flush=True)


def table(runs_dir: Path) -> None:
    from dabench.tasks.catalog import load_catalog

    catalog = load_catalog()
    rows: dict[tuple[str, str], list[tuple[int, float, float, int]]] = {}
    for result in sorted(runs_dir.glob("*/*/*/result.json")):
        rec = json.loads(result.read_text())
        rows.setdefault((rec["task"], rec["method"]), []).append(
            (rec["seed"], 100 * rec["target_acc_last"], rec["wall_time_s"], rec["steps"]))
    print("| Task | Method | seeds | target accuracy (%) | per seed | published | s per step |")
    print("|---|---|---|---|---|---|---|")
    for (task, method), recs in sorted(rows.items()):
        accs = [a for _, a, _, _ in sorted(recs)]
        mean = statistics.mean(accs)
        std = f" ± {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""
        ref = PAIRS.get(task)
        pub = next((p.value for p in catalog.task(ref).published if p.method == method), None) \
            if ref in catalog.tasks else None
        per_step = statistics.mean(w / s for _, _, w, s in recs)
        print(f"| {task} | {method} | {','.join(str(s) for s, *_ in sorted(recs))} | "
              f"{mean:.2f}{std} | {' / '.join(f'{a:.1f}' for a in accs)} | "
              f"{'—' if pub is None else f'{pub:.2f}'} | {per_step:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--shared", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("steps")
    s.add_argument("--repeats", type=int, default=5)
    t = sub.add_parser("table")
    t.add_argument("--runs-dir", type=Path, required=True)
    args = ap.parse_args()
    if args.cmd == "prepare":
        prepare(args.shared, args.out)
    elif args.cmd == "steps":
        steps(args.repeats)
    else:
        table(args.runs_dir)


if __name__ == "__main__":
    main()
