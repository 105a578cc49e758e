"""The CLI through typer's CliRunner, plus a subprocess check that list-tasks skips torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dabench.cli import app
from dabench.tasks.catalog import load_catalog

runner = CliRunner()
TINY_SETS = ["--set", "steps=4", "--set", "batch_size=16", "--set", "eval_every=2",
             "--set", "log_every=2"]


def invoke(*args, **kw):
    return runner.invoke(app, list(args), **kw)


def test_list_tasks_json():
    out = invoke("list-tasks", "--format", "json")
    assert out.exit_code == 0
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["mnist5k-to-mnistm5k"] | {"aliases": []} == {
        "name": "mnist5k-to-mnistm5k", "dataset": "Digits", "title": "MNIST5k-to-MNIST-M5k (embedded demo)",
        "source": "MNIST", "targets": ["MNIST-M"], "modality": "image", "num_classes": 10,
        "version": 1, "aliases": [], "recipes": ["dann-adam"], "default_recipe": "dann-adam"}
    office = rows["office31-a-to-w"]  # the recipe of the code behind the ResNet-50 DANN tables
    assert office["recipes"] == ["cdan", "dann-paper", "tllib"]
    assert office["default_recipe"] == "dann-paper"


def test_list_tasks_table_and_help_examples(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # wide: no cell wraps (narrow: tests/test_bad_inputs.py)
    out = invoke("list-tasks")
    assert out.exit_code == 0 and "MNIST -> MNIST-M" in out.stdout and "suite digits" in out.stdout
    assert "dabench run mnist5k-to-mnistm5k" in invoke("run", "--help").stdout


def test_list_tasks_does_not_import_torch():
    code = ("import sys; from dabench.cli import app; "
            "sys.argv=['dabench','list-tasks','--format','json']\n"
            "try: app()\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_run_then_report(tmp_path):
    runs = tmp_path / "runs"
    out = invoke("run", "mnist5k-to-mnistm5k", "--seeds", "0,1", "--runs-dir", str(runs), *TINY_SETS)
    assert out.exit_code == 0, out.output
    assert "Source only" in out.stdout and "RevGrad" in out.stdout
    assert len(list(runs.glob("mnist5k-to-mnistm5k/*/*/done"))) == 4  # 2 methods x 2 seeds
    again = invoke("run", "mnist5k-to-mnistm5k", "--seeds", "0,1", "--runs-dir", str(runs),
                   *TINY_SETS)
    assert again.stderr.count("skipped (finished before)") == 4
    rep = invoke("report", "--runs-dir", str(runs), "--format", "json")
    rows = {r["method"]: r for r in json.loads(rep.stdout)}
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    assert rows["revgrad"]["n"] == 2
    assert not spec.published  # the offline demo: never compared with the paper's values
    for method in ("revgrad", "source-only"):
        assert rows[method]["published"] is None and rows[method]["delta"] is None
    # tiny settings are not the published recipe: the label says which, and there is no Δ
    assert rows["revgrad"]["model"] == "RevGrad (batch_size=16, eval_every=2, log_every=2, +1 more)"
    assert rows["revgrad"]["delta"] is None
    target = tmp_path / "out" / "report.md"
    written = invoke("report", "--runs-dir", str(runs), "--format", "md", "--out", str(target))
    assert written.exit_code == 0 and target.read_text().startswith("**Target accuracy")


def test_runs_dir_from_environment(tmp_path):
    env = {"DABENCH_RUNS": str(tmp_path / "envruns")}
    out = invoke("run", "mnist5k-to-mnistm5k", "-m", "source-only", *TINY_SETS, env=env)
    assert out.exit_code == 0 and list((tmp_path / "envruns").glob("*/*/*/done"))


@pytest.mark.parametrize("args,message", [
    (["run", "mnist-to-mnistn"], "unknown task 'mnist-to-mnistn'. Did you mean 'mnist-to-mnistm'?"),
    (["run", "mnist5k-to-mnistm5k", "-m", "revgard"], "Did you mean 'revgrad'?"),
    (["run", "mnist5k-to-mnistm5k", "--set", "optim.lrr=1"], "Did you mean 'optim.lr'?"),
    (["run", "mnist5k-to-mnistm5k", "--set", "steps=ten"], "needs an integer"),
    (["run", "mnist5k-to-mnistm5k", "--seeds", "0,x"], "comma-separated integers"),
    (["report", "--runs-dir", "/nonexistent/runs"], "no finished runs"),
])
def test_bad_input_is_one_line_on_stderr(args, message):
    out = invoke(*args)
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dabench: error:") and message in lines[0]
    assert "Traceback" not in out.output


def test_unwritable_runs_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = invoke("run", "mnist5k-to-mnistm5k", "--runs-dir", str(blocker / "runs"))
    assert out.exit_code == 2 and "cannot write to the runs folder" in out.stderr


def test_missing_optional_dependency(monkeypatch, tmp_path):
    import dabench.data.digits as digits

    digits.mnist5k.cache_clear()
    digits._build.cache_clear()
    monkeypatch.setattr(digits.importlib.util, "find_spec", lambda name: None)
    out = invoke("run", "mnist5k-to-mnistm5k", "--runs-dir", str(tmp_path), *TINY_SETS)
    digits._build.cache_clear()
    assert out.exit_code == 2
    assert "needs the 'scikit-image' package" in out.stderr  # the MNIST-M photos
    assert "pip install scikit-image" in out.stderr
