"""Seeded per-class splits of a target domain: the labelled validation split used to screen
recipes without touching the test set, and the test split of target-only ("train on target") on
domains whose train and test splits are the same images (Office).

The split is a function of the labels, the fraction and the seed only (never of the run seed),
so every run of a screen or of a table sees the same split.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from torch.utils.data import ConcatDataset, Dataset, Subset, TensorDataset

from dabench.errors import DabenchError

SPLIT_SEED = 0  # one split for every run seed


def stratified_split(labels: Sequence[int], fraction: float,
                     seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) item indices, sorted and disjoint: per class, a seeded shuffle of its items
    and round(fraction x n_class) of them held out (at least one, and one kept, when the class has
    two or more items)."""
    if not 0.0 < fraction < 1.0:
        raise DabenchError(f"a held-out fraction must be between 0 and 1 (exclusive), got "
                           f"{fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        items = np.flatnonzero(labels == c)
        rng.shuffle(items)
        n = int(round(fraction * len(items)))
        if len(items) >= 2:
            n = min(max(n, 1), len(items) - 1)
        held.append(items[:n])
    held_idx = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    kept_idx = np.setdiff1d(np.arange(len(labels)), held_idx)
    return kept_idx, held_idx


def dataset_labels(ds: Dataset) -> np.ndarray:
    """The labels of a dataset in item order, without decoding its inputs."""
    if isinstance(ds, TensorDataset):
        return ds.tensors[1].numpy()
    if isinstance(ds, ConcatDataset):
        return np.concatenate([dataset_labels(d) for d in ds.datasets])
    if isinstance(ds, Subset):
        return dataset_labels(ds.dataset)[np.asarray(ds.indices)]
    labels = getattr(ds, "labels", None)
    if labels is None:
        raise DabenchError(f"cannot hold out a split of a {type(ds).__name__}: it does not "
                           "expose its labels")
    return np.asarray(labels)


def same_images(a: Dataset, b: Dataset) -> bool:
    """Whether two splits hold the same items (the image loaders' single-target protocol gives
    the whole domain as both "train" and "test")."""
    if a is b:
        return True
    items_a, items_b = getattr(a, "items", None), getattr(b, "items", None)
    if items_a is not None and items_b is not None:
        return list(items_a) == list(items_b)
    if isinstance(a, ConcatDataset) and isinstance(b, ConcatDataset):
        return len(a.datasets) == len(b.datasets) and all(
            same_images(x, y) for x, y in zip(a.datasets, b.datasets))
    return False
