"""Image train-step throughput: dabench's RevGrad step against the limit and a naive reference.

Three steps on the same batch (B source + B target images), in one process, after warm-up,
median of repeats:
  dabench   the real `RevGrad.update` on `build_network` through `DevicePath` (bf16 autocast and
            channels_last on CUDA, exactly as `dabench.train` runs it);
  bare      a supervised step of the same network on the same 2B images (cross-entropy only,
            same device path): the limit, since the GRL and the domain head are small;
  eager     a plain fp32 loop written the way common DANN code is (no autocast, no
            channels_last, its own GRL and domain classifier).
Then the end-to-end rate with data loading, from JPEGs written to a temporary folder, through
the JPEG DataLoader path and through the decoded-image cache (`--set image_cache=true`), and
the projected wall time of the Office-31 A->W recipes from the measured step rate.

Sizes scale down on the CPU (ResNet-18, 64 px, 16 + 16 images) so it runs in a few minutes;
on CUDA: ResNet-50 at 224 px, 32 + 32.

    .venv/bin/python benchmarks/throughput.py [--out DIR] [--repeats N]

Writes DIR/throughput.json (DIR: --out, else $OUT, else benchmarks/out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dabench.config import resolve
from dabench.device import DevicePath
from dabench.methods import RevGrad
from dabench.models.build import build_network
from dabench.models.grl import grad_reverse
from dabench.tasks import load_catalog


def sizes(cuda: bool) -> dict:
    if cuda:
        return {"backbone": "resnet50", "image": 224, "batch": 32, "repeats": 20, "warmup": 5,
                "images": 512}
    return {"backbone": "resnet18", "image": 64, "batch": 16, "repeats": 7, "warmup": 2,
            "images": 96}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, device: torch.device, repeats: int, warmup: int, inner: int = 3) -> float:
    """Median seconds per call of `step` over `repeats` groups of `inner` calls."""
    for _ in range(warmup):
        step()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        sync(device)
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def office_config(s: dict, device: torch.device, **extra):
    task = load_catalog().task("office31-a-to-w")
    sets = {"backbone.name": s["backbone"], "backbone.weights": "none", "device": device.type,
            **extra}
    return task, resolve(task, "revgrad", 0, sets)


def dabench_step(s, device, xs, ys, xt, yt):
    _, cfg = office_config(s, device)
    path = DevicePath.for_run(device, cfg)
    method = RevGrad(path.prepare(build_network(31, cfg)), cfg)
    method.autocast = path.autocast
    xs, xt = path.put(xs), path.put(xt)
    return lambda: method.update((xs, ys), (xt, yt), 0.5)


def bare_step(s, device, xs, ys, xt, yt):
    """Cross-entropy on all 2B images through the same network and device path."""
    _, cfg = office_config(s, device)
    path = DevicePath.for_run(device, cfg)
    net = path.prepare(build_network(31, cfg))
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    x, y = path.put(torch.cat([xs, xt])), torch.cat([ys, yt])

    def step():
        with path.autocast():
            loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def eager_step(s, device, xs, ys, xt, yt):
    """The naive reference: fp32, NCHW, its own heads."""
    import torchvision

    backbone = getattr(torchvision.models, s["backbone"])(weights=None)
    dim = backbone.fc.in_features
    backbone.fc = nn.Identity()
    neck = nn.Sequential(nn.Linear(dim, 256), nn.ReLU())
    cls = nn.Linear(256, 31)
    disc = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 1024),
                         nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 1))
    model = nn.ModuleList([backbone, neck, cls, disc]).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    domain = torch.cat([torch.zeros(len(xs)), torch.ones(len(xt))]).to(device)

    def step():
        f = neck(backbone(torch.cat([xs, xt])))
        loss = F.cross_entropy(cls(f[: len(xs)]), ys)
        loss = loss + F.binary_cross_entropy_with_logits(
            disc(grad_reverse(f, 0.5)).squeeze(1), domain)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def write_tree(root: Path, n: int, side: int) -> list[tuple[Path, int]]:
    """n random JPEGs of side x side in 31 class folders."""
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    items = []
    for i in range(n):
        path = root / f"c{i % 31:02d}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = torch.randint(0, 256, (side, side, 3), generator=g, dtype=torch.uint8)
        Image.fromarray(pixels.numpy()).save(path, quality=90)
        items.append((path, i % 31))
    return items


def loader_rates(s, device, step_for) -> dict[str, float]:
    """Batches per second with data loading: JPEG DataLoader path vs decoded-image cache."""
    from torch.utils.data import DataLoader

    from dabench.data.batches import BatchStream
    from dabench.data.image_cache import DecodedImages
    from dabench.data.images import ImageListDataset, build_transforms

    b, side = s["batch"], s["image"]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        items = write_tree(Path(tmp), s["images"], int(side * 1.25))
        tf = build_transforms(True, "dann-paper", image_size=side, resize=int(side * 8 / 7))
        jpeg = DataLoader(ImageListDataset(items, tf), batch_size=2 * b, shuffle=True,
                          num_workers=min(4, os.cpu_count() or 1), drop_last=True,
                          pin_memory=device.type == "cuda", persistent_workers=True)
        cache = DecodedImages(items, int(side * 8 / 7), crop=side)
        cached = BatchStream(cache, 2 * b, seed=0)
        path = DevicePath(device, device.type == "cuda", device.type == "cuda")
        for name, batches, transform in (("jpeg_loader", jpeg, None),
                                         ("image_cache", cached, cache)):
            it = iter(batches) if name == "jpeg_loader" else batches
            n, t0 = 0, None
            for k in range(s["warmup"] + s["repeats"] * 3):
                try:
                    x, y = next(it)
                except StopIteration:
                    it = iter(batches)
                    x, y = next(it)
                x = path.put(x, transform, True)
                step_for(x, y.to(device))()
                if k == s["warmup"] - 1:
                    sync(device)
                    t0 = time.perf_counter()
                elif k >= s["warmup"]:
                    n += 1
            sync(device)
            out[name] = n / (time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    s = sizes(cuda)
    if args.repeats:
        s["repeats"] = args.repeats
    torch.manual_seed(0)
    b, side = s["batch"], s["image"]
    xs, xt = torch.randn(b, 3, side, side), torch.randn(b, 3, side, side)
    ys, yt = torch.randint(0, 31, (b,)).to(device), torch.randint(0, 31, (b,)).to(device)
    dev = {"xs": xs.to(device), "xt": xt.to(device)}
    t_dabench = timed(dabench_step(s, device, xs, ys, xt, yt), device, s["repeats"], s["warmup"])
    t_bare = timed(bare_step(s, device, xs, ys, xt, yt), device, s["repeats"], s["warmup"])
    t_eager = timed(eager_step(s, device, dev["xs"], ys, dev["xt"], yt), device, s["repeats"],
                    s["warmup"])
    images = 2 * b
    rows = {"dabench RevGrad step": t_dabench, "bare supervised step (limit)": t_bare,
            "eager fp32 reference step": t_eager}

    # the end-to-end rate uses one persistent RevGrad step on loaded batches
    _, cfg = office_config(s, device)
    path = DevicePath.for_run(device, cfg)
    method = RevGrad(path.prepare(build_network(31, cfg)), cfg)
    method.autocast = path.autocast

    def loaded_step(x, y):
        n = len(x) // 2
        return lambda: method.update((x[:n], y[:n]), (x[n:], y[n:]), 0.5)

    rates = loader_rates(s, device, loaded_step)
    result = {
        "date": time.strftime("%Y-%m-%d"), "device": torch.cuda.get_device_name(0) if cuda else
        f"cpu ({platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)",
        "torch": torch.__version__, "sizes": s,
        "images_per_s": {k: images / v for k, v in rows.items()},
        "ratio_dabench_over_bare_time": t_dabench / t_bare,
        "ratio_dabench_speedup_over_eager": t_eager / t_dabench,
        "end_to_end_images_per_s": {k: v * images for k, v in rates.items()},
        "step_only_images_per_s": images / t_dabench,
    }
    result["projected_office31_a_to_w_s"] = {}
    for recipe in ("dann-paper", "tllib"):
        _, rcfg = office_config(s, device, recipe=recipe)
        per_step = t_dabench * (2 * rcfg.batch_size) / images
        result["projected_office31_a_to_w_s"][recipe] = {"steps": rcfg.steps,
                                                         "batch": rcfg.batch_size,
                                                         "seconds": per_step * rcfg.steps}
    print(f"device: {result['device']}; {s['backbone']} at {side} px, batch {b} + {b}")
    print(f"{'step':32s} {'ms':>9s} {'images/s':>10s}")
    for name, t in rows.items():
        print(f"{name:32s} {1000 * t:9.1f} {images / t:10.1f}")
    print(f"RevGrad step time / bare step time: {result['ratio_dabench_over_bare_time']:.3f}")
    print(f"RevGrad speed-up over the eager fp32 reference: "
          f"{result['ratio_dabench_speedup_over_eager']:.2f}x")
    for name, v in result["end_to_end_images_per_s"].items():
        print(f"end to end with {name:12s}: {v:8.1f} images/s "
              f"(step alone {result['step_only_images_per_s']:.1f})")
    for recipe, p in result["projected_office31_a_to_w_s"].items():
        print(f"projected Office-31 A->W, recipe {recipe}: {p['steps']} steps of "
              f"{p['batch']} + {p['batch']}: {p['seconds'] / 60:.1f} min at this step rate")
    out = Path(args.out or os.environ.get("OUT") or "benchmarks/out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {out / 'throughput.json'}")


if __name__ == "__main__":
    main()
