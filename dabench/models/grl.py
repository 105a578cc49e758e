"""The gradient reversal layer of Ganin & Lempitsky 2015 (https://arxiv.org/abs/1409.7495).

Identity in the forward pass; multiplies the incoming gradient by -lambda in the backward pass.
Lambda is an argument of every call: the layer keeps no state and never advances a schedule.
"""

from __future__ import annotations

import torch


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad.neg() * ctx.lam, None


def grad_reverse(x: torch.Tensor, lam: float) -> torch.Tensor:
    """Identity on `x`; the gradient flowing back through it is scaled by -lam."""
    return _ReverseGrad.apply(x, float(lam))
