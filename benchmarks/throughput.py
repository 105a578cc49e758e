"""Training throughput: dabench's RevGrad step against the limit and a naive reference, the data
pipeline against the step, the video step rate, and the projected Office-31 A->W wall time.

1. Step alone. Three steps on the same batch (B source + B target images, already on the
   device), built in one process, warmed up, then timed interleaved (each repeat runs every
   step in turn, so drift hits all alike), median of the repeats; torch.cuda.synchronize
   around every timing on CUDA:
     dabench  the real `dabench.methods.revgrad.RevGrad.update` on `build_network`, through `DevicePath`
              (bf16 autocast + channels_last on CUDA) with the seeding and determinism flags of
              `dabench.training.loop` (`seed_everything(seed, cfg.deterministic)`);
     bare     the limit: a supervised step of the same backbone + a linear classifier on the
              same 2B images (forward, cross-entropy, backward, the same SGD settings), same
              device path;
     eager    a plain fp32 loop written the way common DANN code is (no autocast, no
              channels_last, its own GRL, bottleneck and domain classifier).
2. End to end. Office-31-shaped JPEGs (amazon 300x300, webcam 640x480, 31 class folders) in
   a temporary data root, loaded through the real loader (`load_task_data` on the
   `office31-a-to-w` task) and drawn by `BatchStream` exactly as `dabench.training.loop` does (one
   source and one target stream, `DevicePath.put(x, dataset, train=True)`, `method.update`):
   the JPEG path with 0 DataLoader workers (the default `num_workers`) and with several, and
   the decoded-image cache (`--set image_cache=true`; its one-time decode timed apart).
   Compared with the step alone: is the loader the bottleneck?
3. Video: RevGrad steps/s of TemPooling and TemRelation on cached-feature-shaped tensors
   (B, 5, 2048) (skipped with a message when `dabench.models.temporal` does not import).
4. The projected wall time of the full Office-31 A->W recipes (steps, batch, evaluation
   schedule from tasks/office31.yaml) from the measured step and evaluation rates. On the
   CPU the main measurement uses a small model, so the recipe's own model (ResNet-50 at
   224 px) is also timed for a few steps at a small batch and projected per image.
5. Digits: the RevGrad step of the embedded `mnist-to-mnistm` task (LeNet, 64 + 64 images of
   28x28, its task config) with `channels_last` on (the default, on the CPU too) and off,
   interleaved; the main step of part 1 is also timed with `channels_last` off.

Sizes: on CUDA ResNet-50 at 224 px, 32 + 32 images; on the CPU ResNet-18 at 96 px, 16 + 16
images and few repeats, so it runs here in a few minutes.

    .venv/bin/python benchmarks/throughput.py [--out DIR] [--repeats N] [--profile]

Writes DIR/throughput.json (DIR: --out, else $OUT, else benchmarks/out).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dabench.config import RunConfig, resolve
from dabench.training.device import DevicePath
from dabench.methods.revgrad import RevGrad
from dabench.models.build import build_network
from dabench.models.backbones import build_backbone
from dabench.tasks.catalog import load_catalog
from dabench.training.loop import seed_everything

TASK = "office31-a-to-w"
VIDEO_TASK = "ucf-to-hmdbfull"
Step = Callable[[], object]


def sizes(cuda: bool) -> dict:
    """per_class: JPEGs per class and domain, 31 classes: an epoch of the webcam stream is then
    ~12 batches, as webcam's 795 images at the dann-paper batch of 64 (the JPEG path starts
    new DataLoader workers every epoch, so the epoch length matters)."""
    if cuda:
        return {"backbone": "resnet50", "image": 224, "resize": 256, "batch": 32, "repeats": 10,
                "inner": 5, "warmup": 5, "per_class": 12, "e2e_steps": 30,
                "workers": min(8, os.cpu_count() or 1)}
    return {"backbone": "resnet18", "image": 96, "resize": 110, "batch": 16, "repeats": 5,
            "inner": 2, "warmup": 2, "per_class": 6, "e2e_steps": 14,
            "workers": min(2, os.cpu_count() or 1)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(steps: dict[str, Step], device: torch.device, repeats: int, warmup: int,
                inner: int) -> dict[str, float]:
    """Median seconds per call of each step; every repeat times each step (`inner` calls) in
    turn, starting with a different one each time."""
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    sync(device)
    names = list(steps)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:
            sync(device)
            t0 = time.perf_counter()
            for _ in range(inner):
                steps[k]()
            sync(device)
            times[k].append((time.perf_counter() - t0) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def office_config(device: torch.device, **sets) -> tuple[object, RunConfig]:
    task = load_catalog().task(TASK)
    return task, resolve(task, "revgrad", 0, {"device": device.type, **sets})


# -- 1. the three steps -----------------------------------------------------------------------

def revgrad_method(cfg: RunConfig, device: torch.device,
                   num_classes: int = 31) -> tuple[RevGrad, DevicePath]:
    """Built as `dabench.training.loop.run` builds it."""
    path = DevicePath.for_run(device, cfg)
    method = RevGrad(path.prepare(build_network(num_classes, cfg)), cfg)
    method.autocast = path.autocast
    return method, path


def dabench_step(method: RevGrad, xs, ys, xt, yt) -> Step:
    return lambda: method.update((xs, ys), (xt, yt), 0.5)


def bare_step(cfg: RunConfig, path: DevicePath, x, y) -> Step:
    """The limit: backbone + linear classifier, cross-entropy on all 2B images, same SGD
    settings and device path (autocast, channels_last) as the RevGrad step."""
    backbone, dim = build_backbone(cfg.backbone.name, cfg.backbone.weights)
    net = path.prepare(nn.Sequential(backbone, nn.Linear(dim, 31)))
    o = cfg.optim
    opt = torch.optim.SGD(net.parameters(), lr=o.lr, momentum=o.momentum,
                          weight_decay=o.weight_decay, nesterov=o.nesterov)

    def step():
        net.train()
        with path.autocast():
            loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()
    return step


class _GRL(torch.autograd.Function):
    """The reference's own gradient reversal layer (as in most DANN repositories)."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad.neg() * ctx.alpha, None


class EagerDANN(nn.Module):
    """torchvision backbone -> Linear(256) + ReLU -> classifier; GRL -> 256-1024-1024-1 domain
    classifier with dropout: the dann-paper recipe's network, written the plain way."""

    def __init__(self, arch: str, num_classes: int = 31) -> None:
        super().__init__()
        import torchvision

        self.backbone = getattr(torchvision.models, arch)(weights=None)
        dim = self.backbone.fc.in_features
        self.backbone.fc = nn.Identity()
        self.bottleneck = nn.Sequential(nn.Linear(dim, 256), nn.ReLU())
        self.classifier = nn.Linear(256, num_classes)
        self.discriminator = nn.Sequential(
            nn.Linear(256, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 1024), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(1024, 1))

    def forward(self, x, alpha):
        f = self.bottleneck(self.backbone(x))
        return self.classifier(f), self.discriminator(_GRL.apply(f, alpha)).squeeze(1)


def eager_step(arch: str, device: torch.device, xs, ys, xt) -> Step:
    model = EagerDANN(arch).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xs, xt = xs.float().contiguous(), xt.float().contiguous()  # plain NCHW fp32
    domain = torch.cat([torch.zeros(len(xs)), torch.ones(len(xt))]).to(device)

    def step():
        model.train()
        class_out, domain_out = model(torch.cat([xs, xt]), 0.5)
        loss = F.cross_entropy(class_out[: len(xs)], ys) + \
            F.binary_cross_entropy_with_logits(domain_out, domain)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()
    return step


def profile_steps(steps: dict[str, Step], device: torch.device, rows: int = 12) -> dict:
    """torch.profiler tables (self time by operator) of one call of each step."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    out = {}
    for name, fn in steps.items():
        fn()
        sync(device)
        with profile(activities=acts) as prof:
            fn()
            sync(device)
        try:
            table = prof.key_averages().table(sort_by=key, row_limit=rows)
        except Exception:  # older torch: "self_cuda_time_total"
            table = prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=rows)
        print(f"\n--- profile: {name} ---\n{table}")
        out[name] = table
    return out


# -- 2. end to end, with data loading ------------------------------------------------------------

def write_office_tree(root: Path, classes: list[str], per_class: int) -> int:
    """<root>/office31/{amazon,webcam}/images/<class>/frame_NNNN.jpg: amazon-like 300x300 and
    webcam-like 640x480 JPEGs of smooth random content (compresses like photos)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    n = 0
    for domain, (w, h) in (("amazon", (300, 300)), ("webcam", (640, 480))):
        for c in classes:
            folder = root / "office31" / domain / "images" / c
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
                image = np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR))
                noise = rng.integers(-8, 9, image.shape)
                image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(image).save(folder / f"frame_{i + 1:04d}.jpg", quality=90)
                n += 1
    return n


def sized_task(task, image: int, resize: int):
    """The task with the domains' image_size / resize options set (CPU sizes)."""
    def domain(d):
        return dataclasses.replace(d, options={**d.options, "image_size": image,
                                               "resize": resize})
    return dataclasses.replace(task, source=domain(task.source),
                               targets=tuple(domain(t) for t in task.targets))


def end_to_end(task, cfg: RunConfig, method: RevGrad, path: DevicePath, data_root: Path,
               steps: int, warmup: int) -> tuple[float, float]:
    """(seconds per step with data loading, seconds to build the datasets): the body of
    `dabench.training.phase.train_phase` (two BatchStreams, DevicePath.put with the dataset, update)."""
    from dabench.data import load_task_data
    from dabench.data.batches import BatchStream

    t0 = time.perf_counter()
    data = load_task_data(task, data_root, config=cfg)
    build_s = time.perf_counter() - t0
    pin = path.device.type == "cuda"
    src = BatchStream(data.source_train, cfg.batch_size, cfg.seed * 2 + 1, cfg.num_workers, pin)
    tgt = BatchStream(data.target_train, cfg.batch_size, cfg.seed * 2 + 2, cfg.num_workers, pin)
    return streamed_step_seconds(src, tgt, method, path, steps, warmup), build_s


def streamed_step_seconds(src, tgt, method: RevGrad, path: DevicePath, steps: int,
                          warmup: int) -> float:
    """Seconds per RevGrad step drawing its batches from two BatchStreams, as `dabench.training.loop`
    does (DevicePath.put with the dataset, target labels hidden), after `warmup` steps."""
    def one():
        (xs, ys), (xt, yt) = next(src), next(tgt)
        xs, xt = path.put(xs, src.dataset, True), path.put(xt, tgt.dataset, True)
        return method.update((xs, path.put(ys)), (xt, path.put(torch.full_like(yt, -1))), 0.5)

    for _ in range(warmup):
        one()
    sync(path.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    sync(path.device)
    return (time.perf_counter() - t0) / steps


def cache_on_device_rate(task, cfg, method, path, data_root, steps, warmup) -> float:
    """The cache with its images held in GPU memory (`DecodedImages(..., device="cuda")`):
    batches are gathered on the GPU, no host-to-device copy of images."""
    from dabench.data import load_task_data
    from dabench.data.batches import BatchStream
    from dabench.data.images.cache import DecodedImages

    data = load_task_data(task, data_root, config=cfg)  # the lru-cached decode of before

    def on_device(d):
        return DecodedImages.from_tensors(d.images, d.targets, crop=d.crop, augment=d.augment,
                                          seed=d.seed, device=path.device)
    src = BatchStream(on_device(data.source_train), cfg.batch_size, 1)
    tgt = BatchStream(on_device(data.target_train), cfg.batch_size, 2)
    return streamed_step_seconds(src, tgt, method, path, steps, warmup)


# -- 3. video -----------------------------------------------------------------------------------------

def video_rates(device: torch.device, repeats: int, warmup: int) -> dict:
    try:
        import dabench.models.temporal  # noqa: F401  (written by the video work)
        task = load_catalog().task(VIDEO_TASK)
    except Exception as exc:  # ImportError, or the task not there yet
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    out = {}
    for temporal in ("tempooling", "temrelation"):
        cfg = resolve(task, "revgrad", 0, {"model.temporal": temporal, "device": device.type})
        path = DevicePath.for_run(device, cfg)
        method = RevGrad(path.prepare(build_network(task.num_classes, cfg)), cfg)
        method.autocast = path.autocast
        b, t = cfg.batch_size, cfg.video.segments
        dim = getattr(method.net, "in_dim", 2048)
        xs, xt = torch.randn(b, t, dim, device=device), torch.randn(b, t, dim, device=device)
        ys = torch.randint(0, task.num_classes, (b,), device=device)
        yt = torch.full_like(ys, -1)
        sec = interleaved({"v": lambda: method.update((xs, ys), (xt, yt), 1.0)}, device,
                          repeats, warmup, 5)["v"]
        out[temporal] = {"batch": b, "frames": t, "feature_dim": dim, "ms_per_step": 1000 * sec,
                         "steps_per_s": 1 / sec, "videos_per_s": 2 * b / sec}
    return out


# -- 5. digits ------------------------------------------------------------------------------------

def digits_rates(device: torch.device, repeats: int, warmup: int) -> dict:
    """ms per RevGrad step on mnist-to-mnistm, NHWC (channels_last) against NCHW."""
    task = load_catalog().task("mnist-to-mnistm")
    steps = {}
    for layout, flag in (("channels_last", "true"), ("nchw", "false")):
        cfg = resolve(task, "revgrad", 0, {"device": device.type, "channels_last": flag})
        seed_everything(cfg.seed, cfg.deterministic)
        method, path = revgrad_method(cfg, device, task.num_classes)
        b = cfg.batch_size
        xs, xt = path.put(torch.randn(b, 3, 28, 28)), path.put(torch.randn(b, 3, 28, 28))
        ys = path.put(torch.randint(0, 10, (b,)))
        steps[layout] = dabench_step(method, xs, ys, xt, torch.full_like(ys, -1))
    t = interleaved(steps, device, repeats, warmup, 10)
    return {"backbone": cfg.backbone.name, "batch": b,
            "ms_per_step": {k: 1000 * v for k, v in t.items()},
            "speedup_channels_last": t["nchw"] / t["channels_last"]}


# -- 4. projection --------------------------------------------------------------------------------

def eval_seconds_per_image(method: RevGrad, path: DevicePath, x: torch.Tensor, repeats: int,
                           warmup: int) -> float:
    """Forward-only cost per image as `dabench.training.loop.evaluate` runs it (autocast, no grad)."""
    def fwd():
        with path.autocast():
            return method.predict(x).float()
    return interleaved({"e": fwd}, path.device, repeats, warmup, 2)["e"] / len(x)


def project(device: torch.device, train_s_per_image: float, eval_s_per_image: float,
            model: str) -> dict:
    """Wall time of the full recipes: steps * step time + every evaluation (source and target
    test sets: all images) + the PAD feature export, from per-image rates."""
    task, _ = office_config(device)
    n_src = task.source.options.get("expected_images", 0)
    n_tgt = sum(t.options.get("expected_images", 0) for t in task.targets)
    out = {}
    for recipe in task.recipes:
        _, cfg = office_config(device, recipe=recipe)
        evals = math.ceil(cfg.steps / cfg.eval_every)
        train_s = cfg.steps * 2 * cfg.batch_size * train_s_per_image
        eval_s = (evals * (n_src + n_tgt) + 2 * cfg.proxy_a_distance_items) * eval_s_per_image
        out[recipe] = {"steps": cfg.steps, "batch": cfg.batch_size, "evaluations": evals,
                       "train_seconds": train_s, "eval_seconds": eval_s,
                       "seconds": train_s + eval_s, "measured_with": model}
    return out


def fmt_time(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


# -- main ---------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="folder for throughput.json")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per step")
    ap.add_argument("--profile", action="store_true",
                    help="print torch.profiler tables of one RevGrad and one bare step")
    ap.add_argument("--skip-e2e", action="store_true", help="skip the data-loading part")
    args = ap.parse_args()
    t_start = time.perf_counter()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    s = sizes(cuda)
    if args.repeats:
        s["repeats"] = args.repeats
        s["e2e_steps"] = min(s["e2e_steps"], max(2, 2 * args.repeats))
    quick = args.repeats is not None and args.repeats <= 1
    b, side = s["batch"], s["image"]
    images = 2 * b
    task, cfg = office_config(device, **{"backbone.name": s["backbone"],
                                         "backbone.weights": "none", "batch_size": b})
    seed_everything(cfg.seed, cfg.deterministic)  # as dabench.training.loop.run: same flags, same seed

    # 1. the step alone: same inputs, one process, interleaved
    xs, xt = torch.randn(b, 3, side, side), torch.randn(b, 3, side, side)
    ys, yt = torch.randint(0, 31, (b,)), torch.full((b,), -1)
    method, path = revgrad_method(cfg, device)
    pxs, pxt = path.put(xs), path.put(xt)
    pys, pyt = path.put(ys), path.put(yt)
    y_all = path.put(torch.cat([ys, torch.randint(0, 31, (b,))]))
    steps = {
        "dabench RevGrad step": dabench_step(method, pxs, pys, pxt, pyt),
        "bare supervised step (limit)": bare_step(cfg, path, path.put(torch.cat([xs, xt])),
                                                  y_all),
        "eager fp32 reference step": eager_step(s["backbone"], device, xs.to(device), pys,
                                                xt.to(device)),
    }
    t = interleaved(steps, device, s["repeats"], s["warmup"], s["inner"])
    t_dab, t_bare, t_eager = (t["dabench RevGrad step"], t["bare supervised step (limit)"],
                              t["eager fp32 reference step"])
    extra = {}
    if cuda:  # what cudnn autotuning would add (dabench.training.loop leaves it off: deterministic)
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = True
        extra["dabench RevGrad step, cudnn.benchmark on, not deterministic"] = interleaved(
            {"d": steps["dabench RevGrad step"]}, device, s["repeats"], s["warmup"],
            s["inner"])["d"]
        seed_everything(cfg.seed, cfg.deterministic)
        torch.backends.cudnn.benchmark = False
    if path.channels_last:  # what the NHWC layout buys on this device
        _, ncfg = office_config(device, **{"backbone.name": s["backbone"],
                                           "backbone.weights": "none", "batch_size": b,
                                           "channels_last": False})
        nmethod, npath = revgrad_method(ncfg, device)
        extra["dabench RevGrad step, channels_last off (NCHW)"] = interleaved(
            {"n": dabench_step(nmethod, npath.put(xs), pys, npath.put(xt), pyt)}, device,
            s["repeats"], s["warmup"], s["inner"])["n"]
    profiles = profile_steps({k: steps[k] for k in list(steps)[:2]}, device) \
        if args.profile else {}
    eval_per_image = eval_seconds_per_image(method, path, torch.cat([pxs, pxt]),
                                            max(2, s["repeats"] // 2), 1)
    del steps

    # 2. end to end with data loading
    e2e: dict[str, dict] = {}
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory(prefix="dabench-throughput-") as tmp:
            root = Path(tmp)
            n_files = write_office_tree(root, list(task.classes), s["per_class"])
            small = sized_task(task, side, s["resize"])
            variants = [("jpeg_loader_0_workers", {"num_workers": 0}),
                        (f"jpeg_loader_{s['workers']}_workers", {"num_workers": s["workers"]}),
                        ("image_cache", {"image_cache": True})]
            for name, sets in variants:
                if quick and name == "jpeg_loader_0_workers":
                    continue
                _, vcfg = office_config(device, **{"backbone.name": s["backbone"],
                                                   "backbone.weights": "none",
                                                   "batch_size": b, **sets})
                sec, build_s = end_to_end(small, vcfg, method, path, root, s["e2e_steps"],
                                          s["warmup"])
                e2e[name] = {"ms_per_step": 1000 * sec, "images_per_s": images / sec,
                             "dataset_build_s": build_s, "num_workers": vcfg.num_workers}
            if cuda:
                sec = cache_on_device_rate(small, vcfg, method, path, root, s["e2e_steps"],
                                           s["warmup"])
                e2e["image_cache_on_device"] = {"ms_per_step": 1000 * sec,
                                                "images_per_s": images / sec}
            e2e_files = n_files

    # 3. video
    video = video_rates(device, max(2, s["repeats"]), 2)

    # 5. digits
    digits = digits_rates(device, max(2, s["repeats"]), 2)

    # 4. projection; on the CPU also time the recipe's own model (ResNet-50 at 224) briefly
    model = f"{s['backbone']} at {side} px, batch {b} + {b}"
    projected = project(device, t_dab / images, eval_per_image, model)
    recipe_model = None
    if not cuda and not quick:
        rb = 4
        _, rcfg = office_config(device, **{"backbone.weights": "none", "batch_size": rb})
        rmethod, rpath = revgrad_method(rcfg, device)
        rx = torch.randn(2 * rb, 3, 224, 224)
        ry = torch.randint(0, 31, (rb,))
        rt = interleaved({"r": dabench_step(rmethod, rx[:rb], ry, rx[rb:], torch.full((rb,), -1))},
                         device, 2, 1, 1)["r"]
        re = eval_seconds_per_image(rmethod, rpath, rx, 2, 1)
        recipe_model = {"model": f"{rcfg.backbone.name} at 224 px, batch {rb} + {rb}",
                        "ms_per_step": 1000 * rt, "images_per_s": 2 * rb / rt,
                        "eval_images_per_s": 1 / re,
                        "projected": project(device, rt / (2 * rb), re,
                                             f"{rcfg.backbone.name} at 224 px")}

    device_name = (torch.cuda.get_device_name(0) if cuda else
                   f"cpu ({platform.machine()}, {os.cpu_count()} cores, "
                   f"{torch.get_num_threads()} threads)")
    e2e_rates = {}
    if e2e:
        e2e_rates = {"jpeg_loader": e2e[f"jpeg_loader_{s['workers']}_workers"]["images_per_s"],
                     "image_cache": e2e["image_cache"]["images_per_s"]}
    result = {
        "date": time.strftime("%Y-%m-%d"), "device": device_name, "torch": torch.__version__,
        "sizes": s, "deterministic": cfg.deterministic,
        "autocast_bf16": path.amp, "channels_last": path.channels_last,
        "ms_per_step": {k: 1000 * v for k, v in t.items()},
        "images_per_s": {k: images / v for k, v in t.items()},
        "ratio_dabench_over_bare_time": t_dab / t_bare,
        "ratio_dabench_speedup_over_eager": t_eager / t_dab,
        "extra_ms_per_step": {k: 1000 * v for k, v in extra.items()},
        "eval_images_per_s": 1 / eval_per_image,
        "step_only_images_per_s": images / t_dab,
        "end_to_end_images_per_s": e2e_rates,
        "end_to_end": e2e,
        "video": video,
        "digits": digits,
        "projected_office31_a_to_w_s": projected,
        "recipe_model_cpu": recipe_model,
        "profiles": profiles,
    }
    if e2e:
        result["end_to_end_jpeg_files"] = e2e_files

    # the table
    print(f"device: {device_name}; torch {torch.__version__}; {model}; "
          f"autocast bf16 {path.amp}, channels_last {path.channels_last}, "
          f"deterministic {cfg.deterministic}")
    print(f"\n{'step alone (same inputs)':58s} {'ms':>9s} {'images/s':>10s}")
    for name, sec in {**t, **extra}.items():
        print(f"{name:58s} {1000 * sec:9.1f} {images / sec:10.1f}")
    print(f"RevGrad step time / bare step time: {t_dab / t_bare:.3f}  (target <= 1.15)")
    print(f"RevGrad speed-up over the eager fp32 reference: {t_eager / t_dab:.2f}x")
    print(f"evaluation forward: {1 / eval_per_image:.1f} images/s")
    if e2e:
        print(f"\n{'end to end, with data loading':58s} {'ms':>9s} {'images/s':>10s}")
        print(f"{'step alone (dabench RevGrad step)':58s} {1000 * t_dab:9.1f} "
              f"{images / t_dab:10.1f}")
        for name, row in e2e.items():
            note = f"  (datasets built in {row['dataset_build_s']:.2f} s)" \
                if "dataset_build_s" in row else ""
            print(f"{name:58s} {row['ms_per_step']:9.1f} {row['images_per_s']:10.1f}{note}")
    print()
    if "skipped" in video:
        print(f"video: skipped ({video['skipped']})")
    else:
        for name, row in video.items():
            print(f"video {name:10s} RevGrad on ({row['batch']}, {row['frames']}, "
                  f"{row['feature_dim']}) + same: {row['steps_per_s']:.1f} steps/s, "
                  f"{row['videos_per_s']:.0f} videos/s")
    ms = digits["ms_per_step"]
    print(f"digits RevGrad step ({digits['backbone']}, {digits['batch']} + {digits['batch']} "
          f"at 28 px): channels_last {ms['channels_last']:.1f} ms, NCHW {ms['nchw']:.1f} ms "
          f"({digits['speedup_channels_last']:.2f}x)")
    print()
    for recipe, p in projected.items():
        print(f"projected Office-31 A->W, recipe {recipe}: {p['steps']} steps of {p['batch']} + "
              f"{p['batch']}, {p['evaluations']} evaluations: {fmt_time(p['seconds'])} "
              f"(at the rate of {model})")
    if recipe_model:
        for recipe, p in recipe_model["projected"].items():
            print(f"projected Office-31 A->W, recipe {recipe}, on this CPU with the recipe's "
                  f"model ({recipe_model['model']}: {recipe_model['images_per_s']:.1f} "
                  f"images/s): {fmt_time(p['seconds'])}")
    out = Path(args.out or os.environ.get("OUT") or "benchmarks/out")
    out.mkdir(parents=True, exist_ok=True)
    result["wall_s"] = time.perf_counter() - t_start
    (out / "throughput.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {out / 'throughput.json'} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
