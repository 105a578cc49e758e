"""Pure schedule functions of training progress p in [0, 1].

Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015
(https://arxiv.org/abs/1409.7495), section 5.2: lambda_p = 2 / (1 + exp(-gamma p)) - 1 with
gamma = 10, and mu_p = mu_0 / (1 + alpha p)^beta with alpha = 10, beta = 0.75.
Transfer-Learning-Library replaces p with the iteration index (lr factor (1 + 0.001 i)^-0.75,
lambda warming up over ~5k iterations); `step_scale` expresses that.
"""

from __future__ import annotations

import math


def grl_lambda(p: float, gamma: float = 10.0, max_value: float = 1.0) -> float:
    """The DANN coefficient: 0 at p=0, rising to ~max_value; `gamma` sets how fast."""
    return max_value * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


def lr_factor(p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """Multiplier of the base learning rate: 1 at p=0, (1 + alpha)^-beta at p=1."""
    return (1.0 + alpha * p) ** (-beta)


def progress(step: int, total_steps: int) -> float:
    """Linear progress of `step` (0-based) in a run of `total_steps` steps, in [0, 1]."""
    if total_steps <= 1:
        return 1.0
    return min(1.0, step / (total_steps - 1))


def release_stop(t: int, t_best: int, floor: int, factor: float = 1.5) -> bool:
    """The DANN authors' early stopping (GRAAL-Research/domain_adversarial_neural_network at
    74eec5e, DANN.py 96, 157-167): after evaluation t (counted from 0) that was not a new best,
    stop when t > max(floor, int(factor * t_best)); t_best is the index of the best one. With
    floor 30 a run makes at least 32 evaluations and goes on 1.5 x as long as its best."""
    return t > max(floor, int(factor * t_best))
