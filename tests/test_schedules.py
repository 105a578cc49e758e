import math

import pytest

from dabench.training.schedules import grl_lambda, lr_factor, progress


def test_grl_lambda_paper_values():
    assert grl_lambda(0.0) == 0.0
    assert grl_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)  # 0.98661
    assert grl_lambda(1.0) == pytest.approx(0.9999092, abs=1e-6)
    assert grl_lambda(0.1) == pytest.approx(0.4621172, abs=1e-6)
    assert grl_lambda(1.0, max_value=0.5) == pytest.approx(0.4999546, abs=1e-6)


def test_grl_lambda_is_monotone():
    values = [grl_lambda(p / 20) for p in range(21)]
    assert values == sorted(values)


def test_lr_factor_paper_values():
    assert lr_factor(0.0) == 1.0
    assert lr_factor(1.0) == pytest.approx(11 ** -0.75)  # 0.16574
    assert lr_factor(0.5) == pytest.approx(6 ** -0.75)
    # TLlib: (1 + 0.001 i)^-0.75 at i = 1000 is alpha=1, p=1
    assert lr_factor(1.0, alpha=1.0) == pytest.approx(2 ** -0.75)


def test_progress():
    assert progress(0, 100) == 0.0
    assert progress(99, 100) == 1.0
    assert progress(33, 100) == pytest.approx(1 / 3)
    assert progress(0, 1) == 1.0
