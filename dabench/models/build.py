"""Build the network a run config asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from dabench.errors import DabenchError
from dabench.models.backbones import build_backbone
from dabench.models.heads import DANNNet, bottleneck, mlp, xavier_init


def hidden_widths(text: str) -> tuple[int, ...]:
    """model.hidden_dims "3072,2048" -> (3072, 2048); "" -> ()."""
    try:
        widths = tuple(int(w) for w in text.replace(" ", "").split(",") if w)
    except ValueError:
        widths = (0,)
    if any(w <= 0 for w in widths):
        raise DabenchError(f"model.hidden_dims: expected comma-separated positive widths such as "
                           f"'3072,2048', got {text!r}")
    return widths

if TYPE_CHECKING:  # annotations only: config imports the methods, which build networks
    from dabench.config import RunConfig


def build_network(num_classes: int, cfg: RunConfig, input_dim: int | None = None) -> DANNNet:
    """backbone -> [bottleneck] -> label predictor, and one domain classifier on the features.

    With `model.temporal` set, the input is cached video frame features and the network is
    `temporal.VideoDANN` (TemPooling / TemRelation with frame-, relation- and video-level heads).
    `input_dim` is the feature dimension of vector inputs (the `shallow` backbone's D).
    """
    m = cfg.model
    if m.temporal != "none":
        from dabench.models.temporal import build_video_network

        return build_video_network(num_classes, cfg)
    backbone, dim = build_backbone(cfg.backbone.name, cfg.backbone.weights, input_dim,
                                   cfg.backbone.width)
    neck: nn.Module = nn.Identity()
    if m.bottleneck_dim > 0:
        neck = bottleneck(dim, m.bottleneck_dim, m.bottleneck_bn, m.bottleneck_relu)
        dim = m.bottleneck_dim
    classifier = mlp(dim, m.hidden_dim, m.classifier_layers, num_classes,
                     widths=hidden_widths(m.hidden_dims))
    # One logit per sample: source 0, target 1 (sigmoid cross-entropy, as in the Caffe release),
    # or two (softmax cross-entropy) with model.domain_output = softmax.
    domain = mlp(dim, m.domain_hidden, m.domain_layers, domain_outputs(cfg), m.domain_dropout,
                 m.domain_bn)
    if m.init == "xavier":
        for new in (neck, classifier, domain):
            xavier_init(new)
    if cfg.backbone.name == "shallow":  # Algorithm 1's initialisation (models/shallow.py)
        for layer in (classifier[-1], domain[-1]):
            nn.init.zeros_(layer.bias)
        nn.init.xavier_uniform_(classifier[-1].weight)
        nn.init.zeros_(domain[-1].weight)
    return DANNNet(backbone, neck, classifier, {"feature": domain}, {"feature": 1.0})


def domain_outputs(cfg: RunConfig) -> int:
    """Outputs of each domain classifier: 1 logit, or 2 for a softmax (model.domain_output)."""
    return 2 if cfg.model.domain_output == "softmax" else 1
