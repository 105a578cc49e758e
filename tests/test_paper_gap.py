"""Measured vs published with the intervals the seeds support (dabench/analysis/paper_gap.py)."""

from __future__ import annotations

import math

import pytest

from dabench.analysis.paper_gap import gap, gap_from_summary, markdown, paper_comparison, t_quantile


def test_t_quantiles_are_students():
    assert t_quantile(2) == pytest.approx(4.302653, abs=1e-5)
    assert t_quantile(1) == pytest.approx(12.706205, abs=1e-5)
    assert t_quantile(1000) == pytest.approx(1.962339, abs=1e-5)


def test_a_mean_within_its_interval_of_the_paper_is_consistent_within_noise():
    g = gap([76.62, 75.98, 76.09], 76.27)  # three per-seed 12-pair means vs Table 1a's mean
    half = 4.302653 * 0.342199 / math.sqrt(3)
    assert g.mean == pytest.approx(76.23) and g.std == pytest.approx(0.342199, abs=1e-5)
    assert (g.low, g.high) == pytest.approx((76.23 - half, 76.23 + half), abs=1e-4)
    assert g.diff == pytest.approx(-0.04)
    assert g.diff_interval == pytest.approx((-0.04 - half, -0.04 + half), abs=1e-4)
    assert g.verdict == "consistent within noise"


def test_outside_the_interval_says_above_or_below_and_one_seed_says_so():
    assert gap([80.5, 80.3, 80.7], 78.4).verdict == "above the paper"
    assert gap([70.0, 70.2, 69.9], 72.3).verdict == "below the paper"
    one = gap([79.0], 78.4)
    assert one.verdict == "one seed: no interval" and one.low is None and one.diff_interval is None
    assert gap_from_summary(79.2, 0.7, 3, 78.4).verdict == "consistent within noise"
    assert gap_from_summary(79.2, 0.7, 3, None).verdict == "no published value"


def test_the_mean_over_tasks_uses_only_seeds_that_ran_every_task():
    per_task = {"a": {0: 70.0, 1: 72.0, 2: 71.0}, "b": {0: 80.0, 1: 82.0}}
    tasks, overall, seeds = paper_comparison(per_task, {"a": 71.5, "b": 80.0})
    assert seeds == [0, 1]
    assert overall.n == 2 and overall.mean == pytest.approx((75.0 + 77.0) / 2)
    assert overall.published == pytest.approx(75.75)
    assert tasks["a"].n == 3 and tasks["b"].n == 2
    table = markdown(tasks, overall, {"a": "A-to-B"})
    assert "| A-to-B | 3 | 71.0 ± 1.0 | 71.5 | -0.5 [" in table
    assert "| **mean over pairs** | 2 seeds | 76.00 ± 1.41 | 75.75 | +0.25 [" in table
    assert paper_comparison({"a": {0: 1.0}, "b": {1: 2.0}}, {})[1] is None
