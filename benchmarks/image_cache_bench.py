"""Steps per second with and without the decoded-image cache on a digits-size image folder.

Writes N 28x28 RGB PNGs (default 9,001, MNIST-M's test-set size) into 10 class folders of a
temporary `imagefolder` domain, then trains RevGrad on it (source = target = that folder, the
LeNet of the digits tasks, 64 + 64 images, 28 px) through the real training loop twice per
setting, for `--short` and `--long` steps; the difference of the two wall times over the
difference of the steps is the per-step time without the one-time load, evaluation and set-up.

Settings compared: `image_cache_budget_mb=0` (PNG decode + transforms per item, the old default)
and the default (the folder's 21 MiB of decoded pixels fit the 64 MiB budget: cached).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/image_cache_bench.py [--images 9001]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image


def write_folder(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / "digits" / str(i % 10)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png")


def task_file(root: Path) -> Path:
    opts = {"path": str(root / "digits"), "image_size": 28, "resize": 28, "verify": False}
    body = {"family": "cachebench", "dataset": "Cache bench", "version": 1, "modality": "image",
            "classes": [str(c) for c in range(10)],
            "domains": {"a": {"name": "A", "loader": "imagefolder", "options": opts},
                        "b": {"name": "B", "loader": "imagefolder", "options": opts}},
            "defaults": {"backbone.name": "lenet", "batch_size": 64, "threads": 1,
                         "proxy_a_distance_items": 0},
            "tasks": {"cache-bench": {"title": "Cache bench", "source": "a", "targets": ["b"]}}}
    path = root / "cachebench.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=9001)
    ap.add_argument("--short", type=int, default=20)
    ap.add_argument("--long", type=int, default=120)
    args = ap.parse_args()

    from dabench.config import resolve
    from dabench.tasks.catalog import build_catalog
    from dabench.training import loop

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_folder(root, args.images)
        spec = build_catalog([task_file(root)]).task("cache-bench")
        rates = {}
        for label, sets in (("not cached (image_cache_budget_mb=0)", {"image_cache_budget_mb": 0}),
                            ("cached (default budget)", {})):
            walls = []
            for steps in (args.short, args.long):
                cfg = resolve(spec, "revgrad", 0, {**sets, "steps": steps, "eval_every": steps})
                start = time.perf_counter()
                out = loop.run(spec, cfg, root / f"runs-{len(rates)}-{steps}", force=True)
                walls.append(float(out.record["wall_time_s"]))
                print(f"  {label}: {steps} steps in {walls[-1]:.1f} s "
                      f"(with load: {time.perf_counter() - start:.1f} s)", flush=True)
            rates[label] = (args.long - args.short) / (walls[1] - walls[0])
        for label, rate in rates.items():
            print(f"{label}: {rate:.2f} steps/s")
        values = list(rates.values())
        print(f"speed-up of the cache: {values[1] / values[0]:.2f}x "
              f"({args.images} images of 28x28)")


if __name__ == "__main__":
    main()
