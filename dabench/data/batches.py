"""Endless batch streams for the training loop, with a position that can be saved.

In-memory TensorDatasets (the digits, cached video features) and datasets with a
`take(indices) -> (inputs, labels)` method (feature vectors, sparse batches) are indexed
directly: a seeded permutation per epoch, no DataLoader worker overhead. Other datasets go through a DataLoader
whose shuffling uses the same seeded permutation.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset


def target_batch_size(batch_size: int, rule: str, explicit: int, n_source: int,
                      n_target: int) -> int:
    """Target items per step: `explicit` if > 0; "proportional": floor(batch_size x n_target /
    n_source), at least 1, so both domains end an epoch after the same number of steps (TA3N,
    cmhungsteve/TA3N at 2c65b5d, script_train_val.sh 96-97: bS_2=$((bS * num_target /
    num_source)), 74 for UCF -> HMDBfull); "same": batch_size."""
    if explicit > 0:
        return explicit
    if rule == "proportional":
        return max(1, batch_size * n_target // n_source)
    return batch_size


def augment_seed(stream_seed: int) -> int:
    """The seed of a stream's own augmentation generator, from the stream's (run-derived) seed."""
    return (stream_seed * 1_000_003 + 7_919) % 2**63


class BatchStream:
    """Infinite (inputs, labels) batches; epoch e shuffles with seed (seed, e), or with
    `replacement` draws as many items uniformly with replacement."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, num_workers: int = 0,
                 pin_memory: bool = False, replacement: bool = False) -> None:
        if len(dataset) == 0:
            raise ValueError("cannot draw batches from an empty dataset")
        if hasattr(dataset, "reseeded"):  # a decoded-image cache: this stream's own crops/flips
            dataset = dataset.reseeded(augment_seed(seed))
        self.dataset = dataset
        self.batch_size = min(batch_size, len(dataset))
        self.seed = seed
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.replacement = replacement  # items drawn uniformly with replacement, not permuted
        self.epoch = 0
        self.offset = 0  # batches already drawn in this epoch
        self._it: Iterator | None = None

    def _order(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        n_batches = len(self.dataset) // self.batch_size  # drop the last, ragged batch
        if self.replacement:  # an "epoch" is as many draws as a permutation would give
            return torch.randint(len(self.dataset), (n_batches * self.batch_size,), generator=g)
        return torch.randperm(len(self.dataset), generator=g)[: n_batches * self.batch_size]

    def _start_epoch(self) -> None:
        order = self._order()[self.offset * self.batch_size:]
        if isinstance(self.dataset, TensorDataset):
            tensors = self.dataset.tensors
            chunks = order.split(self.batch_size)
            self._it = (tuple(t[idx] for t in tensors) for idx in chunks)
        elif hasattr(self.dataset, "take_batches"):  # feature vectors: one gather per epoch
            self._it = self.dataset.take_batches(order, self.batch_size)
        elif hasattr(self.dataset, "take"):
            self._it = (self.dataset.take(idx) for idx in order.split(self.batch_size))
        else:
            loader = DataLoader(Subset(self.dataset, order.tolist()), batch_size=self.batch_size,
                                shuffle=False, num_workers=self.num_workers,
                                pin_memory=self.pin_memory, timeout=600 if self.num_workers else 0)
            self._it = iter(loader)

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        while True:
            if self._it is None:
                self._start_epoch()
            batch = next(self._it, None)
            if batch is not None:
                self.offset += 1
                return batch[0], batch[1]
            self.epoch, self.offset, self._it = self.epoch + 1, 0, None

    def position(self) -> dict:
        """Where the stream is, and the state of its augmentation generator if it has one."""
        out: dict = {"epoch": self.epoch, "offset": self.offset}
        generator = getattr(self.dataset, "generator", None)
        if generator is not None:
            out["augment"] = generator.get_state()  # (N,) uint8 tensor
        return out

    def restore(self, position: dict) -> None:
        self.epoch, self.offset, self._it = position["epoch"], position["offset"], None
        generator = getattr(self.dataset, "generator", None)
        if generator is not None and "augment" in position:
            generator.set_state(position["augment"])


def cat_rows(parts: list[torch.Tensor]) -> torch.Tensor:
    """torch.cat along rows, also for sparse CSR batches (which torch.cat does not take); a
    sparse batch next to a dense one (an svmlight source, a CSV target) is made dense."""
    sparse = [p.layout == torch.sparse_csr for p in parts]
    if not all(sparse):
        return torch.cat([p.to_dense() if s else p for p, s in zip(parts, sparse)])
    crows, shift = [parts[0].crow_indices()], parts[0].crow_indices()[-1]
    for p in parts[1:]:
        crows.append(p.crow_indices()[1:] + shift)
        shift = shift + p.crow_indices()[-1]
    rows = sum(p.shape[0] for p in parts)
    return torch.sparse_csr_tensor(torch.cat(crows), torch.cat([p.col_indices() for p in parts]),
                                   torch.cat([p.values() for p in parts]),
                                   size=(rows, parts[0].shape[1]), check_invariants=False)
