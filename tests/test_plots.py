"""`dabench plot`: curves and t-SNE figures from hand-made run folders (no training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from dabench.reporting import plots
from dabench.errors import DabenchError
from dabench.cli.plot import plot_app
from dabench.reporting.plots import find_before, plot_curves, plot_features

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = {"revgrad": "RevGrad", "source-only": "Source only", "ta3n": "TA3N"}


def make_run(root: Path, task: str = "mnist5k-to-mnistm5k", method: str = "revgrad", seed: int = 0,
             run_id: str | None = None, *, domain_terms: tuple[str, ...] = ("domain_feature",),
             done: bool = True, features: bool = True, n: int = 40, dim: int = 16,
             config: dict | None = None, steps: int = 40) -> Path:
    """A run folder as `dabench run` writes it, with made-up numbers."""
    run_id = run_id or f"{method[:3]}{seed}{abs(hash((task, method, seed))) % 10**6:06d}"
    directory = root / task / method / run_id
    directory.mkdir(parents=True)
    flat = {"method": method, "seed": seed, "task": task, "steps": steps, "optim.lr": 0.01,
            **(config or {})}
    (directory / "config.json").write_text(json.dumps(
        {"task": task, "task_version": 1, "method": method, "seed": seed, "run_id": run_id,
         "config": flat}))
    rng = np.random.default_rng(seed)
    lines = []
    for step in range(10, steps + 1, 10):
        terms = {k: 0.69 - 0.001 * step for k in domain_terms if method != "source-only"}
        cls = 2.3 / (1 + step / 20)
        lines.append({"step": step, "kind": "train", "cls": cls, **terms,
                      "loss": cls + sum(terms.values()), "lambda": 1 - np.exp(-step / 10),
                      "lr": 0.01 / (1 + step) ** 0.75})
        if step % 20 == 0:
            acc = 0.1 + step / 100 + 0.01 * rng.random()
            lines.append({"step": step, "kind": "eval", "target_acc": acc,
                          "source_acc": min(1.0, acc + 0.2), "target_correct": int(1000 * acc),
                          "target_total": 1000})
    (directory / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if features:
        shift = 0.0 if method == "source-only" else 3.0
        np.savez_compressed(
            directory / "features.npz",
            source_features=rng.normal(0, 1, (n, dim)).astype(np.float16),
            source_labels=rng.integers(0, 10, n),
            target_features=rng.normal(3.0 - shift, 1, (n + 3, dim)).astype(np.float16),
            target_labels=rng.integers(0, 10, n + 3))
    if done:
        (directory / "result.json").write_text(json.dumps(
            {"task": task, "method": method, "model": MODELS.get(method, method), "seed": seed,
             "title": "MNIST-to-MNIST-M", "target_acc_last": 0.5, "pad": 1.2,
             "run_id": run_id, "status": "done"}))
        (directory / "done").write_text("")
    return directory


def check_png(path: Path, size: tuple[int, int]) -> None:
    assert path.is_file()
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == size
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list:
    """The figures plots would save (the files are still written)."""
    figures = []
    save = plots._save

    def spy(fig, out):
        figures.append(fig)
        return save(fig, out)

    monkeypatch.setattr(plots, "_save", spy)
    return figures


# ---------------------------------------------------------------------------- curves


def test_plot_curves_writes_png(tmp_path: Path, captured: list) -> None:
    runs = [make_run(tmp_path / "runs", method="revgrad", seed=s) for s in (0, 1)]
    runs.append(make_run(tmp_path / "runs", method="source-only", seed=0))
    runs.append(make_run(tmp_path / "runs", task="ucf-to-hmdb", method="ta3n",
                         domain_terms=("domain_frame", "domain_video", "domain_relation")))
    out = plot_curves(runs, tmp_path / "figs" / "curves.png")
    assert out == tmp_path / "figs" / "curves.png"
    check_png(out, (1200, 800))

    (fig,) = captured
    acc, loss, lam, lr = fig.axes[:4]
    assert "accuracy" in acc.get_title() and "loss" in loss.get_title()
    assert "lambda" in lam.get_title() and "learning rate" in lr.get_title()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["mnist5k-to-mnistm5k RevGrad seed 0", "mnist5k-to-mnistm5k RevGrad seed 1",
                      "mnist5k-to-mnistm5k Source only seed 0", "ucf-to-hmdb TA3N seed 0"]
    data = [line for line in loss.lines if len(line.get_xdata())]
    # cls for 4 runs + domain_feature for 2 revgrad runs + 3 TA3N domain terms
    assert len(data) == 4 + 2 + 3
    styles = {t.get_text() for t in loss.get_legend().get_texts()}
    assert styles == {"cls", "domain_feature", "domain_frame", "domain_relation", "domain_video"}
    target = [line for line in acc.lines if line.get_linestyle() == "-"]
    assert len(target) == 4 and list(target[0].get_xdata()) == [20.0, 40.0]
    assert 10 < target[0].get_ydata()[0] < 100  # shown in percent
    assert len([line for line in lam.lines if len(line.get_xdata()) == 4]) == 4


def test_plot_curves_same_label_gets_run_id(tmp_path: Path, captured: list) -> None:
    a = make_run(tmp_path, run_id="aaa111", config={"steps": 40})
    b = make_run(tmp_path, run_id="bbb222", config={"optim.lr": 0.1})
    plot_curves([a, b, a], tmp_path / "c.png")  # a duplicate argument is drawn once
    labels = [t.get_text() for t in captured[0].legends[0].get_texts()]
    assert labels == ["mnist5k-to-mnistm5k RevGrad seed 0 (aaa111)",
                      "mnist5k-to-mnistm5k RevGrad seed 0 (bbb222)"]


def test_plot_curves_other_formats_and_replaces_atomically(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs")
    pdf = plot_curves([run], tmp_path / "c.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    out = tmp_path / "c.png"
    out.write_bytes(b"old")
    plot_curves([run], out)
    check_png(out, (1200, 800))
    with pytest.raises(DabenchError, match=r"\.png, \.pdf or \.svg"):
        plot_curves([run], tmp_path / "c.jpeg")


def test_failed_save_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    def broken(self, *a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken)
    out = tmp_path / "curves.png"
    out.write_bytes(b"old")
    with pytest.raises(DabenchError, match="cannot write .*No space left"):
        plot_curves([make_run(tmp_path / "runs")], out)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "runs"]


# ---------------------------------------------------------------------------- errors


def test_error_not_a_run_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "empty", tmp_path / "missing", tmp_path):
        with pytest.raises(DabenchError, match="is not a run folder"):
            plot_curves([path], tmp_path / "c.png")
        with pytest.raises(DabenchError, match="is not a run folder"):
            plot_features(path, tmp_path / "f.png")
    with pytest.raises(DabenchError, match="no runs to plot"):
        plot_curves([], tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "f.png").exists()


def test_error_unfinished_and_failed(tmp_path: Path) -> None:
    run = make_run(tmp_path, done=False)
    with pytest.raises(DabenchError, match="unfinished .*dabench run"):
        plot_curves([run], tmp_path / "c.png")
    with pytest.raises(DabenchError, match="unfinished"):
        plot_features(run, tmp_path / "f.png")
    (run / "failed.json").write_text("{}")
    with pytest.raises(DabenchError, match="failed .*--force"):
        plot_curves([run], tmp_path / "c.png")
    good = make_run(tmp_path, seed=3)
    with pytest.raises(DabenchError, match="unfinished"):
        plot_features(good, tmp_path / "f.png", before=make_run(tmp_path, seed=4, done=False))


def test_error_missing_or_bad_features(tmp_path: Path) -> None:
    run = make_run(tmp_path, features=False)
    with pytest.raises(DabenchError, match=r"no features\.npz.*proxy_a_distance_items"):
        plot_features(run, tmp_path / "f.png")
    good = make_run(tmp_path, seed=1)
    with pytest.raises(DabenchError, match=r"no features\.npz.*proxy_a_distance_items"):
        plot_features(good, tmp_path / "f.png", before=run)
    np.savez(run / "features.npz", source_features=np.zeros((5, 4), np.float16))
    with pytest.raises(DabenchError, match="lacks source_labels, target_features"):
        plot_features(run, tmp_path / "f.png")
    for broken in (b"", b"PK\x03\x04 truncated zip", b"not an npz"):
        (run / "features.npz").write_bytes(broken)
        with pytest.raises(DabenchError, match=r"cannot read .*features\.npz"):
            plot_features(run, tmp_path / "f.png")
    bad = np.full((6, 4), np.inf, np.float16)
    np.savez(run / "features.npz", source_features=bad, source_labels=np.zeros(6),
             target_features=bad, target_labels=np.zeros(6))
    with pytest.raises(DabenchError, match="NaN or infinite"):
        plot_features(run, tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()
    with pytest.raises(DabenchError, match="max_points"):
        plot_features(good, tmp_path / "f.png", max_points=1)


# ---------------------------------------------------------------------------- features


def test_plot_features_single_panel(tmp_path: Path, captured: list) -> None:
    run = make_run(tmp_path / "runs", n=60)
    out = plot_features(run, tmp_path / "features.png", max_points=50)
    check_png(out, (600, 600))
    (ax,) = captured[0].axes
    assert ax.get_title() == "RevGrad, target acc 50.0%"
    points = ax.collections[0]
    assert len(points.get_offsets()) == 50 + 50  # at most max_points per domain
    colours = {tuple(np.round(c[:3], 3)) for c in points.get_facecolors()}
    assert len(colours) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["source (50)", "target (50)"]


def test_plot_features_before_after(tmp_path: Path, captured: list) -> None:
    root = tmp_path / "runs"
    before = make_run(root, method="source-only", n=30)
    after = make_run(root, method="revgrad", n=30)
    out = plot_features(after, tmp_path / "f.png", before=before)
    check_png(out, (1200, 600))
    left, right = captured[0].axes
    assert left.get_title().startswith("before adaptation: Source only")
    assert right.get_title().startswith("after adaptation: RevGrad")
    assert "MNIST-to-MNIST-M seed 0" in captured[0].get_suptitle()


def test_plot_features_tiny_sets(tmp_path: Path) -> None:
    run = make_run(tmp_path, n=3)  # 3 source + 6 target items: perplexity adapted
    check_png(plot_features(run, tmp_path / "f.png"), (600, 600))
    assert plots.tsne_perplexity(1000) == 30.0 and plots.tsne_perplexity(9) < 9


def test_tsne_is_deterministic() -> None:
    x = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    a, b = plots.embed_tsne(x, seed=0), plots.embed_tsne(x, seed=0)
    assert a.shape == (40, 2) and np.allclose(a, b)
    assert not plots.embed_tsne(np.ones((10, 4)), seed=0).any()  # constant: no crash
    with pytest.raises(DabenchError, match="at least 4"):
        plots.embed_tsne(x[:3])


# ---------------------------------------------------------------------------- find_before


def test_find_before_picks_same_task_and_seed(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root, method="revgrad", seed=1, config={"steps": 40})
    make_run(root, method="source-only", seed=0)
    want = make_run(root, method="source-only", seed=1, run_id="want01")
    make_run(root, method="source-only", seed=1, run_id="zz_unfinished", done=False)
    make_run(root, method="source-only", seed=1, run_id="zz_nofeatures", features=False)
    make_run(root, task="mnist-to-digits", method="source-only", seed=1)
    assert find_before(run) == want.resolve()

    # two candidates: the config closer to the run's wins, whatever their ages
    closer = make_run(root, method="source-only", seed=1, run_id="closer",
                      config={"optim.lr": 0.01})
    farther = make_run(root, method="source-only", seed=1, run_id="farther",
                       config={"optim.lr": 0.5})
    os.utime(farther / "done", (time.time() + 100, time.time() + 100))
    assert find_before(run) in (want.resolve(), closer.resolve())
    # equally close: the most recently finished
    os.utime(closer / "done", (time.time() + 50, time.time() + 50))
    assert find_before(run) == closer.resolve()


def test_find_before_none(tmp_path: Path) -> None:
    run = make_run(tmp_path, method="revgrad", seed=2)
    make_run(tmp_path, method="source-only", seed=0)
    assert find_before(run) is None
    only = make_run(tmp_path, method="source-only", seed=5)
    assert find_before(only) is None  # a source-only run is not its own "before"


# ---------------------------------------------------------------------------- CLI


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def version() -> None:  # a second command, so "plot" stays a sub-command
        """Stand-in for the main app's commands."""

    app.add_typer(plot_app, name="plot")
    return app


runner = CliRunner()


def test_cli_help_has_examples() -> None:
    out = runner.invoke(cli(), ["plot", "--help"])
    assert out.exit_code == 0 and "dabench plot curves runs/mnist-to-digits/revgrad/*" in out.stdout
    out = runner.invoke(cli(), ["plot", "features", "--help"])
    assert out.exit_code == 0 and "--before auto" in out.stdout and "--out" in out.stdout


def test_cli_curves_and_features(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    before = make_run(root, method="source-only")
    after = make_run(root, method="revgrad")
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(cli(), ["plot", "curves", str(before), str(after)])
    assert out.exit_code == 0, out.output
    assert "wrote curves.png" in out.stdout
    check_png(tmp_path / "curves.png", (1200, 800))

    out = runner.invoke(cli(), ["plot", "features", str(after), "--before", "auto",
                                "--out", str(tmp_path / "figs" / "f.png")])
    assert out.exit_code == 0, out.output
    assert str(before.resolve()) in out.stdout
    check_png(tmp_path / "figs" / "f.png", (1200, 600))

    out = runner.invoke(cli(), ["plot", "features", str(after), "--before", str(before)])
    assert out.exit_code == 0, out.output
    check_png(tmp_path / "features.png", (1200, 600))


def test_cli_errors_raise_dabench_error(tmp_path: Path) -> None:
    lonely = make_run(tmp_path / "runs", seed=7)
    out = runner.invoke(cli(), ["plot", "features", str(lonely), "--before", "auto"])
    assert isinstance(out.exception, DabenchError)
    assert "dabench run mnist5k-to-mnistm5k --method source-only --seed 7" in str(out.exception)
    only = make_run(tmp_path / "runs", method="source-only", seed=7)
    out = runner.invoke(cli(), ["plot", "features", str(only), "--before", "auto"])
    assert "is itself a source-only run" in str(out.exception)
    out = runner.invoke(cli(), ["plot", "curves", str(tmp_path)])
    assert isinstance(out.exception, DabenchError) and "not a run folder" in str(out.exception)
    out = runner.invoke(cli(), ["plot", "curves"])
    assert out.exit_code == 2  # usage error from the parser: RUN is required


def test_importing_is_cheap() -> None:
    code = ("import sys, dabench.reporting.plots, dabench.cli.plot; "
            "print([m for m in ('matplotlib', 'sklearn', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
