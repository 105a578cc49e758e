"""Proxy A-distance between two feature sets (Ben-David et al. 2007; used by the DANN paper).

Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016
(https://arxiv.org/abs/1505.07818), section 5.1.5: train a linear classifier to tell source
features from target features on one half, measure its error `err` on the other half;
PAD = 2 (1 - 2 err). 0 means indistinguishable domains, 2 perfectly separable ones. As there,
the classifier's regularisation is chosen on a validation split.
"""

from __future__ import annotations

import numpy as np


def proxy_a_distance(source: np.ndarray, target: np.ndarray, seed: int = 0,
                     cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)) -> float:
    """PAD of (Ns, D) and (Nt, D) features; equal-size subsets, 50/25/25 train/val/test split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = min(len(source), len(target))
    if n < 8:
        raise ValueError("proxy A-distance needs at least 8 samples per domain")
    x = np.concatenate([source[rng.permutation(len(source))[:n]],
                        target[rng.permutation(len(target))[:n]]]).astype(np.float64)
    y = np.concatenate([np.zeros(n), np.ones(n)])
    order = rng.permutation(2 * n)
    x, y = x[order], y[order]
    a, b = n, n + n // 2  # train [0, n), validation [n, 1.5n), test [1.5n, 2n)
    scaler = StandardScaler().fit(x[:a])
    x = scaler.transform(x)
    best_err, best_model = 2.0, None
    for c in cs:
        model = LogisticRegression(C=c, max_iter=2000).fit(x[:a], y[:a])
        err = 1.0 - model.score(x[a:b], y[a:b])
        if err < best_err:
            best_err, best_model = err, model
    err = 1.0 - best_model.score(x[b:], y[b:])
    return 2.0 * (1.0 - 2.0 * min(err, 0.5))
