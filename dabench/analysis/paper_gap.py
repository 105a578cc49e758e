"""How far measured accuracies are from published ones, stated with what the seeds support
(pure functions, no torch).

Per task: the mean over seeds, its difference to the published value and a 95% Student-t
interval of that difference (the published value is taken as exact); "consistent within
noise" when the interval holds 0, else "above" or "below". Over tasks: the mean over tasks of
each seed (only seeds that ran every task), and the same interval over those per-seed means.
With one seed there is no interval: the verdict says so instead of guessing.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Optional

CONFIDENCE = 0.95


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t quantile: t_{(1 + confidence) / 2, df}."""
    from scipy.stats import t  # scipy comes with scikit-learn; only here

    return float(t.ppf((1 + confidence) / 2, df))


@dataclass(frozen=True)
class Gap:
    """A measured mean beside a published value."""

    n: int  # seeds
    mean: float
    std: Optional[float]  # sample std over seeds (None for one seed)
    published: Optional[float]
    low: Optional[float]  # the 95% interval of the mean (None below two seeds)
    high: Optional[float]

    @property
    def diff(self) -> Optional[float]:
        return None if self.published is None else self.mean - self.published

    @property
    def diff_interval(self) -> Optional[tuple[float, float]]:
        if self.published is None or self.low is None:
            return None
        return self.low - self.published, self.high - self.published

    @property
    def verdict(self) -> str:
        if self.published is None:
            return "no published value"
        if self.low is None:
            return "one seed: no interval"
        if self.low <= self.published <= self.high:
            return "consistent within noise"
        return "above the paper" if self.low > self.published else "below the paper"


def gap_from_summary(mean: float, std: Optional[float], n: int,
                     published: Optional[float]) -> Gap:
    """A `Gap` from a mean, its sample std over `n` seeds and the published value:
    mean ± t_{0.975, n-1} std / sqrt(n)."""
    if n >= 2 and std is not None:
        half = t_quantile(n - 1) * std / math.sqrt(n)
        return Gap(n, mean, std, published, mean - half, mean + half)
    return Gap(n, mean, None, published, None, None)


def gap(values: list[float], published: Optional[float]) -> Gap:
    """A `Gap` from the per-seed values of one task."""
    if not values:
        raise ValueError("no values")
    std = statistics.stdev(values) if len(values) > 1 else None
    return gap_from_summary(statistics.fmean(values), std, len(values), published)


def paper_comparison(per_task: dict[str, dict[int, float]], published: dict[str, float]
                     ) -> tuple[dict[str, Gap], Optional[Gap], list[int]]:
    """(per task: its `Gap`; the mean over tasks: a `Gap` over the per-seed means against the
    mean of the published values; the seeds that ran every task). `per_task` maps a task to
    {seed: accuracy}; the mean over tasks uses only seeds present in every task (None when no
    seed is)."""
    tasks = {name: gap(list(by_seed.values()), published.get(name))
             for name, by_seed in per_task.items()}
    common = sorted(set.intersection(*(set(s) for s in per_task.values()))) if per_task else []
    if not common:
        return tasks, None, []
    means = [statistics.fmean(per_task[name][s] for name in per_task) for s in common]
    pubs = [published.get(name) for name in per_task]
    paper = statistics.fmean(pubs) if all(p is not None for p in pubs) else None
    return tasks, gap(means, paper), common


def markdown(tasks: dict[str, Gap], overall: Optional[Gap],
             titles: Optional[dict[str, str]] = None, digits: int = 1) -> str:
    """A Markdown table: task, n, mean ± std, published, difference [95% interval], verdict;
    then the mean over tasks (one more digit)."""
    def fmt(g: Gap, name: str, digits: int = digits) -> str:
        spread = f" ± {g.std:.{digits}f}" if g.std is not None else ""
        pub = "—" if g.published is None else f"{g.published:.{digits}f}"
        diff = "—" if g.diff is None else f"{g.diff:+.{digits}f}"
        if g.diff_interval is not None:
            lo, hi = g.diff_interval
            diff += f" [{lo:+.{digits}f}, {hi:+.{digits}f}]"
        return (f"| {name} | {g.n} | {g.mean:.{digits}f}{spread} | {pub} | {diff} | "
                f"{g.verdict} |")

    lines = ["| Pair | n | measured | published | difference [95% interval] | |",
             "|---|---|---|---|---|---|"]
    lines += [fmt(g, (titles or {}).get(name, name)) for name, g in tasks.items()]
    if overall is not None:
        lines.append(fmt(overall, "**mean over pairs**", digits + 1).replace(f"| {overall.n} |",
                                                                 f"| {overall.n} seeds |", 1))
    return "\n".join(lines) + "\n"
