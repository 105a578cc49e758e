"""Held-out validation splits for model selection without target labels.

`hold_out` splits the labelled source S into S' (training) and S_V, and the unlabelled target T
into T' and T_V, as reverse validation needs (Ganin et al., JMLR 2016, Section 5.1.2: 90/10
splits). The split depends only on the run's seed, so every configuration of a sweep sees the
same S_V and T_V. `subset` and `relabel` work on any dataset: TensorDatasets and feature-vector
domains natively, anything else through small wrappers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch.utils.data import Dataset, TensorDataset

from dabench.errors import DabenchError


class _Subset(Dataset):
    """Items `idx` of `base`, optionally with replacement labels; keeps a device transform."""

    def __init__(self, base: Any, idx: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        self.base, self.idx, self.labels = base, idx, labels
        transform = getattr(base, "device_transform", None)
        if transform is not None:
            self.device_transform = transform

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i: int):
        x, y = self.base[int(self.idx[i])]
        return x, (self.labels[i] if self.labels is not None else y)


def subset(dataset: Any, idx: torch.Tensor) -> Any:
    if hasattr(dataset, "subset"):
        return dataset.subset(idx)
    if isinstance(dataset, TensorDataset):
        return TensorDataset(*(t[idx] for t in dataset.tensors))
    return _Subset(dataset, idx)


def relabel(dataset: Any, labels: torch.Tensor) -> Any:
    """The same inputs with `labels` (N,) instead of their own (e.g. self-labelled targets)."""
    if hasattr(dataset, "with_labels"):
        return dataset.with_labels(labels)
    if isinstance(dataset, TensorDataset):
        return TensorDataset(dataset.tensors[0], labels)
    if isinstance(dataset, _Subset):
        return _Subset(dataset.base, dataset.idx, labels)
    return _Subset(dataset, torch.arange(len(dataset)), labels)


def split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random (train, held-out) index split of range(n); held-out has
    max(1, round(fraction * n)) items."""
    if not 0 < fraction < 1:
        raise DabenchError(f"selection.holdout must be between 0 and 1 (exclusive), got "
                           f"{fraction}; the paper holds out 0.1")
    held = max(1, round(fraction * n))
    if held >= n:
        raise DabenchError(f"selection.holdout={fraction} leaves nothing to train on in a "
                           f"domain of {n} items; lower it")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(10_007 + seed))
    return order[held:].sort().values, order[:held].sort().values


def hold_out(data: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """(TaskData with source_train = S', source_test = S_V, target_train = T'; T_V)."""
    s_train, s_val = split(len(data.source_train), fraction, seed)
    t_train, t_val = split(len(data.target_train), fraction, seed + 1)
    out = replace(data, source_train=subset(data.source_train, s_train),
                  source_test=subset(data.source_train, s_val),
                  target_train=subset(data.target_train, t_train))
    return out, subset(data.target_train, t_val)
