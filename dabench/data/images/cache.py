"""A decoded-image cache for small image datasets (Office-31, Office-Home), augmented on the device.

The JPEG path decodes, resizes, crops, flips and normalises every image on the CPU at every
step; on a GPU that costs more than the ResNet-50 step itself unless many DataLoader workers
run. Office-31 is small: all 4,110 images decoded once at 256x256 uint8 take 4110 * 3 * 256 *
256 bytes ~= 0.8 GB (Office-Home, 15,588 images: ~3.1 GB). `DecodedImages` holds them as one
(N, 3, size, size) uint8 tensor, decoded in parallel threads with Pillow, and does the random
crop / random-resized crop, the horizontal flip, the float conversion and the ImageNet
normalisation on whole batches on the device (`device_transform`), where they cost next to
nothing.

It subclasses `TensorDataset`, so `BatchStream` and `predict_dataset` index its tensors directly
(no DataLoader, no workers), and `DevicePath.put(x, dataset, train)` calls
`dataset.device_transform(x, train)` on every batch after moving it to the device. One object
serves both splits of a domain: the training loop passes train=True (random augmentation), the
evaluation train=False (centre crop).

Differences from the per-image JPEG path (`images.build_transforms`), by construction:
- the image is resized once, to `size` x `size` ("stretch", = T.Resize((size, size)), the tllib
  recipe's first step) or short side to `size` then centre-cropped to a square ("short-side");
  the JPEG path's test transform resizes the short side and centre-crops `crop` from the full
  (possibly non-square) image, and "dann-paper" random-crops from the full short-side-resized
  image; with "stretch" a crop sees the whole image squashed to a square instead;
- the random-resized crop resamples with bilinear interpolation (no antialias) in float, where
  torchvision on PIL resamples with Pillow and rounds to uint8; at Office sizes (256 -> 224)
  the scale factor is at most 256/224, so the difference is small;
- the random numbers come from the dataset's own torch.Generator (seeded by `seed`), not from
  torch's global generator: the augmentation sequence is the same on every device.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from dabench.data.images.dataset import IMAGENET_MEAN, IMAGENET_STD, load_rgb
from dabench.errors import DabenchError

FITS = ("stretch", "short-side")
# Train-time augmentation by recipe name (the names of `augment.AUGMENTATIONS`) or by what it does.
AUGMENTS = {"dann-paper": "crop", "crop": "crop", "tllib": "resized-crop",
            "resized-crop": "resized-crop"}
RRC_SCALE = (0.08, 1.0)  # torchvision RandomResizedCrop defaults
RRC_RATIO = (3 / 4, 4 / 3)
_RRC_TRIES = 10


def cache_bytes(n: int, size: int = 256) -> int:
    """Memory of n cached images: n * 3 * size * size bytes (Office-31: ~0.8 GB at 256)."""
    return n * 3 * size * size


def decode_resized(path: Path, size: int, fit: str = "stretch") -> np.ndarray:
    """One image fully decoded to RGB and resized with Pillow's bilinear filter: (size, size, 3)
    uint8. "stretch" = T.Resize((size, size)); "short-side" = T.Resize(size) +
    T.CenterCrop(size) (torchvision's functional ops on the PIL image, so the result is the
    JPEG path's, pixel for pixel)."""
    from torchvision.transforms import functional as TF

    image = load_rgb(path)  # a DabenchError naming the file if it does not decode
    if fit == "stretch":
        image = TF.resize(image, [size, size])
    else:
        image = TF.center_crop(TF.resize(image, size), [size, size])
    out = np.array(image, dtype=np.uint8)  # a writable copy
    if out.shape != (size, size, 3):
        raise DabenchError(f"image {path} decoded to shape {out.shape}, expected "
                           f"({size}, {size}, 3)")
    return out


def decode_images(paths: Sequence[Path], size: int = 256, workers: Optional[int] = None,
                  fit: str = "stretch") -> torch.Tensor:
    """Decode and resize every image in parallel threads (Pillow releases the GIL while it
    decodes and resizes): (N, 3, size, size) uint8, in `paths` order."""
    if fit not in FITS:
        raise DabenchError(f"unknown fit '{fit}'; use one of {', '.join(FITS)}")
    if size <= 0:
        raise DabenchError(f"cache image size must be positive, got {size}")
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    view = out.permute(0, 2, 3, 1)  # (N, size, size, 3): the layout Pillow hands out
    workers = workers or min(16, os.cpu_count() or 1)

    def one(i: int) -> None:
        view[i].copy_(torch.from_numpy(decode_resized(Path(paths[i]), size, fit)))

    if workers <= 1 or len(paths) <= 1:
        for i in range(len(paths)):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(len(paths))))  # list(): re-raise the first error
    return out


class DecodedImages(TensorDataset):
    """(path, label) items decoded once into memory: tensors = (images (N, 3, size, size) uint8,
    labels (N,) int64); `device_transform(batch, train)` -> (B, 3, crop, crop) float32,
    ImageNet-normalised.

    augment (train only): "dann-paper" / "crop" = random `crop` x `crop` window + horizontal flip;
    "tllib" / "resized-crop" = RandomResizedCrop(crop, scale (0.08, 1), ratio (3/4, 4/3)) +
    flip. Test: the centre `crop` x `crop` window. `seed` seeds the generator of the crop
    positions and flips. `device` (e.g. "cuda") keeps the images on the GPU (labels stay on the
    CPU, where the evaluation compares them): batches are then gathered on the device and no
    host-to-device copy of images happens at all.
    """

    def __init__(self, items: Sequence[tuple[Any, int]], size: int = 256, workers: Optional[int] = None,
                 *, crop: int = 224, augment: str = "dann-paper", seed: int = 0,
                 fit: str = "stretch", device: Optional[torch.device | str] = None) -> None:
        self.items = [(Path(p), int(label)) for p, label in items]
        images = decode_images([p for p, _ in self.items], size, workers, fit)
        labels = torch.tensor([label for _, label in self.items], dtype=torch.long)
        self._setup(images, labels, crop, augment, seed, device)

    @classmethod
    def from_tensors(cls, images: torch.Tensor, labels: torch.Tensor, *, crop: int = 224,
                     augment: str = "dann-paper", seed: int = 0,
                     device: Optional[torch.device | str] = None) -> "DecodedImages":
        """A cache over already decoded images: (N, 3, S, S) uint8 and (N,) labels."""
        self = cls.__new__(cls)
        self.items = []
        self._setup(images, torch.as_tensor(labels, dtype=torch.long), crop, augment, seed,
                    device)
        return self

    @classmethod
    def concat(cls, parts: Sequence["DecodedImages"]) -> "DecodedImages":
        """One cache over several (a blended target), so the loop keeps its direct-index fast
        path (a ConcatDataset would go through a DataLoader item by item). Crop, augmentation
        and seed come from the first part."""
        first = parts[0]
        out = cls.from_tensors(torch.cat([p.images for p in parts]),
                               torch.cat([p.targets for p in parts]), crop=first.crop,
                               augment=first.augment, seed=first.seed,
                               device=first.images.device)
        out.items = [item for p in parts for item in p.items]
        return out

    def subset(self, index: torch.Tensor) -> "DecodedImages":
        """The items `index` (a held-out split) as a cache of their own, same settings."""
        out = type(self).from_tensors(self.images[index], self.targets[index], crop=self.crop,
                                      augment=self.augment, seed=self.seed,
                                      device=self.images.device)
        out.items = [self.items[i] for i in index.tolist()] if self.items else []
        return out

    def _setup(self, images: torch.Tensor, labels: torch.Tensor, crop: int, augment: str,
               seed: int, device) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise DabenchError(f"cached images must be (N, 3, S, S) uint8, got "
                               f"{tuple(images.shape)} {images.dtype}")
        if augment not in AUGMENTS:
            raise DabenchError(f"unknown augmentation '{augment}'; use one of "
                               f"{', '.join(AUGMENTS)}")
        side = min(images.shape[2], images.shape[3])
        if not 0 < crop <= side:
            raise DabenchError(f"crop {crop} must be positive and at most the cached image side "
                               f"{side}")
        if device is not None:
            images = images.to(device)
        super().__init__(images, labels.cpu())
        self.crop = crop
        self.augment = augment
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self._scale = 1.0 / (255.0 * std)  # x_uint8 * scale - shift == (x / 255 - mean) / std
        self._shift = mean / std

    # -- what the training loop and the evaluation read --------------------------------------

    @property
    def images(self) -> torch.Tensor:
        return self.tensors[0]  # (N, 3, S, S) uint8

    @property
    def targets(self) -> torch.Tensor:
        return self.tensors[1]  # (N,) int64

    @property
    def labels(self) -> list[int]:
        """Labels in item order (as `ImageListDataset.labels`)."""
        return self.targets.tolist()

    @property
    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size()

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.generator.manual_seed(seed)

    def device_transform(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        """(B, 3, S, S) uint8 on any device -> (B, 3, crop, crop) float32 on the same device:
        random (resized) crop + flip for train, centre crop for test; then ImageNet
        normalisation. Crop boxes and flips are drawn on the CPU from `self.generator`."""
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
            raise DabenchError(f"device_transform takes (B, 3, S, S) uint8 batches of this cache, "
                               f"got {tuple(x.shape)} {x.dtype}")
        with torch.autocast(x.device.type, enabled=False):  # the evaluation calls it in autocast
            if not train:
                out = self._centre(x)
            elif AUGMENTS[self.augment] == "crop":
                out = self._random_crop(x)
            else:
                out = self._random_resized_crop(x)
            return self._normalise(out)

    # -- the pieces -----------------------------------------------------------------------------

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        scale = self._scale.to(x.device)
        shift = self._shift.to(x.device)
        return (x.float() * scale).sub_(shift)  # (B, 3, c, c) float32

    def _centre(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        top = int(round((h - self.crop) / 2.0))  # as torchvision's CenterCrop
        left = int(round((w - self.crop) / 2.0))
        return x[:, :, top:top + self.crop, left:left + self.crop]

    def draw_crops(self, b: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Random `crop` windows and flips for a batch: top (B,), left (B,), flip (B,) bool."""
        g, c = self.generator, self.crop
        top = (torch.rand(b, generator=g) * (h - c + 1)).long().clamp_(max=h - c)
        left = (torch.rand(b, generator=g) * (w - c + 1)).long().clamp_(max=w - c)
        flip = torch.rand(b, generator=g) < 0.5
        return top, left, flip

    def _random_crop(self, x: torch.Tensor) -> torch.Tensor:
        b, ch, h, w = x.shape
        top, left, flip = self.draw_crops(b, h, w)
        ar = torch.arange(self.crop)
        rows = top[:, None] + ar  # (B, c)
        cols = torch.where(flip[:, None], left[:, None] + self.crop - 1 - ar, left[:, None] + ar)
        dev = x.device
        bi = torch.arange(b).view(b, 1, 1, 1)
        ci = torch.arange(ch).view(1, ch, 1, 1)
        # One gather for the whole batch: out[b, c, i, j] = x[b, c, rows[b, i], cols[b, j]].
        return x[bi.to(dev), ci.to(dev), rows.view(b, 1, -1, 1).to(dev),
                 cols.view(b, 1, 1, -1).to(dev)]

    def draw_resized_crops(self, b: int, h: int, w: int) -> tuple[torch.Tensor, ...]:
        """torchvision's RandomResizedCrop.get_params for a whole batch (10 tries per item,
        else its centre-crop fallback) and flips: top, left, height, width (B,) long, flip."""
        g = self.generator
        area = float(h * w)
        log_r = (math.log(RRC_RATIO[0]), math.log(RRC_RATIO[1]))
        target = area * (RRC_SCALE[0] + (RRC_SCALE[1] - RRC_SCALE[0])
                         * torch.rand(b, _RRC_TRIES, generator=g, dtype=torch.float64))
        aspect = torch.exp(log_r[0] + (log_r[1] - log_r[0])
                           * torch.rand(b, _RRC_TRIES, generator=g, dtype=torch.float64))
        cw = torch.sqrt(target * aspect).round().long()
        ch = torch.sqrt(target / aspect).round().long()
        ok = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)  # (B, tries)
        first = ok.long().argmax(1)  # the first valid try (0 where none is valid)
        any_ok = ok.any(1)
        cw = cw.gather(1, first[:, None]).squeeze(1)
        ch = ch.gather(1, first[:, None]).squeeze(1)
        in_ratio = w / h  # fallback: the whole image, clamped to the allowed aspect ratios
        if in_ratio < RRC_RATIO[0]:
            fw, fh = w, int(round(w / RRC_RATIO[0]))
        elif in_ratio > RRC_RATIO[1]:
            fh, fw = h, int(round(h * RRC_RATIO[1]))
        else:
            fw, fh = w, h
        cw = torch.where(any_ok, cw, torch.full_like(cw, fw))
        ch = torch.where(any_ok, ch, torch.full_like(ch, fh))
        u = torch.rand(b, 2, generator=g, dtype=torch.float64)
        top = torch.where(any_ok, (u[:, 0] * (h - ch + 1)).long().clamp(max=h - ch),
                          (h - ch) // 2)
        left = torch.where(any_ok, (u[:, 1] * (w - cw + 1)).long().clamp(max=w - cw),
                           (w - cw) // 2)
        flip = torch.rand(b, generator=g) < 0.5
        return top, left, ch, cw, flip

    def _random_resized_crop(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        top, left, ch, cw, flip = self.draw_resized_crops(b, h, w)
        # Output pixel centre u in [-1, 1] samples the box [left, left + cw) at
        # n = (cw / w) * u + (2 * left + cw) / w - 1 (normalised, align_corners=False); a flip
        # negates the x scale.
        sx = (cw.double() / w) * torch.where(flip, -1.0, 1.0).double()
        sy = ch.double() / h
        tx = (2 * left + cw).double() / w - 1
        ty = (2 * top + ch).double() / h - 1
        theta = torch.zeros(b, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 2] = sx, tx
        theta[:, 1, 1], theta[:, 1, 2] = sy, ty
        theta = theta.float().to(x.device)
        grid = F.affine_grid(theta, [b, 3, self.crop, self.crop], align_corners=False)
        return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border",
                             align_corners=False)  # (B, 3, c, c) float in [0, 255]
