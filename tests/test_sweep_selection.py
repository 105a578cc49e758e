"""Sweeps (grid expansion, the Amazon paper grid) and the report's selection rules."""

from __future__ import annotations

import pytest

from dabench.analysis.selection import chosen_values, select
from dabench.errors import DabenchError
from dabench.reporting.aggregate import aggregate, build
from dabench.runs.plan import build_plan
from dabench.runs.sweep import expand, parse_sweep
from dabench.tasks.catalog import load_catalog


def test_parse_and_expand_every_combination():
    a = parse_sweep("grl.weight=0.1, 0.3,0.1")
    b = parse_sweep("backbone.width=50,100")
    assert a == {"grl.weight": [0.1, 0.3]} and b == {"backbone.width": [50, 100]}
    combos = expand({**a, **b})
    assert combos == [{"grl.weight": 0.1, "backbone.width": 50},
                      {"grl.weight": 0.1, "backbone.width": 100},
                      {"grl.weight": 0.3, "backbone.width": 50},
                      {"grl.weight": 0.3, "backbone.width": 100}]
    assert expand({}) == [{}]
    assert parse_sweep("paper") == "paper"


@pytest.mark.parametrize("text,match", [("grl.weight=", "has no values"),
                                        ("grl.wieght=1,2", "unknown setting 'grl.wieght'"),
                                        ("seed=1,2", "not allowed"),
                                        ("steps=1,x", "needs an integer")])
def test_bad_sweeps_are_one_line_errors(text, match):
    with pytest.raises(DabenchError, match=match):
        parse_sweep(text)


def test_amazon_runs_the_papers_grid_by_default():
    catalog = load_catalog()
    plan = build_plan(catalog, ["amazon"], [], [0], {})
    # 12 pairs x (DANN: 9 lambdas x 2 widths + NN: 2 widths)
    assert len(plan) == 12 * (18 + 2)
    dann = [cfg for spec, cfg in plan if spec.name == "books-to-dvd" and cfg.method == "revgrad"]
    # the paper's lambdas 10^(-2 + k/4), k = 0..8, as grl.weight = 2 lambda (amazon.yaml says why)
    assert sorted({c.grl.weight for c in dann}) == pytest.approx(
        [2 * 10 ** (-2 + k / 4) for k in range(9)], rel=0, abs=5e-7)  # 6 decimals
    assert len({c.run_id() for c in dann}) == 18
    assert dann[0].sweep == ("backbone.width", "grl.weight")
    assert len(build_plan(catalog, ["amazon"], [], [0], {}, ["none"])) == 24
    one = build_plan(catalog, ["books-to-dvd"], ["revgrad"], [0, 1], {},
                     [parse_sweep("grl.weight=0.1,0.2,0.4")])
    assert [c.grl.weight for _, c in one] == [0.1, 0.2, 0.4] * 2  # the task's grid is replaced
    with pytest.raises(DabenchError, match="no sweep 'papr'.*Did you mean 'paper'"):
        build_plan(catalog, ["books-to-dvd"], [], [0], {}, ["papr"])


def rec(seed, weight, target_sv, target_best, rev, sval, task="books-to-dvd"):
    return {"task": task, "method": "revgrad", "model": "RevGrad", "seed": seed,
            "title": "Books-to-DVD", "config": {"grl.weight": weight, "steps": 10, "seed": seed},
            "sweep": ["grl.weight"], "target_acc_last": target_sv - 0.01,
            "target_acc_best": target_best, "target_acc_source_val": target_sv,
            "reverse_acc": rev, "source_val_acc": sval}


RECORDS = [rec(0, 0.1, 0.70, 0.74, rev=0.80, sval=0.90), rec(0, 0.5, 0.78, 0.79, rev=0.85, sval=0.80),
           rec(1, 0.1, 0.72, 0.80, rev=0.70, sval=0.95), rec(1, 0.5, 0.76, 0.77, rev=0.75, sval=0.85)]


def test_each_rule_picks_one_configuration_per_seed():
    rev, notes = select(RECORDS, "reverse")
    assert notes == [] and [r["selected"]["config"]["grl.weight"] for r in rev] == [0.5, 0.5]
    assert "grl.weight" not in rev[0]["config"] and rev[0]["selected"]["candidates"] == 2
    sv, _ = select(RECORDS, "source-val")
    assert sorted((r["seed"], r["selected"]["config"]["grl.weight"]) for r in sv) == [(0, 0.1), (1, 0.1)]
    oracle, _ = select(RECORDS, "oracle")
    assert sorted((r["seed"], r["config"].get("grl.weight", r["selected"]["config"]["grl.weight"]))
                  for r in oracle) == [(0, 0.5), (1, 0.1)]
    assert select(RECORDS, "last")[0] == RECORDS
    assert chosen_values(rev, "grl.weight") == {0.5: 2}


def test_report_values_follow_the_rule_and_the_caption_names_it():
    catalog = load_catalog()
    rows = aggregate(select(RECORDS, "reverse")[0], catalog, "reverse")
    assert len(rows) == 1 and rows[0].n == 2
    assert rows[0].value == pytest.approx(100 * (0.78 + 0.76) / 2)
    (paper,) = [p.value for p in catalog.task("books-to-dvd").published if p.method == "revgrad"]
    assert rows[0].published == paper  # the task file's value
    rows = aggregate(select(RECORDS, "oracle")[0], catalog, "oracle")
    assert rows[0].value == pytest.approx(100 * (0.79 + 0.80) / 2)
    table = build(RECORDS, catalog, "reverse", "runs")[0]
    assert "reverse validation" in table.title
    no_rv = [{k: v for k, v in r.items() if k != "reverse_acc"} for r in RECORDS[:1]]
    table = build(no_rv + RECORDS[2:3], catalog, "reverse", "runs")[0]
    assert any("1 run(s) left out" in n and "selection.reverse=true" in n for n in table.notes)


def test_sweep_summary_rows_and_markdown_mean():
    from dabench.analysis.sweep_summary import markdown, summarise

    recs = [dict(r, pad=0.5 + 0.1 * r["seed"]) for r in RECORDS]
    rows = summarise(recs, load_catalog(), ("revgrad",))
    assert [r["task"] for r in rows] == ["books-to-dvd"]
    rev = rows[0]["revgrad.reverse"]
    assert rev["acc"] == pytest.approx(77.0) and rev["n"] == 2 and rev["pad"] == pytest.approx(0.55)
    assert rev["chosen"] == {"grl.weight": {0.5: 2}}
    assert rows[0]["revgrad.oracle"]["acc"] == pytest.approx(79.5)
    text = markdown(rows, ("revgrad",), {"revgrad": "DANN"})
    (paper,) = [p.value for p in load_catalog().task("books-to-dvd").published
                if p.method == "revgrad"]
    assert f"| Books-to-DVD (n=2) | 77.0 ± 1.4 | 79.5 ± 0.7 | {paper:.1f} | 0.55 |" in text
    assert f"| **mean** | **77.00** | **79.50** | **{paper:.2f}** | **0.55** |" in text


def test_selection_and_tables_group_runs_alike_execution_keys_never_split_a_group():
    """Sweep points of one seed that differ only in an execution key (here `device`: half the
    grid ran on a GPU) are one choice, and the table row holds one record per seed."""
    from dabench.config import group_key

    mixed = [dict(r, config={**r["config"], "device": "cuda" if r["config"]["grl.weight"] == 0.5
                             else "cpu"}) for r in RECORDS]
    chosen, _ = select(mixed, "reverse")
    assert sorted(r["seed"] for r in chosen) == [0, 1]  # one choice per seed, not per device
    assert [r["selected"]["candidates"] for r in chosen] == [2, 2]
    rows = aggregate(chosen, load_catalog(), "reverse")
    assert len(rows) == 1 and rows[0].n == 2 and rows[0].seeds == [0, 1]
    a, b = (dict(RECORDS[0]["config"], device=d) for d in ("cpu", "cuda"))
    assert group_key(a) == group_key(b) != group_key(dict(a, steps=11))
    assert group_key(a, leave_out=["seed"]) == group_key(dict(a, seed=7), leave_out=["seed"])
