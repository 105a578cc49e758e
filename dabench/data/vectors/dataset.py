"""An in-memory feature-vector domain: a sparse (scipy CSR) or dense (N, D) matrix + labels.

Batches are taken by index (`take`), without a DataLoader: a sparse domain yields a
`torch.sparse_csr_tensor` (B, D) per batch and never a dense copy of the domain; a dense one a
(B, D) float32 tensor. `__getitem__` (a dense row) exists for generic code paths only.
"""

from __future__ import annotations

import warnings
from typing import Any

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

    @property
    def feature_dim(self) -> int:
        return int(self.x.shape[1])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.x[i].toarray()[0] if self.sparse else self.x[i]
        return torch.from_numpy(np.asarray(row, dtype=np.float32)), self.y[i]

    def rows(self, idx: Any) -> torch.Tensor:
        """Features of rows `idx` as one batch: sparse CSR or dense, (B, D)."""
        part = self.x[np.asarray(idx, dtype=np.int64)]
        if not self.sparse:
            return torch.from_numpy(part)
        return torch.sparse_csr_tensor(torch.from_numpy(part.indptr.astype(np.int64)),
                                       torch.from_numpy(part.indices.astype(np.int64)),
                                       torch.from_numpy(part.data), size=part.shape,
                                       check_invariants=False)  # scipy built them valid

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, D), labels (B,)) of rows `idx`."""
        return self.rows(idx.numpy() if isinstance(idx, torch.Tensor) else idx), self.y[idx]

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
