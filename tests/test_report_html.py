"""`dabench report --format html`: one self-contained page, checked in a real headless browser.

The browser test opens the page of the golden runs folder (tests/golden/runs) in Debian's
Chromium (`apt-get install chromium`; or $DABENCH_CHROMIUM), compares its table cells with
`report --format json`, checks that every image decodes, that sorting and filtering work, and
saves a screenshot under $DABENCH_TEST_ARTIFACTS (default ./test-artifacts), printed by the test.
Without a browser it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from typer.testing import CliRunner

from dabench.cli import app
from dabench.reporting.aggregate import fmt
from dabench.reporting.environment import run_environment, summary
from dabench.reporting.html import page
from dabench.runs.store import load_records
from dabench.tasks.catalog import load_catalog

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
runner = CliRunner()


class Dom(HTMLParser):
    """Tables (by id: caption, header, rows of (column, text, hrefs, hidden)) and images."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.images: list[dict] = []
        self.links: list[str] = []
        self._table = self._row = self._cell = None
        self._caption = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", ""), {"caption": "", "head": [],
                                                                   "rows": []})
        elif tag == "caption":
            self._caption = True
        elif tag == "tr" and self._table is not None:
            self._row = {"cells": [], "hidden": "hidden" in a}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"col": a.get("data-col"), "text": "", "hrefs": [], "tag": tag}
        elif tag == "img":
            self.images.append(a)
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
            if self._cell is not None:
                self._cell["hrefs"].append(a["href"])

    def handle_endtag(self, tag):
        if tag == "caption":
            self._caption = False
        elif tag in ("td", "th") and self._cell is not None:
            self._cell["text"] = self._cell["text"].strip()
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            cells = self._row["cells"]
            if cells and cells[0]["tag"] == "th":
                self._table["head"] = [c["text"] for c in cells]
            else:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        elif self._caption and self._table is not None:
            self._table["caption"] += data


def cells(row: dict) -> dict[str, dict]:
    return {c["col"]: c for c in row["cells"]}


def check_board_table(table: dict, records: list[dict]) -> None:
    """A leaderboard/runs-view table against the JSON records of the same view, row by row."""
    assert len(table["rows"]) == len(records) > 0
    for row, rec in zip(table["rows"], records):
        c = cells(row)
        assert c["Dataset"]["text"].startswith(rec["dataset"])
        assert c["Model"]["text"] == rec["model"] and c["n"]["text"] == str(rec["n"])
        assert c["Value"]["text"] == fmt(rec["value"]) and c["±"]["text"] == fmt(rec["std"])
        assert c["Published"]["text"] == fmt(rec["published"])
        assert c["Δ"]["text"] == fmt(rec["delta"], signed=True)
        assert c["Published source"]["text"].startswith(rec["published_source"] or "—")
        if "Selected by" in c:  # the published value's selection rule, where the view has it
            assert c["Selected by"]["text"] == (rec.get("published_selection") or "—")
        assert len(c["Runs"]["hrefs"]) == (rec["n"] * len(rec["benchmark"].split()))


def report_json(runs: Path, view: str) -> list[dict]:
    out = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "json",
                              "--view", view])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_leaderboard_page_cells_sources_and_links_match_the_json(tmp_path):
    records, _ = load_records(GOLDEN / "board_runs")
    html = page(records, load_catalog(), "last", root=GOLDEN / "board_runs", out_dir=tmp_path,
                with_figures=False)
    dom = Dom(html)
    board = dom.tables["table-0"]
    assert "model selection: last evaluation" in board["caption"]
    check_board_table(board, report_json(GOLDEN / "board_runs", "leaderboard"))
    office = cells(board["rows"][0])  # Office-31: 3 tasks x 2 seeds, linked relative to the page
    for href in office["Runs"]["hrefs"]:
        assert not href.startswith(("/", "file:", "http")) and (tmp_path / unquote(href)).is_dir()
    assert "AMEAN" in office["Published source"]["text"]
    assert "device" in office["Environment"]["text"]
    assert dom.tables["table-1"]["head"][:4] == ["Task", "Dataset", "Metric", "Value"]  # runs
    assert all("model selection:" in t["caption"] for t in dom.tables.values())
    assert "<script src" not in html and "<link" not in html and "http://" not in html


def test_environment_names_the_settings_that_differ_from_the_defaults():
    from dabench.config import resolve

    records, _ = load_records(GOLDEN / "runs")
    rec = next(r for r in records if r["method"] == "revgrad" and r["seed"] == 1)
    env = run_environment(rec, load_catalog())
    assert env.device == "cpu (sample record)" and env.recipe == "dann-paper"
    assert env.versions_text() == "dabench 0.1.0, python 3.11.7, torch 2.14.1"
    # the sample records carry the paper task's own settings (recipe dann-paper)
    assert env.settings_text() == "defaults"
    task = load_catalog().tasks["mnist-to-mnistm"]
    today = resolve(task, "revgrad", 1, {}).flat()
    same = {**rec, "recipe": today["recipe"], "config": today}
    assert run_environment(same, load_catalog()).settings_text() == "defaults"
    changed = {**same, "config": {**today, "steps": 20, "device": "cuda"}}  # device: execution
    assert run_environment(changed, load_catalog()).settings_text() == "steps=20"
    assert "settings steps=20" in summary([run_environment(changed, load_catalog())])


@pytest.fixture(scope="module")
def golden_page(tmp_path_factory) -> Path:
    """The page of tests/golden/runs written by the CLI, figures included."""
    out = tmp_path_factory.mktemp("html") / "report.html"
    res = runner.invoke(app, ["report", "--runs-dir", str(GOLDEN / "runs"), "--format", "html",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.slow
def test_golden_page_embeds_every_figure_and_links_exist(golden_page):
    text = golden_page.read_text(encoding="utf-8")
    dom = Dom(text)
    # two tasks: curves each; t-SNE for RevGrad on both (before/after where source-only exists)
    assert len(dom.images) == 4
    for img in dom.images:
        assert img["src"].startswith("data:image/png;base64,")
    assert "before adaptation 2.000, after 0.800" in text  # the sample runs' stored PADs
    local = [h for h in dom.links if not h.startswith("#")]
    assert local and all((golden_page.parent / unquote(h)).exists() for h in local)
    assert not [h for h in local if h.startswith(("/", "http", "file:"))]


def browser() -> str | None:
    found = [os.environ.get("DABENCH_CHROMIUM")] + [shutil.which(b) for b in BROWSERS]
    return next((b for b in found if b), None)


CHECK = """<script>
window.addEventListener("load", function () {
  document.querySelectorAll("img").forEach(function (img) {
    img.setAttribute("data-natural-width", img.naturalWidth);
  });
  var table = document.getElementById("table-0");
  var heads = table.tHead.rows[0].cells, col = -1;
  for (var i = 0; i < heads.length; i++) if (heads[i].textContent === "Value") col = i;
  heads[col].click();
  var values = Array.prototype.map.call(table.tBodies[0].rows,
                                        function (r) { return r.cells[col].textContent; });
  document.body.setAttribute("data-sorted", values.join(","));
  var box = document.getElementById("filter");
  box.value = "Digits RevGrad";
  box.dispatchEvent(new Event("input"));
});
</script></body>"""


def run_browser(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--hide-scrollbars", "--no-first-run", f"--user-data-dir={tmp / 'profile'}", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{exe} did not finish within 180 s: {' '.join(cmd)}")


@pytest.mark.slow
def test_golden_page_in_a_headless_browser(golden_page, tmp_path, capsys):
    exe = browser()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set DABENCH_CHROMIUM); "
                    "the browser checks of the HTML report did not run")
    probe = golden_page.with_name("probe.html")
    probe.write_text(golden_page.read_text(encoding="utf-8").replace("</body>", CHECK, 1))
    done = run_browser(exe, tmp_path, "--virtual-time-budget=10000", "--dump-dom",
                       probe.as_uri())
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    dom = Dom(done.stdout)
    widths = [int(img.get("data-natural-width", 0)) for img in dom.images]
    assert len(widths) == 4 and all(w >= 600 for w in widths), widths  # every image decoded

    runs_json = report_json(GOLDEN / "runs", "runs")
    by_value = sorted(runs_json, key=lambda r: r["value"])  # the page sorted table-0 by Value
    check_board_table(dom.tables["table-0"], by_value)
    sorted_attr = re.search(r'<body[^>]*data-sorted="([^"]*)"', done.stdout)
    assert sorted_attr and sorted_attr[1] == ",".join(fmt(r["value"]) for r in by_value)
    shown = [r for r in dom.tables["table-0"]["rows"] if not r["hidden"]]
    assert [cells(r)["Dataset"]["text"] for r in shown] == ["MNIST-to-Digits"]  # the filter

    suite_json = report_json(GOLDEN / "runs", "suite")
    heads = {"digits": ["Model", "MNIST5k-to-MNIST-M5k (embedded demo)", "MNIST-to-Digits"],
             "dann-digits": ["Model", "MNIST-to-MNIST-M", "SynDigits-to-SVHN"]}
    families = list(dict.fromkeys(r["family"] for r in suite_json))
    assert families == list(heads)  # one suite table per family, in the JSON's order
    for i, family in enumerate(families, start=1):
        suite = dom.tables[f"table-{i}"]
        rows = [r for r in suite_json if r["family"] == family]
        tasks = [k for k in rows[0] if k not in ("family", "model", "avg", "pad", "selection")]
        assert suite["head"][:3] == heads[family]
        assert suite["head"][len(tasks) + 1:len(tasks) + 3] == ["Avg", "PAD"]
        assert len(suite["rows"]) == len(rows)
        for row, rec in zip(suite["rows"], rows):
            c = cells(row)
            assert c["Model"]["text"] == rec["model"]
            assert c["Avg"]["text"] == fmt(rec["avg"]) and c["PAD"]["text"] == fmt(rec["pad"])
            for task, title in zip(tasks, suite["head"][1:len(tasks) + 1]):
                assert c[title]["text"].split(" ± ")[0] == fmt(rec[task])
    assert all("model selection:" in t["caption"] for t in dom.tables.values())

    artifacts = Path(os.environ.get("DABENCH_TEST_ARTIFACTS", REPO / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "report-golden.png"
    done = run_browser(exe, tmp_path, "--window-size=1400,2400", f"--screenshot={shot}",
                       golden_page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(shot) as img:
        assert img.size == (1400, 2400) and len(img.getcolors(1 << 16) or range(300)) > 50
    with capsys.disabled():  # shown in the test log even when output is captured
        print(f"\nscreenshot of the golden report page: {shot}")


@pytest.mark.slow
def test_a_damaged_features_file_is_reported_in_place_of_its_figure(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(GOLDEN / "runs" / "mnist-to-digits", runs / "mnist-to-digits")
    (next(runs.glob("mnist-to-digits/revgrad/*")) / "features.npz").write_bytes(b"not a zip")
    records, _ = load_records(runs)
    html = page(records, load_catalog(), "oracle", root=runs, out_dir=tmp_path)
    dom = Dom(html)
    assert len(dom.images) == 1 and "accuracy" in dom.images[0]["alt"].lower()  # curves stay
    assert 'class="error">no figure: cannot read' in html and "features.npz" in html
    assert "model selection: oracle" in dom.tables["table-0"]["caption"]


def test_html_page_lists_a_damaged_run_folder(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(GOLDEN / "board_runs", runs)
    bad = next(runs.glob("office31-a-to-dw/revgrad/*"))
    (bad / "result.json").write_text("{truncated")
    out = tmp_path / "page" / "report.html"
    res = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "html",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert f"SKIPPED: run folder {bad} is damaged: result.json is truncated" in text.replace(
        "&#x27;", "'")
    board = cells(Dom(text).tables["table-0"]["rows"][0])  # Office-31 lost that seed
    assert board["n"]["text"] == "1" and len(board["Runs"]["hrefs"]) == 3


def test_curves_of_a_large_sweep_draw_the_first_runs_and_say_so(tmp_path, monkeypatch):
    from dabench.reporting import figures

    dirs = []
    for i in range(14):
        d = tmp_path / f"run{i:02d}"
        d.mkdir()
        if i != 3:  # a run without metrics lines is not drawn
            (d / "metrics.jsonl").write_text('{"step": 1, "kind": "train", "cls": 1.0}\n')
        dirs.append(str(d))
    drawn = []

    def fake_plot(runs, out):
        drawn.extend(runs)
        Path(out).write_bytes(b"\x89PNG fake")

    monkeypatch.setattr(figures.plots, "plot_curves", fake_plot)
    fig = figures.curves_figure(dirs)
    assert drawn == [d for i, d in enumerate(dirs) if i != 3][:figures.MAX_CURVES] == fig.runs
    assert fig.caption == f"{figures.MAX_CURVES} of the 13 runs with curves are drawn."
    assert fig.uri.startswith("data:image/png;base64,")
    assert figures.curves_figure(dirs[3:4]) is None
