"""Held-out validation splits for model selection without target labels.

`hold_out` splits the labelled source S into S' (training) and S_V, and the unlabelled target T
into T' and T_V, as reverse validation needs (Ganin et al., JMLR 2016, Section 5.1.2: 90/10
splits). The split depends only on the run's seed, so every configuration of a sweep sees the
same S_V and T_V, read with the test transform (`held_out`). `subset` and `relabel` work on
any dataset: TensorDatasets and feature-vector
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


def for_evaluation(dataset: Any) -> Any:
    """`dataset` as an evaluation reads it: a training domain's JPEG images with the test
    transform instead of the random crop and flip (a decoded-image cache needs nothing: the
    caller passes train=False to its device transform). Other datasets are returned as they are."""
    from torch.utils.data import ConcatDataset

    if hasattr(dataset, "for_evaluation"):
        return dataset.for_evaluation()
    if isinstance(dataset, ConcatDataset):
        parts = [for_evaluation(d) for d in dataset.datasets]
        return dataset if all(a is b for a, b in zip(parts, dataset.datasets)) else \
            ConcatDataset(parts)
    if isinstance(dataset, _Subset):
        base = for_evaluation(dataset.base)
        return dataset if base is dataset.base else _Subset(base, dataset.idx, dataset.labels)
    return dataset


def held_out(dataset: Any, idx: torch.Tensor) -> Any:
    """The items `idx` of a training dataset as a split that is only ever evaluated."""
    return for_evaluation(subset(dataset, idx))


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


def last_split(n: int, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(first items, the last int(fraction * n) items) of range(n): the DANN release's S_V
    (experiments_amazon.py 40-42 at 74eec5e: nb_valid = int(0.1 * len(ys)), the tail)."""
    held = int(fraction * n)
    if not 0 < held < n:
        raise DabenchError(f"selection.holdout={fraction} holds out {held} of {n} items with "
                           "selection.source_val=last; choose a share that leaves both non-empty")
    return torch.arange(n - held), torch.arange(n - held, n)


def hold_out(data: Any, fraction: float, seed: int,
             source_val: str = "random") -> tuple[Any, Any]:
    """(TaskData with source_train = S', source_test = S_V, target_train = T'; T_V).
    `source_val` "last": S_V is the tail of the source file, else a seeded random share."""
    n = len(data.source_train)
    s_train, s_val = last_split(n, fraction) if source_val == "last" else \
        split(n, fraction, seed)
    t_train, t_val = split(len(data.target_train), fraction, seed + 1)
    out = replace(data, source_train=subset(data.source_train, s_train),
                  source_test=held_out(data.source_train, s_val),
                  target_train=subset(data.target_train, t_train))
    return out, held_out(data.target_train, t_val)
