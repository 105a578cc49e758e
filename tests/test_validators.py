"""Each validator on a constructed case whose answer is known (dabench/analysis/validators.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dabench.analysis import validators as v


def one_hot(labels, classes):
    return np.eye(classes)[np.asarray(labels)]


def test_entropy_is_log_c_for_uniform_and_zero_for_one_hot_predictions():
    assert v.entropy(np.full((7, 4), 0.25)) == pytest.approx(math.log(4))
    assert v.entropy(one_hot([0, 1, 2, 3, 1], 4)) == pytest.approx(0, abs=1e-9)
    # a half-and-half binary prediction: log 2 nats
    assert v.entropy(np.array([[0.5, 0.5], [1.0, 0.0]])) == pytest.approx(math.log(2) / 2)


def test_information_maximisation_is_log_c_for_confident_balanced_predictions():
    assert v.information_maximisation(one_hot([0, 1, 2, 0, 1, 2], 3)) == pytest.approx(math.log(3))
    # confident but collapsed on one class, or balanced but unsure: no information
    assert v.information_maximisation(one_hot([1] * 6, 3)) == pytest.approx(0, abs=1e-9)
    assert v.information_maximisation(np.full((6, 3), 1 / 3)) == pytest.approx(0, abs=1e-9)


def test_batch_nuclear_norm_of_one_hot_predictions_counts_the_classes_used():
    n, c = 12, 3
    # balanced one-hot: C orthogonal columns of norm sqrt(N/C) -> ||P||_* = sqrt(N C)
    assert v.batch_nuclear_norm(one_hot([0, 1, 2] * 4, c)) == pytest.approx(math.sqrt(n * c) / n)
    # all one class: rank one, singular value sqrt(N)
    assert v.batch_nuclear_norm(one_hot([2] * n, c)) == pytest.approx(1 / math.sqrt(n))


def snd_closed_form(n: int, m: int, t: float) -> float:
    """SND of n one-hot predictions in clusters of m identical ones: each item sees m - 1
    neighbours at cosine 1 and n - m at cosine 0."""
    w = np.r_[np.full(m - 1, math.exp(1 / t)), np.ones(n - m)]
    p = w / w.sum()
    return float(-(p * np.log(p)).sum())


def test_soft_neighbourhood_density_matches_its_closed_form():
    probs = one_hot([0] * 5 + [1] * 5 + [2] * 5, 3)  # three tight clusters of 5
    assert v.soft_neighbourhood_density(probs) == pytest.approx(snd_closed_form(15, 5, 0.05),
                                                                rel=1e-4)
    # one cluster: every other item is an equal neighbour, entropy log(N - 1), the maximum
    assert v.soft_neighbourhood_density(one_hot([1] * 15, 3)) == pytest.approx(math.log(14),
                                                                               rel=1e-4)


def test_dev_risk_by_hand_and_without_a_shift():
    # w = [1, 2, 3], l = [1, 0, 1]: mean(w l) = 4/3, Cov(w l, w) = 1, Var(w) = 1, eta = -1,
    # risk = 4/3 - 2 + 1 = 1/3
    assert v.dev_risk(np.array([1.0, 2, 3]), np.array([1.0, 0, 1])) == pytest.approx(1 / 3)
    # equal weights: the plain mean loss
    assert v.dev_risk(np.ones(4), np.array([0.0, 1, 1, 0])) == pytest.approx(0.5)


def test_density_ratio_recovers_a_known_gaussian_ratio():
    rng = np.random.default_rng(0)
    xs, xt = rng.normal(0, 1, (4000, 1)), rng.normal(1, 1, (4000, 1))
    # N(1, 1) / N(0, 1) = exp(x - 1/2): log-linear, what logistic regression can represent
    at = np.array([[-1.0], [0.0], [0.5], [1.0]])
    w = v.density_ratio(np.r_[xs, at], xt)[-4:]  # the 4 extra source points barely count
    assert w == pytest.approx(np.exp(at[:, 0] - 0.5), rel=0.12)


def test_dev_estimates_the_target_loss_from_labelled_source_alone():
    rng = np.random.default_rng(1)
    xs, xt = rng.normal(0, 1, (3000, 1)), rng.normal(1, 1, (3000, 1))
    # a classifier wrong exactly where x > 1: 15.9% of the source, 50% of the target
    wrong = (xs[:, 0] > 1)
    probs = np.where(wrong[:, None], [[0.9, 0.1]], [[0.1, 0.9]])  # class 1 is the truth
    labels = np.ones(len(xs), dtype=int)
    plain = float(-np.log(probs[:, 1]).mean())
    risk = v.deep_embedded_validation(xs, probs, labels, xt)
    # the target's loss: half the items at -log 0.1, half at -log 0.9
    target = 0.5 * -math.log(0.1) + 0.5 * -math.log(0.9)
    assert plain == pytest.approx(0.159 * -math.log(0.1) + 0.841 * -math.log(0.9), rel=0.1)
    assert risk == pytest.approx(target, rel=0.15)


def test_compute_returns_every_validator_and_dev_only_with_source_features():
    rng = np.random.default_rng(2)
    tp = v.softmax(rng.normal(size=(50, 3)))
    out = v.compute(tp)
    assert set(out) == set(v.VALIDATORS) and out["dev"] is None
    assert out["entropy"] == pytest.approx(v.entropy(tp), abs=1e-6)
    full = v.compute(tp, rng.normal(size=(50, 4)), v.softmax(rng.normal(size=(20, 3))),
                     rng.normal(size=(20, 4)), rng.integers(0, 3, 20), max_items=30)
    assert full["dev"] is not None
    # SND reads a fixed subset of at most max_items target items, the same at every call
    idx = v.subset(50, 30, 0)
    assert full["snd"] == pytest.approx(v.soft_neighbourhood_density(tp[idx]), abs=1e-6)
    assert np.array_equal(idx, v.subset(50, 30, 0)) and len(idx) == 30


def test_every_validator_has_a_direction_and_a_paper_link():
    for name, val in v.VALIDATORS.items():
        assert val.paper.startswith("http") and isinstance(val.higher_is_better, bool), name
        assert name in v.FUNCTIONS
