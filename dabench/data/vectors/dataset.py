"""An in-memory feature-vector domain: a sparse (scipy CSR) or dense (N, D) matrix + labels.

Batches are taken by index (`take`), without a DataLoader: a sparse domain yields a
`torch.sparse_csr_tensor` (B, D) per batch and never a dense copy of the domain; a dense one a
(B, D) float32 tensor. `__getitem__` (a dense row) exists for generic code paths only.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")


def _is_sparse(x: Any) -> bool:
    import scipy.sparse as sp

    return sp.issparse(x)


class VectorDataset(Dataset):
    """Rows of `x` (scipy CSR (N, D) or ndarray (N, D), float32) with long labels `y` (N,)."""

    def __init__(self, x: Any, y: torch.Tensor) -> None:
        self.x = x
        self.y = y
        self.sparse = _is_sparse(x)
        if self.sparse:  # torch views of the CSR arrays, for gathering batches without scipy
            x.sort_indices()
            self._crow = torch.from_numpy(x.indptr.astype(np.int64))  # (N + 1,)
            self._col = torch.from_numpy(x.indices.astype(np.int64))  # (nnz,)
            self._val = torch.from_numpy(np.ascontiguousarray(x.data, dtype=np.float32))

    @property
    def feature_dim(self) -> int:
        return int(self.x.shape[1])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.x[i].toarray()[0] if self.sparse else self.x[i]
        return torch.from_numpy(np.asarray(row, dtype=np.float32)), self.y[i]

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """Features of rows `idx` (B,) as one batch: sparse CSR or dense, (B, D)."""
        if not self.sparse:
            return torch.from_numpy(self.x[idx.numpy()])
        starts = self._crow[idx]  # (B,)
        lengths = self._crow[idx + 1] - starts  # non-zeros per row
        crow = torch.zeros(len(idx) + 1, dtype=torch.int64)
        torch.cumsum(lengths, 0, out=crow[1:])
        # position in the domain's arrays of every non-zero of the batch, row after row
        pos = torch.arange(int(crow[-1])) + torch.repeat_interleave(starts - crow[:-1], lengths)
        return torch.sparse_csr_tensor(crow, self._col[pos], self._val[pos],
                                       size=(len(idx), self.feature_dim),
                                       check_invariants=False)  # built valid from a CSR

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, D), labels (B,)) of rows `idx`."""
        idx = torch.as_tensor(idx, dtype=torch.int64)
        return self.rows(idx), self.y[idx]

    def take_batches(self, order: torch.Tensor, batch_size: int) -> Iterator[tuple]:
        """`take(chunk)` for each `batch_size` chunk of `order` (N,), the same batches, with
        the rows gathered once and each batch a slice of them (an epoch of the training loop)."""
        order = torch.as_tensor(order, dtype=torch.int64)
        y = self.y[order]
        if not self.sparse:
            yield from zip(self.rows(order).split(batch_size), y.split(batch_size))
            return
        part = self.x[order.numpy()]  # scipy gathers a whole epoch's rows 3x faster than rows()
        crow = torch.from_numpy(part.indptr.astype(np.int64))  # (N + 1,)
        col = torch.from_numpy(part.indices.astype(np.int64))  # (nnz,)
        val = torch.from_numpy(np.ascontiguousarray(part.data, dtype=np.float32))  # (nnz,)
        for a in range(0, len(order), batch_size):
            b = min(a + batch_size, len(order))
            lo, hi = int(crow[a]), int(crow[b])
            yield torch.sparse_csr_tensor(crow[a:b + 1] - lo, col[lo:hi], val[lo:hi],
                                          size=(b - a, self.feature_dim),
                                          check_invariants=False), y[a:b]

    def subset(self, idx: Any) -> "VectorDataset":
        idx = np.asarray(idx, dtype=np.int64)
        return VectorDataset(self.x[idx], self.y[torch.from_numpy(idx)])

    def with_labels(self, y: torch.Tensor) -> "VectorDataset":
        return VectorDataset(self.x, y)

    @staticmethod
    def concat(parts: list["VectorDataset"]) -> "VectorDataset":
        import scipy.sparse as sp

        xs = [p.x for p in parts]
        x = sp.vstack(xs, format="csr") if any(map(_is_sparse, xs)) else np.concatenate(xs)
        return VectorDataset(x, torch.cat([p.y for p in parts]))
