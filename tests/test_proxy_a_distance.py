import numpy as np
import pytest

from dabench.analysis.proxy_a_distance import proxy_a_distance


def test_identical_distributions_give_about_zero():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    assert proxy_a_distance(a, b) < 0.3
    assert proxy_a_distance(a, a.copy()) < 0.3


def test_separable_sets_give_about_two():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 8))
    b = rng.normal(size=(300, 8)) + 5.0
    assert proxy_a_distance(a, b) == pytest.approx(2.0, abs=0.05)


def test_partly_separable_lies_between():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(500, 4))
    b = rng.normal(size=(500, 4)) + np.array([1.0, 0, 0, 0])
    assert 0.4 < proxy_a_distance(a, b) < 1.6


def test_too_few_samples():
    with pytest.raises(ValueError, match="at least 8"):
        proxy_a_distance(np.zeros((3, 2)), np.zeros((3, 2)))
