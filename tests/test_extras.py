"""Optional dependencies: the base install runs the embedded task; a missing extra is one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import TINY
from dabench.cli import app
from dabench.errors import DabenchError
from dabench.extras import import_extra

GOLDEN_RUN = Path(__file__).resolve().parent / "golden" / "runs" / "mnist-to-mnistm" / "revgrad"


def missing(monkeypatch, *modules: str) -> None:
    """Make `import module` raise ImportError, as if the extra were not installed."""
    for name in modules:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)


def test_import_extra_names_the_extra(monkeypatch):
    missing(monkeypatch, "decord")
    with pytest.raises(DabenchError) as info:
        import_extra("decord", "video", "decoding videos")
    assert str(info.value) == ("decoding videos needs the 'video' extra: "
                               "pip install 'dabench[video]'")
    assert info.value.exit_code == 3


def test_video_backend_without_the_video_extra(monkeypatch):
    from dabench.data.video.decode import get_backend

    missing(monkeypatch, "decord")
    with pytest.raises(DabenchError, match=r"pip install 'dabench\[video\]'"):
        get_backend()


def test_plot_without_the_plots_extra_is_one_line(monkeypatch):
    missing(monkeypatch, "matplotlib")
    run = next(p for p in sorted(GOLDEN_RUN.iterdir()) if (p / "metrics.jsonl").is_file())
    out = CliRunner().invoke(app, ["plot", "curves", str(run), "--out", "/nonexistent/x.png"])
    assert out.exit_code == 3, out.output
    assert out.stderr.strip().splitlines() == [
        "dabench: error: drawing plots needs the 'plots' extra: pip install 'dabench[plots]'"]


def test_the_embedded_task_needs_no_extra(monkeypatch, tmp_path):
    """What a bare `pip install dabench` has: no decord, no matplotlib, no mlxtend."""
    missing(monkeypatch, "decord", "matplotlib", "mlxtend")
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    out = CliRunner().invoke(app, ["run", "mnist5k-to-mnistm5k", "-m", "source-only", "--runs-dir",
                                   str(tmp_path), *sets])
    assert out.exit_code == 0, out.output
    assert len(list(tmp_path.glob("mnist5k-to-mnistm5k/source-only/*/done"))) == 1
