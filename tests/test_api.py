"""The Python API (`import dabench`): the same functions the CLI is built on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dabench
from dabench.errors import DabenchError

REPO = Path(__file__).resolve().parents[1]
TINY = {"steps": 4, "batch_size": 16, "eval_every": 2, "log_every": 2, "eval_batch_size": 250,
        "proxy_a_distance_items": 0}


def test_import_is_light_and_the_public_names_are_listed():
    code = ("import sys, dabench\n"
            "names = sorted(dabench.__all__)\n"
            "tasks = dabench.list_tasks()\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "print(names, len(tasks))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "'run'" in done.stdout and "'report'" in done.stdout and "'load_task_file'" in done.stdout
    with pytest.raises(AttributeError):
        dabench.no_such_thing


def test_list_tasks_is_what_the_cli_prints():
    from typer.testing import CliRunner

    from dabench.cli import app

    out = CliRunner().invoke(app, ["list-tasks", "--format", "json"])
    assert out.exit_code == 0 and json.loads(out.stdout) == dabench.list_tasks()


def test_load_task_and_task_file():
    spec = dabench.load_task("mnist5k-to-mnistm5k")
    assert spec.num_classes == 10 and spec.source.name == "MNIST"
    names = {s.name for s in dabench.load_task_file(REPO / "tasks" / "digits.yaml")}
    assert "mnist5k-to-mnistm5k" in names
    with pytest.raises(DabenchError, match="Did you mean 'mnist5k-to-mnistm5k'"):
        dabench.load_task("mnist5k-to-mnistm")


def test_plan_resolves_without_training(tmp_path):
    entries = dabench.plan("mnist5k-to-mnistm5k", methods=["revgrad", "source-only"], seeds=[0, 1],
                           sets={"optim.lr": 0.02, **TINY})
    assert [(e.cfg.method, e.cfg.seed) for e in entries] == [
        ("revgrad", 0), ("revgrad", 1), ("source-only", 0), ("source-only", 1)]
    assert all(e.cfg.optim.lr == 0.02 and len(e.cfg.run_id()) == 12 for e in entries)
    assert entries[0].cfg.run_id() == dabench.plan(
        "mnist5k-to-mnistm5k", "revgrad", sets=[f"{k}={v}" for k, v in
                                            {"optim.lr": 0.02, **TINY}.items()])[0].cfg.run_id()
    with pytest.raises(DabenchError, match="Did you mean 'optim.lr'"):
        dabench.plan("mnist5k-to-mnistm5k", sets={"optim.lrr": 1})
    with pytest.raises(DabenchError, match="unknown method 'revgrd'"):
        dabench.plan("mnist5k-to-mnistm5k", methods="revgrd")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_run_then_report_match_the_cli(tmp_path):
    runs = tmp_path / "runs"
    records = dabench.run("mnist5k-to-mnistm5k", methods=["source-only", "revgrad"], sets=TINY,
                          runs_dir=runs)
    assert [r["method"] for r in records] == ["source-only", "revgrad"]
    for r in records:
        saved = json.loads((runs / "mnist5k-to-mnistm5k" / r["method"] / r["run_id"] /
                            "result.json").read_text())
        assert saved["target_acc_last"] == r["target_acc_last"]
    # the same call again: both finished, nothing retrained
    again = dabench.run("mnist5k-to-mnistm5k", methods=["source-only", "revgrad"], sets=TINY,
                        runs_dir=runs)
    assert [r["run_id"] for r in again] == [r["run_id"] for r in records]
    rows = dabench.report(runs_dir=runs, view="runs")
    from typer.testing import CliRunner

    from dabench.cli import app

    out = CliRunner().invoke(app, ["report", "--runs-dir", str(runs), "--view", "runs",
                                   "--format", "json"])
    assert out.exit_code == 0 and json.loads(out.stdout) == rows
    by_method = {r["method"]: r for r in rows}
    assert by_method["revgrad"]["value"] == pytest.approx(
        100 * next(r["target_acc_last"] for r in records if r["method"] == "revgrad"))
    with pytest.raises(DabenchError, match="select 'best' is not one of"):
        dabench.report(runs_dir=runs, select="best")
