"""The two reference methods of every DA table: source-only (lower) and target-only (upper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dabench.methods.base import Batch, Method, register_method

if TYPE_CHECKING:
    import torch


@register_method("source-only", label="Source only", order=0, role="lower")
class SourceOnly(Method):
    """Train on labelled source data only: the lower reference of every DA table."""

    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        import torch.nn.functional as F

        x, y = src
        return {"cls": F.cross_entropy(self.net(x), y)}


@register_method("target-only", label="Target only", order=100, role="upper")
class TargetOnly(Method):
    """Train on labelled target data ("train on target"): the upper reference."""

    uses_target_labels = True
    uses_source = False

    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        import torch.nn.functional as F

        x, y = tgt
        return {"cls": F.cross_entropy(self.net(x), y)}
