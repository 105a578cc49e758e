"""The shallow DANN's feature extractor G_f: one sigmoid hidden layer on feature vectors.

Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17(59), 2016,
https://jmlr.org/papers/v17/15-239.html, Section 4.1 and Algorithm 1: G_f(x) = sigm(W x + b);
the label predictor (softmax) and the domain regressor (logistic) both read this hidden layer.
W is initialised uniformly in +-sqrt(6 / (D + H)) as in the authors' release (DANN.py,
`random_init`), b at zero. Sparse input batches (torch CSR) go through `embedding_bag`, so a
batch costs O(non-zeros x H), never a dense (B, D) copy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ShallowFeatures(nn.Module):
    """(B, D) sparse CSR or dense features -> (B, H) sigmoid hidden layer."""

    def __init__(self, input_dim: int, width: int) -> None:
        super().__init__()
        bound = math.sqrt(6.0 / (input_dim + width))
        self.weight = nn.Parameter(torch.empty(input_dim, width).uniform_(-bound, bound))  # (D, H)
        self.bias = nn.Parameter(torch.zeros(width))  # (H,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.layout == torch.sparse_csr:
            rows = x.crow_indices()  # (B + 1,)
            z = F.embedding_bag(x.col_indices(), self.weight, rows[:-1], mode="sum",
                                per_sample_weights=x.values(), include_last_offset=False)
        else:
            z = x @ self.weight  # (B, D) @ (D, H)
        return torch.sigmoid(z + self.bias)  # (B, H)
