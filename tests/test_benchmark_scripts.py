"""The benchmark scripts still run (tiny settings): they measure, tests only keep them working."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dabench.config import resolve
from dabench.tasks.catalog import load_catalog

REPO = Path(__file__).resolve().parents[1]


def test_digits_table_script_runs_and_writes_json(tmp_path):
    args = [sys.executable, str(REPO / "benchmarks" / "digits_table.py"), "--seeds", "0",
            "--methods", "source-only,revgrad", "--runs-dir", str(tmp_path / "runs"),
            "--set", "steps=4", "--set", "eval_every=2", "--set", "pad_samples=50"]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "OUT": str(tmp_path / "out")})
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "digits_table.json").read_text())
    assert {r["method"] for r in summary["rows"]} == {"source-only", "revgrad"}
    assert set(summary["wall_time_s"]) == {"source-only", "revgrad"}
    assert "| Domain Adaptation | MNIST5k-to-MNIST-M5k (embedded demo) |" in done.stdout


def test_throughput_script_runs_and_writes_json(tmp_path):
    args = [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--repeats", "1",
            "--out", str(tmp_path)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "throughput.json").read_text())
    assert set(result["images_per_s"]) == {"dabench RevGrad step", "bare supervised step (limit)",
                                           "eager fp32 reference step"}
    assert result["ratio_dabench_over_bare_time"] > 0
    assert set(result["end_to_end_images_per_s"]) == {"jpeg_loader", "image_cache"}
    # the projection and the digits step use the task files' recipes, not constants of the script
    catalog = load_catalog()
    tllib = resolve(catalog.task("office31-a-to-w"), "revgrad", 0, {"recipe": "tllib"})
    assert result["projected_office31_a_to_w_s"]["tllib"]["steps"] == tllib.steps
    digits, cfg = result["digits"], resolve(catalog.task("mnist5k-to-mnistm5k"), "revgrad", 0, {})
    assert (digits["backbone"], digits["batch"]) == (cfg.backbone.name, cfg.batch_size)
    assert set(digits["ms_per_step"]) == {"channels_last", "nchw"}
    assert all(v > 0 for v in digits["ms_per_step"].values())
    assert "channels_last off" in " ".join(result["extra_ms_per_step"])


@pytest.mark.slow
def test_amazon_suite_script_times_the_runs_and_prints_the_table(tmp_path):
    args = [sys.executable, str(REPO / "benchmarks" / "amazon_suite.py"), "--tasks",
            "books-to-dvd", "--processes", "1", "--runs-dir", str(tmp_path / "runs"),
            "--sweep", "grl.weight=0.2", "--set", "steps=28", "--set", "eval_every=14",
            "--set", "proxy_a_distance_items=100"]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stdout.splitlines()[0]
    assert re.match(r"amazon suite, seeds 0: \d+ s wall \([\d.]+ min\) with 1 processes on "
                    r"\d+ cores; load average [\d.]+ at the start, [\d.]+ at the end; \d+ CPU s",
                    first), first
    row = next(line for line in done.stdout.splitlines() if line.startswith("| Books-to-DVD"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "Books-to-DVD (n=1)" and cells[5:7] == ["78.4", "79.0"]  # Table 1a
    assert all(40 < float(c) <= 100 for c in cells[1:5])  # DANN, NN: reverse, oracle
    assert all(0 <= float(c) <= 2 for c in cells[7:9])  # proxy A-distances
    assert "chosen by reverse validation: {0.2: 1}" in done.stdout
    # then the selection study: every rule per model, and the mean over tasks
    assert "**Model selection study" in done.stdout
    rules = [line.split("|")[3].strip() for line in done.stdout.splitlines()
             if line.startswith("| books-to-dvd |")]
    assert rules == ["last", "source-val", "reverse", "entropy", "im", "bnm", "snd", "dev"] * 2
    assert re.search(r"validators: \d+ s of the runs. \d+ s training wall time "
                     r"\([\d.]+%; 2 run\(s\)\)",
                     done.stdout)
    # an ordinary runs folder: both methods' runs, each with its reverse validation
    assert len(list((tmp_path / "runs" / "books-to-dvd").glob("*/*/reverse.json"))) == 2


def test_launch_speedup_reads_the_per_run_times_of_each_half(tmp_path):
    """The per-run times that benchmarks/RESULTS.md quotes come from each run's result.json."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "launch_speedup", Path(__file__).resolve().parents[1] / "benchmarks" / "launch_speedup.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for i, (method, wall) in enumerate([("revgrad", 85.4), ("source-only", 36.2),
                                        ("revgrad", 72.1)]):
        run = tmp_path / "mnist5k-to-mnistm5k" / method / f"run{i}"
        run.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps({"method": method, "wall_time_s": wall}))
    times = script.run_times(tmp_path)
    assert times == {"revgrad": [72.1, 85.4], "source-only": [36.2]}
    assert script.describe(times) == ("revgrad 72-85 s, source-only 36-36 s per run; "
                                      "194 s of runs in all")


def test_table2_measured_table_reads_runs_and_the_published_value(tmp_path):
    """`table2_measured.py table`: mean ± std per (task, method) over the finished runs, the
    seconds per step, and the built-in task's published value beside the measured one."""
    for seed, acc in ((0, 0.10), (1, 0.20)):
        run = tmp_path / "measured-synsigns-to-gtsrb" / "revgrad" / f"r{seed}"
        run.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps({
            "task": "measured-synsigns-to-gtsrb", "method": "revgrad", "seed": seed,
            "target_acc_last": acc, "wall_time_s": 100.0, "steps": 400}))
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "table2_measured.py"),
                           "table", "--runs-dir", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    paper = [p.value for p in load_catalog().task("synsigns-to-gtsrb").published
             if p.method == "revgrad"][0]
    assert (f"| measured-synsigns-to-gtsrb | revgrad | 0,1 | 15.00 ± 7.07 | 10.0 / 20.0 | "
            f"{paper:.2f} | 0.250 |") in done.stdout


def test_validators_overhead_prints_the_ratio(tmp_path):
    args = [sys.executable, str(REPO / "benchmarks" / "validators_overhead.py"), "--repeats",
            "1", "--set", "steps=4", "--set", "eval_every=2", "--set", "pad_samples=0",
            "--out", str(tmp_path / "overhead.json")]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"wall time \(median\) [\d.]+ s with validators, [\d.]+ s without; ratio "
                     r"[\d.]+; the validators' own time: [\d.]+% of a run's wall time",
                     done.stdout), done.stdout
    result = json.loads((tmp_path / "overhead.json").read_text())
    assert len(result["wall_time_s"]["validators"]) == 1 and result["ratio"] > 0
    assert 0 < result["validators_share"][0] < 1


def test_startup_script_times_each_command_and_skips_a_missing_one(tmp_path):
    old = tmp_path / "old"  # a checkout whose dabench has no --version (as before it existed)
    (old / "dabench").mkdir(parents=True)
    (old / "dabench" / "__init__.py").write_text("")
    (old / "dabench" / "__main__.py").write_text(
        "import sys\nsys.exit(2 if '--version' in sys.argv else 0)\n")
    for tree in (REPO, old):
        out = tmp_path / tree.name
        args = [sys.executable, str(REPO / "benchmarks" / "startup.py"), "-n", "1",
                "--tree", str(tree)] + (["--cold"] if tree == REPO else [])
        done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, "OUT": str(out)})
        assert done.returncode == 0, done.stderr[-2000:]
        result = json.loads((out / "startup.json").read_text())
        assert result["tree"] == str(tree.resolve())
        for r in result["commands"].values():
            assert 0 < r["cpu_median_s"] and 0 < r["min_s"] <= r["median_s"] <= r["max_s"]
        names = set(result["commands"])
        if tree == REPO:
            assert names == {"--help", "list-tasks", "--version", "list-tasks (no cache)"}
        else:
            assert names == {"--help", "list-tasks"}
            assert "dabench --version: exit 2 in this checkout; not timed" in done.stdout
