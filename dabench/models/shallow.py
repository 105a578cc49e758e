"""The shallow DANN's feature extractor G_f: one sigmoid hidden layer on feature vectors.

Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17(59), 2016,
https://jmlr.org/papers/v17/15-239.html, Section 4.1 and Algorithm 1: G_f(x) = sigm(W x + b);
the label predictor (softmax) and the domain regressor (logistic) both read this hidden layer.
W is initialised uniformly in +-sqrt(6 / (D + H)) as in the authors' release (DANN.py,
`random_init`), b at zero. Sparse input batches (torch CSR) go through `embedding_bag`, so a
batch costs O(non-zeros x H), never a dense (B, D) copy. On the CPU the gradient of W is
x^T @ dz, with x^T transposed by scipy and the product by embedding_bag again
(`_SparseMatmul`): embedding_bag's own backward (a dense (D, H) gradient) took 3.7 ms of a
6 ms Amazon step, this takes 0.5 ms; the numbers are equal up to float rounding.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _bag(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x @ weight for a CSR batch x (B, D) and weight (D, H): (B, H)."""
    return F.embedding_bag(x.col_indices(), weight, x.crow_indices()[:-1], mode="sum",
                           per_sample_weights=x.values(), include_last_offset=False)


class _SparseMatmul(torch.autograd.Function):
    """(B, D) CPU CSR batch @ (D, H) weight; backward: dW = x^T @ dz (scipy, dense (D, H))."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.x = x
        return _bag(x, weight)  # (B, H)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        import scipy.sparse as sp

        x = ctx.x
        xt = sp.csr_matrix((x.values().numpy(), x.col_indices().numpy(),
                            x.crow_indices().numpy()), shape=tuple(x.shape)).T.tocsr()  # (D, B)
        xt = torch.sparse_csr_tensor(torch.from_numpy(xt.indptr.astype(np.int64)),
                                     torch.from_numpy(xt.indices.astype(np.int64)),
                                     torch.from_numpy(xt.data), size=xt.shape,
                                     check_invariants=False)
        return _bag(xt, grad.contiguous()), None  # x^T @ dz: (D, H)


class ShallowFeatures(nn.Module):
    """(B, D) sparse CSR or dense features -> (B, H) sigmoid hidden layer."""

    def __init__(self, input_dim: int, width: int) -> None:
        super().__init__()
        bound = math.sqrt(6.0 / (input_dim + width))
        self.weight = nn.Parameter(torch.empty(input_dim, width).uniform_(-bound, bound))  # (D, H)
        self.bias = nn.Parameter(torch.zeros(width))  # (H,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.layout == torch.sparse_csr:
            cpu = x.device.type == "cpu" and self.weight.dtype == torch.float32
            z = _SparseMatmul.apply(self.weight, x) if cpu else _bag(x, self.weight)  # (B, H)
        else:
            z = x @ self.weight  # (B, D) @ (D, H)
        return torch.sigmoid(z + self.bias)  # (B, H)
