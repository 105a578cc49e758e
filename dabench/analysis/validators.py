"""Validators: scores of a model computed without target labels, for model selection.

Pure functions on arrays (numpy; the DEV domain classifier is scikit-learn's logistic
regression), called by the training loop at every evaluation with what the evaluation already
has: the class probabilities of the target items, and the features, probabilities and labels of
the held-out labelled source S_V. Each returns one float; `VALIDATORS` says which way is better.
`dabench report --select NAME` picks, per (task, method, seed), the configuration and evaluation
with the best score (dabench/analysis/selection.py).

- entropy: mean prediction entropy on the target (lower is better; the entropy minimisation of
  Grandvalet & Bengio, NIPS 2004), as a validator in Musgrave et al. 2022,
  https://arxiv.org/abs/2208.07360
- im: information maximisation, entropy of the mean target prediction minus the mean entropy
  (higher is better; the mutual information of Gomes, Krause & Perona, NIPS 2010), as a
  validator in Musgrave et al. 2022, https://arxiv.org/abs/2208.07360
- bnm: batch nuclear norm of the target prediction matrix, divided by the number of items
  (higher is better); Cui et al., CVPR 2020, https://arxiv.org/abs/2003.12237
- snd: soft neighbourhood density, the mean entropy of each target item's softmax-ed cosine
  similarities (temperature 0.05) to the other target items' predictions (higher is better);
  Saito et al., ICCV 2021, https://arxiv.org/abs/2108.10860
- dev: deep embedded validation, the source-validation loss weighted by the density ratio
  p_T(x) / p_S(x) of a domain classifier on the features, with its control variate (lower is
  better); You et al., ICML 2019, http://proceedings.mlr.press/v97/you19a.html

SND and DEV look at a fixed random subset of at most `max_items` target items (SND's similarity
matrix is N x N; DEV's domain classifier is fitted on S_V and that subset), so their cost per
evaluation stays flat whatever the size of the target. The DEV domain classifier is an
L2-regularised logistic regression (C = 1) on standardised features, not the paper's MLP with
its grid of weight decays: a few milliseconds per evaluation instead of seconds, and on the
features a domain-adversarial network shapes to be linearly hard to separate, a linear density
ratio is the natural first estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

EPS = 1e-12
SND_TEMPERATURE = 0.05  # Saito et al. 2021, Section 3


@dataclass(frozen=True)
class Validator:
    name: str
    higher_is_better: bool
    title: str  # the caption's words
    paper: str  # the paper's link


VALIDATORS = {
    "entropy": Validator("entropy", False, "mean target prediction entropy (lower is better; "
                         "Grandvalet & Bengio 2004; Musgrave et al. 2022)",
                         "https://arxiv.org/abs/2208.07360"),
    "im": Validator("im", True, "information maximisation: entropy of the mean target "
                    "prediction minus the mean entropy (Gomes et al. 2010; Musgrave et al. 2022)",
                    "https://arxiv.org/abs/2208.07360"),
    "bnm": Validator("bnm", True, "batch nuclear norm of the target predictions (Cui et al. "
                     "CVPR 2020)", "https://arxiv.org/abs/2003.12237"),
    "snd": Validator("snd", True, "soft neighbourhood density of the target predictions (Saito "
                     "et al. ICCV 2021)", "https://arxiv.org/abs/2108.10860"),
    "dev": Validator("dev", False, "deep embedded validation: importance-weighted source-"
                     "validation loss with control variate (You et al. ICML 2019)",
                     "http://proceedings.mlr.press/v97/you19a.html"),
}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax; (N, C) -> (N, C)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(p + EPS)).sum(axis=1)  # (N,)


def entropy(probs: np.ndarray) -> float:
    """Mean Shannon entropy (nats) of the rows of `probs` (N, C)."""
    return float(_entropy_rows(probs).mean())


def information_maximisation(probs: np.ndarray) -> float:
    """H(mean prediction) - mean H(prediction): high when each prediction is confident and the
    classes are used evenly; (N, C) -> float in [0, log C]."""
    return float(_entropy_rows(probs.mean(axis=0, keepdims=True))[0] - _entropy_rows(probs).mean())


def batch_nuclear_norm(probs: np.ndarray) -> float:
    """||P||_* / N: the sum of the singular values of the prediction matrix (N, C) over N."""
    return float(np.linalg.svd(probs.astype(np.float64), compute_uv=False).sum() / len(probs))


def soft_neighbourhood_density(probs: np.ndarray, temperature: float = SND_TEMPERATURE) -> float:
    """Mean entropy of each item's softmax(cosine similarity / T) over the other items; (N, C)."""
    q = (probs / (np.linalg.norm(probs, axis=1, keepdims=True) + EPS)).astype(np.float32)
    sim = (q @ q.T) / np.float32(temperature)  # (N, N), float32: half the time of float64
    np.fill_diagonal(sim, -np.inf)  # an item is not its own neighbour
    sim -= sim.max(axis=1, keepdims=True)
    np.exp(sim, out=sim)
    sim /= sim.sum(axis=1, keepdims=True)
    return float(-(sim * np.log(sim + np.float32(EPS))).sum(axis=1, dtype=np.float64).mean())


def density_ratio(source_feats: np.ndarray, target_feats: np.ndarray, seed: int = 0) -> np.ndarray:
    """p_T(x) / p_S(x) at each source item (N_s,), from a logistic-regression domain classifier
    fitted on source (N_s, D) vs target (N_t, D) features: d/(1-d) * N_s/N_t."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([source_feats, target_feats]).astype(np.float64)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    y = np.r_[np.zeros(len(source_feats)), np.ones(len(target_feats))]
    clf = LogisticRegression(C=1.0, max_iter=200, random_state=seed).fit((x - mu) / sd, y)
    d = clf.predict_proba((source_feats - mu) / sd)[:, 1]  # P(target | x)
    return d / np.maximum(1 - d, EPS) * len(source_feats) / len(target_feats)


def dev_risk(weights: np.ndarray, losses: np.ndarray) -> float:
    """The DEV risk of You et al. 2019 (their Algorithm 1): mean(w l) + eta mean(w) - eta with
    eta = -Cov(w l, w) / Var(w); (N,), (N,) -> float. Equal weights: the plain mean loss."""
    wl = weights * losses
    var = np.var(weights, ddof=1) if len(weights) > 1 else 0.0
    if var <= EPS:
        return float(wl.mean())
    eta = -np.cov(wl, weights)[0, 1] / var
    return float(wl.mean() + eta * weights.mean() - eta)


def deep_embedded_validation(source_feats: np.ndarray, source_probs: np.ndarray,
                             source_labels: np.ndarray, target_feats: np.ndarray,
                             seed: int = 0) -> float:
    """DEV on S_V: cross-entropy of each S_V item, weighted by the density ratio."""
    losses = -np.log(source_probs[np.arange(len(source_labels)), source_labels] + EPS)  # (N_s,)
    return dev_risk(density_ratio(source_feats, target_feats, seed), losses)


def subset(n: int, max_items: int, seed: int) -> np.ndarray:
    """The same indices of at most `max_items` of n items at every evaluation of a run."""
    if n <= max_items:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_items, replace=False))


def compute(target_probs: np.ndarray, target_feats: Optional[np.ndarray] = None,
            source_probs: Optional[np.ndarray] = None, source_feats: Optional[np.ndarray] = None,
            source_labels: Optional[np.ndarray] = None, max_items: int = 1000,
            seed: int = 0) -> dict[str, Optional[float]]:
    """Every validator's score for one evaluation (None where its inputs are missing or too
    few: DEV needs S_V with at least two items and both domains' features)."""
    idx = subset(len(target_probs), max_items, seed)
    out: dict[str, Optional[float]] = {
        "entropy": entropy(target_probs), "im": information_maximisation(target_probs),
        "bnm": batch_nuclear_norm(target_probs),
        "snd": soft_neighbourhood_density(target_probs[idx]) if len(idx) > 1 else None,
        "dev": None}
    if (target_feats is not None and source_feats is not None and source_probs is not None
            and source_labels is not None and len(source_labels) > 1):
        s = subset(len(source_labels), max_items, seed + 1)
        out["dev"] = deep_embedded_validation(source_feats[s], source_probs[s], source_labels[s],
                                              target_feats[idx], seed)
    return {k: (None if v is None or not np.isfinite(v) else round(v, 6)) for k, v in out.items()}


FUNCTIONS: dict[str, Callable[..., float]] = {
    "entropy": entropy, "im": information_maximisation, "bnm": batch_nuclear_norm,
    "snd": soft_neighbourhood_density, "dev": deep_embedded_validation}
