"""Frame features of videos: a frozen ResNet on the sampled frames, batched, cached on disk.

Pipeline (TA3N's, minus decoding every frame): for each video, the centre frame of each of
`segments` equal segments (`video_decode.segment_indices`) -> resize the short side to
`frame_size` (antialiased bilinear) -> centre crop `frame_size` x `frame_size` -> ImageNet
mean/std -> torchvision ResNet with fc removed (2048-d for ResNet-50/101). Decoding and resizing
run in DataLoader workers (one reader per sample, opened inside the worker, so nothing is shared
across a fork) while the main process runs the network, so the device overlaps with decoding.

Cache: `<cache dir>/<spec tag>/<dataset>/shard-<hash>.pt`. The spec tag names the backbone, its
weights, the number of segments, the frame size and the preprocessing version; inside, an entry is
keyed by the video's path relative to its dataset folder and carries the video's file size and
the frame indices it was sampled at. The indices are a pure function of (frame count, segments),
so keying by segments avoids opening every video just to look its features up. A shard holds
{"version", "relpaths", "sizes", "indices" (N, T) long, "features" (N, T, D) float32} and is
written atomically (`dabench.atomic`: temporary file, fsync, rename), so a crash never leaves a
half-written shard: a shard exists whole or not at all. A video whose file size changed is
extracted again; a cached video whose file is gone is served from the cache.

One module past ~300 lines on purpose: the cache format, the worker pipeline that fills it and
`load_features` (which decides what to extract) change together whenever the preprocessing
version changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from dabench.data.video.decode import get_backend, segment_indices
from dabench.atomic import atomic_file
from dabench.errors import DabenchError

PREPROCESS_VERSION = 2  # bump when the frame preprocessing changes: old caches stop matching
# (2: features stored in float32, as TA3N's, instead of float16)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SHARD = re.compile(r"^shard-[0-9a-f]{16}\.pt$")
DECODE_TIMEOUT_S = 300  # per batch, when decoding in worker processes
ProgressFn = Callable[[int, int], None]  # (videos extracted so far, videos to extract)


@dataclass(frozen=True)
class FeatureSpec:
    """What determines a feature vector besides the video itself."""

    backbone: str = "resnet101"
    weights: str = "imagenet"  # "imagenet", "none" (seeded random init, for tests) or a .pth path
    segments: int = 5
    frame_size: int = 224

    def tag(self) -> str:
        weights = self.weights
        if weights not in ("imagenet", "none"):
            file = Path(weights).expanduser().resolve()
            if not file.is_file():
                raise DabenchError(f"weights file '{file}' does not exist; pass an existing .pth "
                                   "file with --set backbone.weights=PATH, or 'imagenet'")
            st = file.stat()
            weights = "file-" + _file_digest(str(file), st.st_size, st.st_mtime_ns)
        return (f"{self.backbone}-{weights}-seg{self.segments}-px{self.frame_size}"
                f"-v{PREPROCESS_VERSION}")


@lru_cache(maxsize=16)
def _file_digest(path: str, _size: int, _mtime: int) -> str:
    """First 12 hex digits of the SHA-256 of a weights file (so a new file means new features)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


# -- the on-disk cache ----------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _read_shard(path: str, _size: int, _mtime: int) -> dict:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        n = len(blob["relpaths"])
        ok = (len(blob["sizes"]) == n and blob["indices"].shape[0] == n
              and blob["features"].shape[0] == n)
    except Exception as exc:  # unpickling errors come in many types
        raise DabenchError(f"feature cache file {path} is damaged ({type(exc).__name__}); "
                           "delete it and run again to re-extract its videos") from None
    if not ok:
        raise DabenchError(f"feature cache file {path} is inconsistent; delete it and run again")
    return blob


class FeatureCache:
    """The shards of one (spec, dataset) folder; see the module docstring for the format."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def shards(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if SHARD.match(p.name))

    def index(self) -> dict[str, list[tuple[dict, int]]]:
        """relpath -> [(shard contents, row), ...], newest shard first."""
        out: dict[str, list[tuple[dict, int]]] = {}
        stats = [(p, p.stat()) for p in self.shards()]
        for path, st in sorted(stats, key=lambda ps: (-ps[1].st_mtime_ns, ps[0].name)):
            blob = _read_shard(str(path), st.st_size, st.st_mtime_ns)
            for row, rel in enumerate(blob["relpaths"]):
                out.setdefault(rel, []).append((blob, row))
        return out

    def write(self, relpaths: Sequence[str], sizes: Sequence[int], indices: torch.Tensor,
              features: torch.Tensor) -> Path:
        """One new shard, written atomically (`dabench.atomic`)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DabenchError(f"cannot create the feature cache folder {self.directory} "
                               f"({exc.strerror}); choose a writable one with --set "
                               "video.cache_dir=DIR") from None
        digest = hashlib.sha256(
            "\n".join(f"{r}\t{s}" for r, s in zip(relpaths, sizes)).encode()).hexdigest()[:16]
        final = self.directory / f"shard-{digest}.pt"
        blob = {"version": PREPROCESS_VERSION, "relpaths": list(relpaths),
                "sizes": [int(s) for s in sizes], "indices": indices.to(torch.long),
                "features": features.to(torch.float32)}
        with atomic_file(final) as fh:
            torch.save(blob, fh)
        return final


# -- decoding and the network ---------------------------------------------------------------------

def preprocess(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> uint8 (T, 3, size, size): short side to `size`, centre crop."""
    from torchvision.transforms.v2 import functional as F

    x = frames.permute(0, 3, 1, 2)  # (T, 3, H, W)
    x = F.resize(x, size, antialias=True)  # short side -> size
    return F.center_crop(x, [size, size]).contiguous()


class SampledClips(Dataset):
    """Video i -> (uint8 frames (T, 3, S, S), frame indices (T,)), or an error message string.

    Opens its own reader for every sample (inside the worker process that decodes it).
    """

    def __init__(self, paths: Sequence[Path], segments: int, frame_size: int) -> None:
        self.paths = [Path(p) for p in paths]
        self.segments = segments
        self.frame_size = frame_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        path = self.paths[i]
        try:
            backend = get_backend()
            idx = segment_indices(backend.num_frames(path), self.segments)
            frames = torch.from_numpy(backend.read_frames(path, idx))  # (T, H, W, 3)
        except DabenchError as exc:
            return str(exc)  # raised in the main process: worker tracebacks are unreadable
        return preprocess(frames, self.frame_size), torch.tensor(idx, dtype=torch.long)


def select_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DabenchError("--device cuda was asked for but no CUDA GPU is visible; use "
                           "--device cpu or auto")
    return torch.device(name)


def build_extractor(spec: FeatureSpec, device: torch.device) -> torch.nn.Module:
    """The frozen ResNet, fc removed. `weights=none` is seeded, so its features are stable."""
    from dabench.models.backbones import build_backbone

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net, _ = build_backbone(spec.backbone, spec.weights)
    net = net.eval().to(device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    return net


def cap_workers(wanted: int) -> int:
    """At most one decode worker per usable CPU core (what DataLoader would warn about);
    saying so in one line instead of DataLoader's raw UserWarning."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    if wanted > cores:
        logging.getLogger("dabench").warning(
            "%d video decode workers asked for, but %d CPU %s usable here; using %d", wanted,
            cores, "core is" if cores == 1 else "cores are", cores)
        return cores
    return wanted


def iter_features(paths: Sequence[Path], spec: FeatureSpec, device: str = "auto",
                  batch_size: int = 32, num_workers: int = 4
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yields (frame indices (n, T) long, features (n, T, D) float32) per batch, in order."""
    dev = select_device(device)
    num_workers = cap_workers(num_workers)
    net = build_extractor(spec, dev)
    mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=dev).view(1, 3, 1, 1)
    loader = DataLoader(SampledClips(paths, spec.segments, spec.frame_size),
                        batch_size=batch_size, num_workers=num_workers, collate_fn=list,
                        pin_memory=dev.type == "cuda",
                        timeout=DECODE_TIMEOUT_S if num_workers > 0 else 0,
                        prefetch_factor=2 if num_workers > 0 else None)
    it = iter(loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except RuntimeError as exc:
            if "timed out" in str(exc):
                raise DabenchError(f"decoding a batch of videos took over {DECODE_TIMEOUT_S} s; "
                                   "retry with --set video.decode_workers=0") from None
            raise
        errors = [b for b in batch if isinstance(b, str)]
        if errors:
            raise DabenchError(errors[0])
        clips = torch.stack([c for c, _ in batch])  # (n, T, 3, S, S) uint8
        n, t = clips.shape[:2]
        x = clips.to(dev, non_blocking=True).flatten(0, 1).float().div_(255)  # (n*T, 3, S, S)
        x = (x - mean) / std
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            feats = net(x).float().view(n, t, -1).cpu()  # (n, T, D)
        yield torch.stack([i for _, i in batch]), feats


# -- cached lookup --------------------------------------------------------------------------------

@dataclass
class FeatureResult:
    features: torch.Tensor  # (N, T, D) float32, in the order asked for
    indices: torch.Tensor  # (N, T) long: the frames each row was computed from
    cached: int  # videos served from the cache
    extracted: int  # videos decoded and run through the network now


def load_features(video_dir: Path, relpaths: Sequence[str], spec: FeatureSpec, store_dir: Path,
                  *, device: str = "auto", batch_size: int = 32, num_workers: int = 4,
                  commit_every: int = 512, on_progress: Optional[ProgressFn] = None,
                  what: str = "videos") -> FeatureResult:
    """Features of `video_dir/relpath` for each relpath, extracting (and caching) what is missing.

    Extracted features are committed to the cache every `commit_every` videos, so an
    interrupted extraction resumes where it stopped. `what` names the videos in error messages.
    """
    if not relpaths:
        raise DabenchError(f"no {what} to load features for; check the split files")
    cache = FeatureCache(store_dir)
    sizes = {rel: _size(video_dir / rel) for rel in dict.fromkeys(relpaths)}
    found = _pick(cache.index(), sizes)
    todo = [rel for rel in sizes if rel not in found]
    missing = [rel for rel in todo if sizes[rel] is None]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3
                                          else "")
        raise DabenchError(f"{len(missing)} of the {len(sizes)} {what} are missing from "
                           f"{video_dir} ({shown}); the split file lists them: put the videos "
                           "there (layout: docs/video.md)")
    if todo:
        done = start = 0  # todo[start:done] are extracted but not yet committed
        pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        if on_progress:
            on_progress(0, len(todo))
        for batch in iter_features([video_dir / rel for rel in todo], spec, device, batch_size,
                                   num_workers):
            pending.append(batch)
            done += len(batch[1])
            if done - start >= commit_every or done == len(todo):
                cache.write(todo[start:done], [sizes[r] for r in todo[start:done]],
                            torch.cat([i for i, _ in pending]), torch.cat([f for _, f in pending]))
                start, pending = done, []
            if on_progress:
                on_progress(done, len(todo))
        found = _pick(cache.index(), sizes)
    rows = [found[rel] for rel in relpaths]
    feats = torch.stack([blob["features"][row] for blob, row in rows]).float()  # (N, T, D)
    indices = torch.stack([blob["indices"][row] for blob, row in rows])  # (N, T)
    if feats.shape[1] != spec.segments:
        raise DabenchError(f"feature cache {store_dir} holds {feats.shape[1]} frames per video, "
                           f"expected {spec.segments}; delete it and run again")
    return FeatureResult(feats, indices, cached=len(sizes) - len(todo), extracted=len(todo))


def missing_features(video_dir: Path, relpaths: Sequence[str], store_dir: Path) -> list[str]:
    """The relpaths with no usable cache entry (see `_pick`), without extracting anything."""
    sizes = {rel: _size(video_dir / rel) for rel in dict.fromkeys(relpaths)}
    found = _pick(FeatureCache(store_dir).index(), sizes)
    return [rel for rel in sizes if rel not in found]


def _pick(index: dict[str, list[tuple[dict, int]]],
          sizes: dict[str, Optional[int]]) -> dict[str, tuple[dict, int]]:
    """The usable cache entry of each video: the newest one extracted from a file of the
    video's current size; any entry when the file is gone (size None)."""
    out = {}
    for rel, size in sizes.items():
        for blob, row in index.get(rel, []):
            if size is None or blob["sizes"][row] == size:
                out[rel] = (blob, row)
                break
    return out


def _size(path: Path) -> Optional[int]:
    try:
        return path.stat().st_size
    except OSError:
        return None
