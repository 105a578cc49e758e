"""Golden-file tests of the report on committed sample records (tests/golden/runs).

The records are sample data, not measurements. After an intended change of the report's output,
regenerate the expected files and review the diff:

    .venv/bin/python tests/test_report.py --regenerate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dabench.report import aggregate, render
from dabench.results import load_records
from dabench.tasks import load_catalog

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = [(fmt, select) for fmt in ("md", "csv", "json") for select in ("last", "oracle")]


def rendered(fmt: str, select: str) -> str:
    records, _ = load_records(GOLDEN / "runs")
    return render(aggregate(records, load_catalog(), select), fmt, select)


@pytest.mark.parametrize("fmt,select", CASES)
def test_report_matches_golden_file(fmt, select):
    expected = (GOLDEN / f"report-{select}.{fmt}").read_text()
    assert rendered(fmt, select) == expected


def test_unfinished_runs_are_skipped_and_counted():
    records, unfinished = load_records(GOLDEN / "runs")
    assert unfinished == 1 and len(records) == 8


def test_mean_std_and_delta_values():
    records, _ = load_records(GOLDEN / "runs")
    rows = {(r.benchmark, r.method): r for r in aggregate(records, load_catalog(), "last")}
    rg = rows[("mnist-to-mnistm", "revgrad")]
    assert rg.n == 3 and rg.value == pytest.approx(62.0)  # (64.0 + 60.2 + 61.8) / 3
    assert rg.std == pytest.approx(1.907878, abs=1e-5)  # sample std (ddof = 1)
    assert rg.published == 76.66 and rg.delta == pytest.approx(62.0 - 76.66)
    one = rows[("mnist-to-mnistm", "target-only")]
    assert one.n == 1 and one.std is None and one.value == pytest.approx(91.0)
    nopub = rows[("mnist-to-digits", "revgrad")]
    assert nopub.published is None and nopub.delta is None
    oracle = {(r.benchmark, r.method): r for r in aggregate(records, load_catalog(), "oracle")}
    assert oracle[("mnist-to-mnistm", "revgrad")].value == pytest.approx(64.1666667)


def test_gap_closed_note():
    from dabench.report import gap_notes

    records, _ = load_records(GOLDEN / "runs")
    notes = gap_notes(aggregate(records, load_catalog(), "last"))
    # (62.00 - 49.37) / (91.00 - 49.37) = 30%; published (76.66 - 52.25) / (95.96 - 52.25) = 56%
    assert notes == ["MNIST-to-MNIST-M: RevGrad closes 30% of the source-only -> target-only "
                     "gap (published: 56%)."]


def test_table_names_the_selection_rule_and_shows_missing_as_dash():
    text = rendered("table", "last")
    assert "model selection: last evaluation (uses no target labels)" in text
    assert "sample standard deviation" in text
    line = next(l for l in text.splitlines() if "MNIST-to-Digits" in l)
    assert "—" in line  # no published value, no std for one seed


def test_runs_differing_in_config_are_separate_rows():
    records, _ = load_records(GOLDEN / "runs")
    extra = json.loads(json.dumps(records[0]))
    extra["config"]["optim.lr"] = 0.5
    rows = aggregate(records + [extra], load_catalog(), "last")
    models = [r.model for r in rows if r.benchmark == extra["task"] and r.method == extra["method"]]
    assert len(models) == 2 and all("#" in m for m in models)


if __name__ == "__main__" and "--regenerate" in sys.argv:
    for fmt, select in CASES:
        (GOLDEN / f"report-{select}.{fmt}").write_text(rendered(fmt, select))
        print(f"wrote {GOLDEN / f'report-{select}.{fmt}'}")
