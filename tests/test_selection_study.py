"""`report --select entropy|im|bnm|snd|dev` and `report --view selection` on constructed runs
whose picks, gaps and rank correlations are known."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dabench.analysis.selection import in_run, select, spearman, study
from dabench.reporting.aggregate import build
from dabench.runs import store
from dabench.tasks.catalog import load_catalog


def evals(accs, entropies, source=None):
    """One evaluation per accuracy, every 10 steps; the other validators made up to agree or
    disagree with the accuracy in known ways."""
    source = source or [0.5] * len(accs)
    return [{"step": 10 * (i + 1), "target_acc": a, "source_acc": s, "entropy": h,
             "im": -h, "bnm": a, "snd": -a, "dev": None}
            for i, (a, h, s) in enumerate(zip(accs, entropies, source))]


def rec(seed, weight, accs, entropies, source=None, task="books-to-dvd"):
    return {"task": task, "method": "revgrad", "model": "RevGrad", "seed": seed,
            "title": "Books-to-DVD", "config": {"grl.weight": weight, "steps": 30, "seed": seed},
            "sweep": ["grl.weight"], "target_acc_last": accs[-1], "target_acc_best": max(accs),
            "evaluations": evals(accs, entropies, source)}


# seed 0: config 0.1 has the lowest entropy at its second evaluation (acc 0.75); the oracle is
# config 0.5's third evaluation (0.80). seed 1: the lowest entropy is the oracle (0.82).
RECORDS = [rec(0, 0.1, [0.60, 0.75, 0.70], [0.9, 0.2, 0.5]),
           rec(0, 0.5, [0.65, 0.72, 0.80], [0.8, 0.6, 0.3]),
           rec(1, 0.1, [0.62, 0.71, 0.82], [0.9, 0.5, 0.1]),
           rec(1, 0.5, [0.60, 0.66, 0.69], [0.7, 0.4, 0.35])]


def test_in_run_takes_the_best_evaluation_in_the_rules_direction():
    assert in_run(RECORDS[0], "entropy") == (0.2, 0.75)  # lowest entropy
    assert in_run(RECORDS[0], "bnm") == (0.75, 0.75)  # highest score
    assert in_run(RECORDS[0], "snd") == (-0.60, 0.60)  # highest score: -0.60
    assert in_run(RECORDS[0], "dev") is None  # no DEV score in these runs
    assert in_run({k: v for k, v in RECORDS[0].items() if k != "evaluations"}, "im") is None


def test_select_entropy_picks_across_configurations_and_evaluations():
    chosen, notes = select(RECORDS, "entropy")
    assert notes == []
    got = sorted((r["seed"], r["selected"]["config"]["grl.weight"], r["target_acc_entropy"])
                 for r in chosen)
    assert got == [(0, 0.1, 0.75), (1, 0.1, 0.82)]
    _, notes = select(RECORDS, "dev")
    assert notes and "4 run(s) left out" in notes[0] and "validators" in notes[0]


def test_spearman_known_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    # ties take average ranks: x ranks [1.5, 1.5, 3], y ranks [1, 2, 3] -> 0.866
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(0.8660254, rel=1e-6)
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def test_study_gives_pick_oracle_and_signed_correlation():
    picks = {(p.seed, p.rule): p for p in study(RECORDS)}
    e0, e1 = picks[(0, "entropy")], picks[(1, "entropy")]
    assert (e0.value, e0.oracle, e1.value, e1.oracle) == (0.75, 0.80, 0.82, 0.82)
    assert e0.candidates == 6
    # entropy is minimised: rho is Spearman(-entropy, acc); bnm equals acc, snd is -acc
    accs = [0.60, 0.75, 0.70, 0.65, 0.72, 0.80]
    ents = [0.9, 0.2, 0.5, 0.8, 0.6, 0.3]
    assert e0.rho == pytest.approx(spearman([-h for h in ents], accs))
    assert picks[(0, "bnm")].rho == pytest.approx(1) and picks[(0, "snd")].rho == pytest.approx(-1)
    assert picks[(0, "dev")].value is None and picks[(0, "dev")].rho is None
    # last: no choice between configurations, their mean last accuracy
    assert picks[(0, "last")].value == pytest.approx((0.70 + 0.80) / 2)
    # no holdout: source-val neither picks nor ranks; with one, it ranks every evaluation
    assert (picks[(0, "source-val")].value, picks[(0, "source-val")].candidates) == (None, 0)
    held = [dict(r, source_val_acc=0.6 + r["config"]["grl.weight"] / 10,
                 target_acc_source_val=r["target_acc_last"]) for r in RECORDS]
    sv = {p.seed: p for p in study(held, ("source-val",))}
    assert sv[0].candidates == 6 and sv[0].value == pytest.approx(0.80)  # config 0.5 wins


def test_selection_view_rows_and_mean_over_tasks():
    other = [dict(r, task="books-to-kitchen", title="Books-to-Kitchen") for r in RECORDS]
    table = build(RECORDS + other, load_catalog(), "last", "selection")[0]
    assert "model selection: every rule" in table.title
    col = {c: i for i, c in enumerate(table.columns)}
    rows = {(c[col["Task"]], c[col["Rule"]]): c for c in table.cells}
    e = rows[("books-to-dvd", "entropy")]
    assert e[col["Value"]] == "78.50" and e[col["Oracle"]] == "81.00" and e[col["Gap"]] == "2.50"
    assert e[col["n"]] == "2" and e[col["Candidates"]] == "6"
    assert rows[("books-to-dvd", "bnm")][col["ρ"]] == "1.000"
    assert rows[("mean over 2 task(s)", "entropy")][col["Gap"]] == "2.50"
    assert ("books-to-dvd", "dev") in rows and rows[("books-to-dvd", "dev")][col["n"]] == "0"
    assert any(n.startswith("snd: ") and "arxiv.org/abs/2108.10860" in n for n in table.notes)
    # JSON/CSV records carry the numbers
    plain = [r for r in table.records if r["task"] == "books-to-dvd" and r["rule"] == "entropy"]
    assert plain[0]["gap"] == pytest.approx(2.5) and plain[0]["seeds"] == [0, 1]


def write_runs(root: Path, records) -> None:
    for i, r in enumerate(records):
        d = store.run_dir(root, r["task"], r["method"], f"run{i:03d}")
        d.mkdir(parents=True)
        store.write_json(d / "config.json", {k: r[k] for k in ("task", "method", "seed",
                                                               "config", "sweep")})
        store.write_json(d / "result.json", {**r, "status": "done", "run_id": f"run{i:03d}"})
        store.mark_done(d)


def cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "dabench", "report", *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("fmt", ["md", "csv", "json", "latex", "table"])
def test_report_cli_selection_view_in_every_text_format(tmp_path, fmt):
    write_runs(tmp_path, RECORDS)
    out = cli("--runs-dir", str(tmp_path), "--view", "selection", "--format", fmt)
    assert out.returncode == 0, out.stderr
    if fmt == "json":
        rows = json.loads(out.stdout)
        e = [r for r in rows if r["task"] == "books-to-dvd" and r["rule"] == "entropy"][0]
        assert (e["value"], e["oracle"]) == (78.5, 81.0)
    elif fmt == "csv":
        assert "books-to-dvd,RevGrad,revgrad,entropy,78.5,4.9497,81.0,2.5," in out.stdout
    else:
        assert "78.50" in out.stdout and "entropy" in out.stdout


def test_report_cli_select_validator_and_html(tmp_path):
    write_runs(tmp_path, RECORDS)
    out = cli("--runs-dir", str(tmp_path), "--select", "entropy", "--view", "runs",
              "--format", "json")
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["value"] == pytest.approx(78.5) and row["selection"] == "entropy"
    md = cli("--runs-dir", str(tmp_path), "--select", "bnm", "--view", "runs", "--format", "md")
    assert "model selection: bnm: configuration and evaluation with the highest batch nuclear" \
        in md.stdout
    page = tmp_path / "r.html"
    out = cli("--runs-dir", str(tmp_path), "--view", "selection", "--format", "html",
              "--out", str(page))
    assert out.returncode == 0, out.stderr
    html = page.read_text()
    assert "Model selection study" in html and 'data-col="Gap"' in html
    assert "model selection: every rule" in html
    bad = cli("--runs-dir", str(tmp_path), "--select", "entropi")
    assert bad.returncode != 0 and "entropy" in bad.stderr
