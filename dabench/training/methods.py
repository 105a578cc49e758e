"""Methods: small objects with `update(...) -> dict` and `predict(x)` (DomainBed's interface).

One training loop (`dabench.training.loop`) drives every method; a method owns its network and
optimizer and does one optimisation step per `update` call. Losses come back as detached
tensors so the loop decides when to synchronise with the device.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any, Callable, ContextManager

import torch
import torch.nn.functional as F

from dabench.config import RunConfig
from dabench.models.grl import grad_reverse
from dabench.models.heads import DANNNet
from dabench.registry import Registry

METHODS: Registry[type["Method"]] = Registry("method")
Batch = tuple[torch.Tensor, torch.Tensor]  # (inputs, labels)


class Method(ABC):
    """Base: the network, an SGD optimizer with the backbone at `optim.backbone_lr_mult`."""

    uses_target_labels = False  # target-only trains on labelled target data
    uses_source = True

    def __init__(self, net: DANNNet, cfg: RunConfig) -> None:
        self.net = net
        self.cfg = cfg
        self.autocast: Callable[[], ContextManager] = contextlib.nullcontext  # set by the loop
        o = cfg.optim
        groups = [
            {"params": list(net.backbone.parameters()), "lr_mult": o.backbone_lr_mult},
            {"params": net.new_parameters(), "lr_mult": 1.0},
        ]
        groups = [g for g in groups if g["params"]]
        for g in groups:
            g["lr"] = o.lr * g["lr_mult"]
        if o.name == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(
                groups, lr=o.lr, betas=(o.momentum, 0.999), weight_decay=o.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum,
                                             weight_decay=o.weight_decay, nesterov=o.nesterov)

    def set_lr_factor(self, factor: float) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] = self.cfg.optim.lr * g["lr_mult"] * factor

    @abstractmethod
    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        """The loss terms of one step, by name (summed for the backward pass)."""

    def update(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        """One SGD step; returns the loss terms (detached) with their sum as "loss"."""
        self.net.train()
        with self.autocast():
            terms = self.loss(src, tgt, lam)
            total = sum(terms.values())
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.cfg.optim.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.optim.clip_grad_norm)
        self.optimizer.step()
        out = {k: v.detach() for k, v in terms.items()}
        out["loss"] = total.detach()
        return out

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.net.eval()
        return self.net(x)  # (B, C) logits

    def state(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}


@METHODS.register("source-only")
class SourceOnly(Method):
    """Train on labelled source data only: the lower reference of every DA table."""


    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        x, y = src
        return {"cls": F.cross_entropy(self.net(x), y)}


@METHODS.register("target-only")
class TargetOnly(Method):
    """Train on labelled target data ("train on target"): the upper reference."""

    uses_target_labels = True
    uses_source = False

    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        x, y = tgt
        return {"cls": F.cross_entropy(self.net(x), y)}


@METHODS.register("revgrad")
class RevGrad(Method):
    """Domain-adversarial training through a gradient reversal layer (RevGrad / DANN).

    Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015,
    https://arxiv.org/abs/1409.7495. Loss = CE(labels | source) + w * sum over feature levels of
    BCE(domain | source and target) (a level's BCE is the mean over its rows: per frame, or per
    relation scale), with the GRL (coefficient lam * beta_level) before every
    domain classifier, so one backward pass trains the classifiers to separate the domains and
    the features to confuse them.
    """


    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        (xs, ys), (xt, _) = src, tgt
        n_src = xs.shape[0]
        feats = self.net.features(torch.cat([xs, xt]))  # one pass: BN sees both domains
        logits = self.net.classify({k: v[:n_src] for k, v in feats.items()})  # (Bs, C)
        terms = {"cls": F.cross_entropy(logits, ys)}
        for level, head in self.net.domain_heads.items():
            f = feats[level]  # (Bs + Bt, D), or (B*T, D) for frame-level heads
            per = f.shape[0] // (n_src + xt.shape[0])  # rows per sample (T for frames)
            domain = torch.cat([f.new_zeros(n_src * per), f.new_ones(f.shape[0] - n_src * per)])
            beta = self.net.domain_weights[level]
            out = head(grad_reverse(f, lam * beta)).squeeze(1)  # (N,)
            terms[f"domain_{level}"] = self.cfg.grl.weight * F.binary_cross_entropy_with_logits(
                out, domain)  # one mean over all rows of the level (all relation scales)
        for level, same_as in getattr(self.net, "domain_aliases", {}).items():
            terms[f"domain_{level}"] = terms[f"domain_{same_as}"]  # TA3N's TemPooling slot
        return terms
