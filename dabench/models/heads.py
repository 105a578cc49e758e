"""Heads on top of the features, and the DANN network that joins them.

Ganin & Lempitsky 2015 (https://arxiv.org/abs/1409.7495): a feature extractor G_f, a label
predictor G_y and a domain classifier G_d; the gradient reversal layer sits between G_f and G_d.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(in_dim: int, hidden: int, layers: int, out_dim: int, dropout: float = 0.0,
        bn: bool = False, widths: tuple[int, ...] = ()) -> nn.Sequential:
    """`layers` hidden blocks of Linear [-> BN] -> ReLU [-> Dropout], then Linear(out_dim);
    `widths` (one per hidden block), when given, replaces `hidden` x `layers`."""
    blocks: list[nn.Module] = []
    width = in_dim
    for hidden in widths or (hidden,) * layers:
        blocks.append(nn.Linear(width, hidden))
        if bn:
            blocks.append(nn.BatchNorm1d(hidden))
        blocks.append(nn.ReLU(inplace=True))
        if dropout > 0:
            blocks.append(nn.Dropout(dropout))
        width = hidden
    blocks.append(nn.Linear(width, out_dim))
    return nn.Sequential(*blocks)


def bottleneck(in_dim: int, out_dim: int, bn: bool, relu: bool = True) -> nn.Module:
    """`Linear(in, out)`, then optionally `BatchNorm1d` and `ReLU`: the 256-d layer of the Office
    recipes."""
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    if bn:
        layers.append(nn.BatchNorm1d(out_dim))
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def xavier_init(module: nn.Module) -> None:
    """Xavier-normal weights and zero biases on every Linear layer of `module` (CDAN's
    init_weights, thuml/CDAN at c904cd3, pytorch/network.py 13-24)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)


class DANNNet(nn.Module):
    """backbone -> [bottleneck] -> classifier, plus domain heads on named feature levels.

    `features(x)` returns a dict of feature tensors by level name; `domain_heads` (a ModuleDict)
    holds one domain classifier per level that RevGrad adapts, with its GRL weight in
    `domain_weights`. Image networks have one level, "feature" (B, D); video networks add
    frame- and relation-level features.
    """

    def __init__(self, backbone: nn.Module, neck: nn.Module, classifier: nn.Module,
                 domain_heads: dict[str, nn.Module], domain_weights: dict[str, float]) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.classifier = classifier
        self.domain_heads = nn.ModuleDict(domain_heads)
        self.domain_weights = dict(domain_weights)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"feature": self.neck(self.backbone(x))}  # (B, D)

    def classify(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(feats["feature"])  # (B, C)

    embedding_key = "feature"  # the level the classifier reads: what t-SNE and PAD look at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[self.embedding_key]  # (B, D)

    def new_parameters(self) -> list[nn.Parameter]:
        """Everything but the backbone: trained at the full learning rate."""
        skip = {id(p) for p in self.backbone.parameters()}
        return [p for p in self.parameters() if id(p) not in skip]
