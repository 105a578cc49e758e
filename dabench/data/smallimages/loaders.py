"""Loaders for the DANN paper's digit and traffic-sign datasets in their native formats.

`mnist`, `usps`, `svhn`, `syndigits`, `mnistm`, `synsigns`, `gtsrb` know where their files are
(`layouts.LAYOUTS`); `labelled-images` reads any flat folder with a label file or any per-class
ROI CSVs that the task file describes. Options: `arrays` module docstring.

Every split is a `PixelImages`: uint8 pixels in memory (N, S, S, 3), given to the network as
float (B, 3, S, S) in [0, 1] minus the per-channel mean of the domain's training images (the
paper's "mean subtraction only", JMLR 2016 Section 5.2.2).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from dabench.data import LOADERS
from dabench.data.smallimages.arrays import load_splits
from dabench.data.smallimages.layouts import GENERIC, LAYOUTS


class PixelImages:
    """uint8 images (N, S, S, 3) and labels (N,) -> normalised float batches via `take`."""

    def __init__(self, pixels: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor,
                 provenance: Optional[dict] = None) -> None:
        self.pixels = pixels  # (N, S, S, 3) uint8
        self.targets = labels  # (N,) int64
        self.mean = mean  # (3,) float
        self.provenance = provenance

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def labels(self) -> np.ndarray:
        return self.targets.numpy()

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pixels[idx].permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, S, S)
        return x.sub_(self.mean.view(1, 3, 1, 1)), self.targets[idx]

    def __getitem__(self, i: int):
        x, y = self.take(torch.tensor([i]))
        return x[0], int(y[0])

    def subset(self, idx) -> "PixelImages":
        idx = torch.as_tensor(idx, dtype=torch.long)
        return PixelImages(self.pixels[idx], self.targets[idx], self.mean, self.provenance)


def load_small(domain, task, data_root, split: str, config=None) -> PixelImages:
    """One split of a small-image domain; a one-split domain returns the same object twice."""
    splits = load_splits(domain, task, data_root)
    if "tensors" not in splits:  # made once per cached decode, shared by both splits
        x, y = splits["train"]
        mean = torch.from_numpy(x.reshape(-1, 3).mean(axis=0, dtype=np.float64) / 255.0).float()
        made = {"train": PixelImages(torch.from_numpy(x), torch.from_numpy(y), mean,
                                     splits.get("provenance"))}
        if splits.get("one_split"):
            made["test"] = made["train"]
        else:
            xt, yt = splits["test"]
            made["test"] = PixelImages(torch.from_numpy(xt), torch.from_numpy(yt), mean,
                                       splits.get("provenance"))
        splits["tensors"] = made  # torch.from_numpy shares the cached arrays' memory
    return splits["tensors"][split]


def _register(name: str, doc: str) -> None:
    def loader(domain, task, data_root, split, config=None, **_: Any) -> PixelImages:
        return load_small(domain, task, data_root, split, config)

    loader.__doc__ = doc
    LOADERS.add(name, loader)


for _name, _layout in LAYOUTS.items():
    _register(_name, f"{_layout.display} from its native files (see dabench.data.smallimages).")
_register(GENERIC, "Any flat folder with a label file, or per-class ROI CSVs (task options).")
