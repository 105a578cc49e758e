"""The report says how each published value was selected, warns when a label-free view meets a
best-of-target-test number, and builds a leaderboard row from one recipe only, naming what it
left out."""

from __future__ import annotations

import copy
from pathlib import Path

from dabench.reporting.aggregate import board_rows, build
from dabench.runs.store import load_records
from dabench.tasks.catalog import load_catalog

GOLDEN = Path(__file__).resolve().parent / "golden"


def board(records, select="last"):
    rows = board_rows(records, load_catalog(), select)
    return {r.dataset: r for r in rows}


def office31_records():
    records, _ = load_records(GOLDEN / "board_runs")
    return [r for r in records if r["task"].startswith("office31-")]  # 3 tasks x seeds 0, 1


def as_recipe(rec, recipe, acc):
    out = copy.deepcopy(rec)
    out["recipe"] = out["config"]["recipe"] = recipe
    out["target_acc_last"] = out["target_acc_best"] = acc
    return out


def test_a_leaderboard_row_never_averages_two_recipes():
    base = office31_records()
    paper = board(base)["Office-31"]
    assert paper.n == 2 and "left out" not in paper.note
    # tllib runs on every task, three seeds each: the most runs, so the row is tllib alone
    tllib = [as_recipe(r, "tllib", 0.9) for r in base] + \
        [as_recipe({**r, "seed": 2}, "tllib", 0.9) for r in base if r["seed"] == 0]
    row = board(base + tllib)["Office-31"]
    assert (row.n, round(row.value, 6)) == (3, 90.0)  # not a blend of 0.9 and dann-paper's
    assert row.note.count("recipe dann-paper") == 3 and "left out" in row.note
    # tllib on one task only: no row may mix it with dann-paper on the others
    one_task = [as_recipe(r, "tllib", 0.1) for r in base if r["task"] == "office31-a-to-dw"]
    row = board(base + one_task)["Office-31"]
    assert round(row.value, 6) == round(paper.value, 6)
    assert "office31-a-to-dw: 2 run(s) of recipe tllib" in row.note


def test_published_selection_is_printed_beside_the_published_value():
    records, _ = load_records(GOLDEN / "board_runs")
    rows = board(records)
    assert rows["UCF-to-HMDBfull"].published_selection == "best epoch on target test"
    assert rows["Office-31"].published_selection == "not stated"
    table = build(records, load_catalog(), "last", "leaderboard")[0]
    col = table.columns.index("Selected by")
    assert table.columns[col - 1] == "Published"
    assert {c[col] for c in table.cells} == {"not stated", "best epoch on target test"}


def test_label_free_views_say_when_published_numbers_are_best_of_test():
    records, _ = load_records(GOLDEN / "board_runs")
    catalog = load_catalog()
    last = build(records, catalog, "last", "leaderboard")[0]
    oracle = build(records, catalog, "oracle", "leaderboard")[0]
    warning = [n for n in last.notes if "best evaluation on target test labels" in n]
    assert len(warning) == 1 and warning[0].startswith("Value: last evaluation")
    assert not [n for n in oracle.notes if "best evaluation on target test labels" in n]
    digits, _ = load_records(GOLDEN / "runs")  # the DANN paper does not state its rule
    runs = build(digits, catalog, "last", "runs")[0]
    assert not [n for n in runs.notes if "best evaluation on target test labels" in n]
