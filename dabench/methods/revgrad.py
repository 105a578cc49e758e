"""RevGrad / DANN and its config section `grl` (the gradient reversal schedule and weight)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dabench.fields import choice
from dabench.methods.base import Batch, Method, register_method
from dabench.training import schedules

if TYPE_CHECKING:
    import torch

    from dabench.config import RunConfig


@dataclass
class GRLConfig:
    """`--set grl.*`: lambda_p = max * (2 / (1 + exp(-gamma p)) - 1), or `max` if constant."""

    schedule: str = field(default="dann", metadata=choice("dann", "constant"))
    gamma: float = 10.0
    max: float = 1.0
    horizon: int = 0  # steps over which p goes 0 -> 1; 0 = the whole run
    weight: float = 1.0  # domain loss weight


def grl_coefficient(cfg: RunConfig, step: int) -> float:
    """The GRL coefficient lambda at `step`; p runs over the whole run unless `grl.horizon`."""
    g = cfg.grl
    p = step / g.horizon if g.horizon else schedules.progress(step, cfg.steps)
    return g.max if g.schedule == "constant" else schedules.grl_lambda(p, g.gamma, g.max)


@register_method("revgrad", label="RevGrad", order=10, config={"grl": GRLConfig})
class RevGrad(Method):
    """Domain-adversarial training through a gradient reversal layer (RevGrad / DANN).

    Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015,
    https://arxiv.org/abs/1409.7495. Loss = CE(labels | source) + w * sum over feature levels of
    BCE(domain | source and target) (a level's BCE is the mean over its rows: per frame, or per
    relation scale), with the GRL (coefficient lam * beta_level) before every
    domain classifier, so one backward pass trains the classifiers to separate the domains and
    the features to confuse them.
    """

    def adaptation_weight(self, step: int) -> float:
        return grl_coefficient(self.cfg, step)

    def loss(self, src: Batch, tgt: Batch, lam: float) -> dict[str, torch.Tensor]:
        import torch
        import torch.nn.functional as F

        from dabench.data.batches import cat_rows
        from dabench.models.grl import grad_reverse

        (xs, ys), (xt, _) = src, tgt
        n_src = xs.shape[0]
        if self.cfg.model.forward == "per-domain":  # BN: each domain its own batch statistics
            fs, ft = self.net.features(xs), self.net.features(xt)
            feats = {k: torch.cat([fs[k], ft[k]]) for k in fs}  # source rows first
        else:
            feats = self.net.features(cat_rows([xs, xt]))  # one pass: BN sees both domains
        logits = self.net.classify({k: v[:n_src] for k, v in feats.items()})  # (Bs, C)
        terms = {"cls": F.cross_entropy(logits, ys)}
        for level, head in self.net.domain_heads.items():
            f = feats[level]  # (Bs + Bt, D), or (B*T, D) for frame-level heads
            per = f.shape[0] // (n_src + xt.shape[0])  # rows per sample (T for frames)
            domain = torch.cat([f.new_zeros(n_src * per), f.new_ones(f.shape[0] - n_src * per)])
            beta = self.net.domain_weights[level]
            out = head(grad_reverse(f, lam * beta))  # (N, 1) logit or (N, 2) for a softmax
            # one mean over all rows of the level (all relation scales)
            loss = F.cross_entropy(out, domain.long()) if out.shape[1] == 2 else \
                F.binary_cross_entropy_with_logits(out.squeeze(1), domain)
            terms[f"domain_{level}"] = self.cfg.grl.weight * loss
        for level, same_as in getattr(self.net, "domain_aliases", {}).items():
            terms[f"domain_{level}"] = terms[f"domain_{same_as}"]  # TA3N's TemPooling slot
        return terms
