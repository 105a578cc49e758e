"""Measure the video path: decoding 5 sampled frames vs every frame, and a full training run.

1. Decoding, on the real UCF101/HMDB51 clips in shared/data/videos (skipped with a message when
   absent): seconds per video to open a clip and decode its 5 segment-centre frames (what
   dabench does) vs decoding every frame (what TA3N did) with the same decord backend, and
   with PyAV for reference; then the CPU cost per video of the ResNet-101 forward on the 5
   frames (random weights: same cost as ImageNet weights, no download).
2. Training, on cached features of the real size with synthetic values: the wall time of a full
   30-epoch `ucf-to-hmdbfull` run (1438 + 840 train videos, 571 + 360 test, 5 x 2048 each)
   through `dabench.training.loop.run`, for TemPooling and TemRelation with RevGrad.

    .venv/bin/python benchmarks/video_bench.py                 # both parts
    .venv/bin/python benchmarks/video_bench.py --skip-train    # decoding only
    .venv/bin/python benchmarks/video_bench.py --device cuda

Output JSON: $OUT/video_bench.json if OUT is set, else benchmarks/out/video_bench.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch  # before decord: decord's import would otherwise hijack torch's CPU BLAS

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def timed(fn, repeats: int) -> float:
    """Median wall seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_decoding(clips: Path, repeats: int, with_net: bool) -> dict:
    from dabench.data.video.frame_features import build_extractor, preprocess, FeatureSpec
    from dabench.data.video.decode import get_backend, segment_indices

    backend = get_backend()
    rows = []
    net = build_extractor(FeatureSpec("resnet101", "none"), torch.device("cpu")) \
        if with_net else None
    for path in sorted(clips.glob("*.avi")):
        n = backend.num_frames(path)
        five = timed(lambda: backend.read_frames(path, segment_indices(backend.num_frames(path))),
                     repeats)
        every = timed(lambda: backend.read_frames(path, list(range(n))), repeats)
        row = {"clip": path.name, "frames": n, "decode_5_s": five, "decode_all_s": every,
               "pyav_all_s": timed(lambda: pyav_all(path), repeats)}
        if net is not None:
            frames = torch.from_numpy(backend.read_frames(path, segment_indices(n)))

            def forward():
                x = preprocess(frames, 224).float().div(255)
                with torch.inference_mode():
                    net(x)

            row["resnet101_cpu_5_frames_s"] = timed(forward, max(1, repeats // 2))
        rows.append(row)
    return {"clips": rows, "mean": {k: statistics.mean(r[k] for r in rows) for k in rows[0]
                                    if k.endswith("_s")}}


def pyav_all(path: Path) -> int:
    import av

    with av.open(str(path), metadata_errors="ignore") as c:
        return sum(1 for f in c.decode(video=0) if f.to_ndarray(format="rgb24") is not None)


def synthetic_loader(domain, task, data_root, split, config=None):
    """Cached-feature stand-in: non-negative (N, 5, 2048) features with a class signal."""
    from torch.utils.data import TensorDataset

    opts = domain.options
    n = opts[f"n_{split}"]
    g = torch.Generator().manual_seed(opts["seed"] * 2 + (split == "test"))
    labels = torch.randint(0, task.num_classes, (n,), generator=g)
    centres = torch.randn(task.num_classes, 2048, generator=torch.Generator().manual_seed(7))
    shift = 0.5 * torch.randn(2048, generator=torch.Generator().manual_seed(opts["seed"]))
    x = centres[labels][:, None, :] + shift + torch.randn(n, 5, 2048, generator=g) * 2.0
    return TensorDataset(x.clamp_min(0), labels)  # (N, 5, 2048), (N,)


def bench_training(device: str, temporals: list[str], methods: list[str]) -> list[dict]:
    from dabench.training import loop as train
    from dabench.config import resolve
    from dabench.data import LOADERS
    from dabench.tasks.catalog import load_catalog

    if "synthetic-video-features" not in LOADERS.names():
        LOADERS.add("synthetic-video-features", synthetic_loader)
    real = load_catalog().task("ucf-to-hmdbfull")
    sizes = {"ucf": (1438, 571, 1), "hmdb": (840, 360, 2)}

    def fake(d):
        tr, te, seed = sizes[d.key]
        return dataclasses.replace(d, loader="synthetic-video-features",
                                   options={"n_train": tr, "n_test": te, "seed": seed})

    task = dataclasses.replace(real, source=fake(real.source),
                               targets=tuple(fake(d) for d in real.targets))
    out = []
    with tempfile.TemporaryDirectory() as runs:
        for temporal in temporals:
            for method in methods:
                cfg = resolve(task, method, 1, {"model.temporal": temporal, "device": device})
                t0 = time.perf_counter()
                rec = train.run(task, cfg, Path(runs)).record
                wall = time.perf_counter() - t0
                out.append({"temporal": temporal, "method": method, "steps": cfg.steps,
                            "epochs": cfg.steps // cfg.eval_every, "wall_s": round(wall, 2),
                            "train_loop_s": rec.get("wall_time_s"), "ms_per_step":
                            round(1000 * wall / cfg.steps, 1),
                            "target_acc_last": rec["target_acc_last"], "device": rec["device"]})
                print(f"  {temporal:12s} {method:12s} {wall:7.1f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-net", action="store_true", help="skip the ResNet-101 CPU timing")
    ap.add_argument("--temporal", default="tempooling,temrelation")
    ap.add_argument("--methods", default="revgrad")
    args = ap.parse_args()

    report: dict = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                                "cpu_threads": torch.get_num_threads(),
                                "processor": platform.processor() or platform.machine()}}
    if CLIPS.is_dir() and any(CLIPS.glob("*.avi")):
        print(f"decoding the real clips in {CLIPS} ({args.repeats} repeats, median)")
        dec = bench_decoding(CLIPS, args.repeats, not args.skip_net)
        report["decoding"] = dec
        print(f"{'clip':58s} {'frames':>6s} {'5 frames':>9s} {'all (decord)':>12s} "
              f"{'all (PyAV)':>10s} {'R101 cpu':>9s}")
        for r in dec["clips"]:
            net = f"{r['resnet101_cpu_5_frames_s']:9.3f}" if "resnet101_cpu_5_frames_s" in r \
                else f"{'-':>9s}"
            print(f"{r['clip']:58s} {r['frames']:6d} {r['decode_5_s']:9.4f} "
                  f"{r['decode_all_s']:12.4f} {r['pyav_all_s']:10.4f} {net}")
        m = dec["mean"]
        print(f"{'mean seconds per video':58s} {'':6s} {m['decode_5_s']:9.4f} "
              f"{m['decode_all_s']:12.4f} {m['pyav_all_s']:10.4f}"
              + (f" {m['resnet101_cpu_5_frames_s']:9.3f}" if "resnet101_cpu_5_frames_s" in m
                 else ""))
    else:
        print(f"skipping the decoding benchmark: no real clips at {CLIPS}")
        report["decoding"] = None
    if not args.skip_train:
        print(f"full 30-epoch ucf-to-hmdbfull runs on synthetic cached features ({args.device})")
        report["training"] = bench_training(args.device, args.temporal.split(","),
                                            args.methods.split(","))
        print(f"{'temporal':12s} {'method':12s} {'steps':>5s} {'wall s':>8s} {'ms/step':>8s}")
        for r in report["training"]:
            print(f"{r['temporal']:12s} {r['method']:12s} {r['steps']:5d} {r['wall_s']:8.1f} "
                  f"{r['ms_per_step']:8.1f}")
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else \
        Path(__file__).resolve().parent / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "video_bench.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {out_dir / 'video_bench.json'}")


if __name__ == "__main__":
    main()
