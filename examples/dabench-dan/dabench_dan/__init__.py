"""DAN for dabench: the example plugin (one method, its config section, its network).

Long, Cao, Wang & Jordan, "Learning Transferable Features with Deep Adaptation Networks",
ICML 2015, https://arxiv.org/abs/1502.02791. Loss = CE(labels | source) + lambda * sum over
the adapted layers of MK-MMD^2(source, target), the squared maximum mean discrepancy under a
sum of Gaussian kernels whose bandwidths are `mmd.kernel_mul`^k times the mean pairwise
squared distance of the batch (k centred on 0, `mmd.kernels` of them). The adapted layers are
the features the classifier reads and, with `mmd.logits`, the classifier's output (the paper's
fc7 and fc8). This is the quadratic (biased) estimate on the whole batch, not the paper's
linear-time one.

Torch is imported inside the functions, so `dabench list-tasks` and `dabench report` stay
torch-free with this plugin installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dabench.fields import choice, positive
from dabench.methods import Method, register_method

__version__ = "0.1.0"


@dataclass
class MMDConfig:
    """`--set mmd.*`: the MK-MMD penalty's weight (lambda) and kernels."""

    weight: float = 1.0  # lambda (the paper: 1, found on the source validation split)
    schedule: str = field(default="constant", metadata=choice("constant", "dann"))
    kernels: int = field(default=5, metadata=positive())  # Gaussian kernels
    kernel_mul: float = field(default=2.0, metadata=positive())  # bandwidth ratio of neighbours
    logits: bool = True  # also match the classifier's outputs (fc8 in the paper)


def mk_mmd(xs, xt, kernels: int, mul: float):
    """Squared MK-MMD of two samples, (Ns, D) and (Nt, D) -> scalar (biased estimate)."""
    import torch

    x = torch.cat([xs, xt])  # (N, D), N = Ns + Nt
    d2 = torch.cdist(x, x).pow(2)  # (N, N) squared distances
    n = x.shape[0]
    base = d2.detach().sum() / (n * n - n)  # mean off-diagonal squared distance
    scales = [base * mul ** (k - kernels // 2) for k in range(kernels)]
    k = sum(torch.exp(-d2 / s.clamp_min(1e-12)) for s in scales)  # (N, N)
    ns = xs.shape[0]
    return k[:ns, :ns].mean() + k[ns:, ns:].mean() - 2 * k[:ns, ns:].mean()


@register_method("dan", label="DAN", order=20, config={"mmd": MMDConfig})
class DAN(Method):
    """Deep Adaptation Network: MK-MMD between source and target features.

    Long et al., ICML 2015, https://arxiv.org/abs/1502.02791 (see the module)."""

    @classmethod
    def build_network(cls, num_classes, cfg, input_dim=None):
        """dabench's network without its domain classifier: DAN adapts by a penalty, so
        there is nothing to train besides the classifier (and no idle parameters to save)."""
        import torch

        net = super().build_network(num_classes, cfg, input_dim)
        net.domain_heads = torch.nn.ModuleDict()
        return net

    def adaptation_weight(self, step: int) -> float:
        from dabench.training import schedules

        m = self.cfg.mmd
        if m.schedule == "constant":
            return m.weight
        return m.weight * schedules.grl_lambda(schedules.progress(step, self.cfg.steps), 10.0, 1.0)

    def loss(self, src, tgt, lam):
        import torch.nn.functional as F

        from dabench.data.batches import cat_rows

        (xs, ys), (xt, _) = src, tgt
        n = xs.shape[0]
        feats = self.net.features(cat_rows([xs, xt]))  # one pass: BN sees both domains
        f = feats[self.net.embedding_key]  # (Bs + Bt, D)
        logits = self.net.classify(feats)  # (Bs + Bt, C)
        m = self.cfg.mmd
        terms = {"cls": F.cross_entropy(logits[:n], ys),
                 "mmd": lam * mk_mmd(f[:n], f[n:], m.kernels, m.kernel_mul)}
        if m.logits:
            terms["mmd_logits"] = lam * mk_mmd(logits[:n], logits[n:], m.kernels, m.kernel_mul)
        return terms
