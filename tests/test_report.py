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

from dabench.reporting.render import render
from dabench.reporting.aggregate import aggregate, build
from dabench.runs.store import load_records
from dabench.tasks.catalog import load_catalog

GOLDEN = Path(__file__).resolve().parent / "golden"


def published(task: str, method: str) -> float:
    """The task file's published value: the report must show that one (not a copy here)."""
    (value,) = [p.value for p in load_catalog().task(task).published if p.method == method]
    return value
CASES = [(view, fmt, select) for view in ("runs", "suite", "leaderboard")
         for fmt in ("md", "csv", "json") for select in ("last", "oracle")]
CASES += [("suite", "latex", "last"), ("leaderboard", "latex", "last")]


def rendered(fmt: str, select: str, view: str = "runs") -> str:
    """Runs and suite views read tests/golden/runs (digits); the leaderboard view reads
    tests/golden/board_runs (blended Office tasks)."""
    folder = GOLDEN / ("board_runs" if view == "leaderboard" else "runs")
    records, _ = load_records(folder)
    return render(build(records, load_catalog(), select, view), fmt)


def golden_name(view: str, fmt: str, select: str) -> str:
    return f"report-{select}.{fmt}" if view == "runs" else f"{view}-{select}.{fmt}"


@pytest.mark.parametrize("view,fmt,select", CASES)
def test_report_matches_golden_file(view, fmt, select):
    expected = (GOLDEN / golden_name(view, fmt, select)).read_text()
    assert rendered(fmt, select, view) == expected


def test_unfinished_runs_are_skipped_and_counted():
    records, unfinished = load_records(GOLDEN / "runs")
    assert unfinished == 1 and len(records) == 8


def test_mean_std_and_delta_values():
    records, _ = load_records(GOLDEN / "runs")
    rows = {(r.benchmark, r.method): r for r in aggregate(records, load_catalog(), "last")}
    rg = rows[("mnist-to-mnistm", "revgrad")]
    assert rg.n == 3 and rg.value == pytest.approx(62.0)  # (64.0 + 60.2 + 61.8) / 3
    assert rg.std == pytest.approx(1.907878, abs=1e-5)  # sample std (ddof = 1)
    paper = published("mnist-to-mnistm", "revgrad")
    assert rg.published == paper and rg.delta == pytest.approx(62.0 - paper)
    one = rows[("mnist-to-mnistm", "target-only")]
    assert one.n == 1 and one.std is None and one.value == pytest.approx(91.0)
    nopub = rows[("mnist-to-digits", "revgrad")]
    assert nopub.published is None and nopub.delta is None
    oracle = {(r.benchmark, r.method): r for r in aggregate(records, load_catalog(), "oracle")}
    assert oracle[("mnist-to-mnistm", "revgrad")].value == pytest.approx(64.1666667)


def test_gap_closed_note():
    from dabench.reporting.aggregate import gap_notes

    records, _ = load_records(GOLDEN / "runs")
    notes = gap_notes(aggregate(records, load_catalog(), "last"))
    # (62.00 - 49.37) / (91.00 - 49.37) = 30%; published: the same from the task file's values
    so, rg, to = (published("mnist-to-mnistm", m) for m in ("source-only", "revgrad", "target-only"))
    assert notes == ["MNIST-to-MNIST-M: RevGrad closes 30% of the source-only -> target-only "
                     f"gap (published: {100 * (rg - so) / (to - so):.0f}%)."]


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


def test_suite_view_cells_avg_and_published_rows():
    records, _ = load_records(GOLDEN / "runs")
    digits, paper_digits = build(records, load_catalog(), "last", "suite")  # one per family
    assert digits.columns == ["Model", "MNIST5k-to-MNIST-M5k (embedded demo)", "MNIST-to-Digits",
                              "Avg", "PAD"]
    assert {r[0]: r for r in digits.cells}["RevGrad"][1:4] == ["—", "70.10", "—"]  # missing cell
    assert paper_digits.columns[:3] == ["Model", "MNIST-to-MNIST-M", "SynDigits-to-SVHN"]
    rows = {r[0]: r for r in paper_digits.cells}
    assert rows["RevGrad"][1] == "62.00 ± 1.91" and rows["RevGrad"][-2] == "—"  # Avg: tasks missing
    paper = f"{published('mnist-to-mnistm', 'revgrad'):.2f}"
    svhn = f"{published('syndigits-to-svhn', 'revgrad'):.2f}"
    assert rows["RevGrad — published (paper)"][1:3] == [paper, svhn]


def test_leaderboard_rows_are_dataset_means_per_seed():
    from dabench.reporting.aggregate import board_rows

    records, _ = load_records(GOLDEN / "board_runs")
    rows = {r.dataset: r for r in board_rows(records, load_catalog(), "last")}
    board = {r.dataset: r.value for r in load_catalog().board}  # the task files' row values
    o31 = rows["Office-31"]
    # seed 0: (78.1 + 71.5 + 69.0) / 3 = 72.8667; seed 1: (77.2 + 70.9 + 70.2) / 3 = 72.7667
    assert o31.n == 2 and o31.value == pytest.approx(72.81667, abs=1e-4)
    assert o31.std == pytest.approx(0.070711, abs=1e-5)
    assert o31.published == board["Office-31"] and o31.task == "Multi-target Domain Adaptation"
    home = rows["Office-Home"]  # Rw->ArClPr has no run: the row stays empty
    assert home.n == 0 and home.value is None and home.published == board["Office-Home"]
    assert build(records, load_catalog())[0].title.startswith("Leaderboard rows")  # auto view


def test_k_over_n_rule():
    from dabench.reporting.aggregate import is_k_over_n

    assert is_k_over_n(74.43, 571) and not is_k_over_n(74.44, 571)  # 425/571 = 74.43
    assert is_k_over_n(74.44, 360)  # 268/360
    assert is_k_over_n(98.15, 54) and is_k_over_n(90.0, 240)


def test_latex_is_booktabs_and_escaped():
    text = rendered("latex", "last", "suite")
    assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
    assert "$\\pm$" in text and "\\%" in text and "±" not in text


if __name__ == "__main__" and "--regenerate" in sys.argv:
    for view, fmt, select in CASES:
        (GOLDEN / golden_name(view, fmt, select)).write_text(rendered(fmt, select, view))
        print(f"wrote {GOLDEN / golden_name(view, fmt, select)}")
