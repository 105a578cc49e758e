"""The report as one self-contained HTML page (`dabench report --format html`).

A pure function of the run records (and of where the page is written, for relative links):

    page(records, catalog, select, root=..., out_dir=...) -> str

The page holds the leaderboard (or runs) view and the per-suite tables, built by
`dabench.reporting.aggregate` exactly as the text formats build them, each with the selection
rule in its caption, the published value's source, the environment of its runs and links to the
run folders; then, per task, every run with its environment and files, the training curves and
the t-SNE before/after adaptation with the proxy A-distance. Styles and images are embedded
(data: URIs); the only script is the small inline one that sorts and filters the tables.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence
from urllib.parse import quote

from dabench import __version__
from dabench.analysis.selection import in_run
from dabench.reporting import aggregate, environment, figures
from dabench.reporting.aggregate import SELECTIONS, Table, fmt

ASSETS = Path(__file__).resolve().parent / "assets"
NUMERIC = {"Value", "n", "±", "Published", "Δ", "Avg", "PAD", "Seed", "Accuracy (%)",
           "Source accuracy (%)", "Wall time (s)", "Oracle", "Gap", "ρ", "Candidates"}
RUN_FILES = ("config.json", "result.json", "metrics.jsonl", "features.npz", "failed.json")


def _key(path: str | os.PathLike) -> str:
    return os.path.realpath(path)


class _Page:
    """What the pieces of one page share: the records by folder, their environments, links."""

    def __init__(self, records: list[dict], catalog, select: str, out_dir: Path):
        self.records, self.catalog, self.select = records, catalog, select
        self.out_dir = Path(out_dir)
        self.by_dir = {_key(r["run_dir"]): r for r in records if r.get("run_dir")}
        self.envs = {k: environment.run_environment(r, catalog) for k, r in self.by_dir.items()}

    def href(self, path: str | os.PathLike, trail: str = "") -> str:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(self.out_dir))
        return escape(quote(Path(rel).as_posix()) + trail)

    def run_links(self, run_dirs: Sequence[str]) -> str:
        links = []
        tasks = {self.by_dir.get(_key(d), {}).get("task") for d in run_dirs}
        for d in sorted(run_dirs, key=self._order):  # label by task where the row spans several
            rec = self.by_dir.get(_key(d), {})
            who = rec.get("task" if len(tasks) > 1 else "method", "")
            label = f"{who} s{rec.get('seed', '?')}"
            links.append(f'<a href="{self.href(d, "/")}" title="{escape(Path(d).name)}">'
                         f"{escape(label)}</a>")
        return " ".join(links) or "—"

    def _order(self, run_dir: str) -> tuple:
        rec = self.by_dir.get(_key(run_dir), {})
        return rec.get("task", ""), rec.get("method", ""), rec.get("seed", 0), run_dir

    def env_text(self, run_dirs: Sequence[str]) -> str:
        return environment.summary(self.envs[_key(d)] for d in run_dirs if _key(d) in self.envs)


def _cell(column: str, text: str) -> str:
    classes = []
    if column in NUMERIC:
        classes.append("num")
    if column == "Value":
        classes.append("value")
    if column == "Δ" and text[:1] in "+-":
        classes.append("pos" if text.startswith("+") else "neg")
    cls = f' class="{" ".join(classes)}"' if classes else ""
    return f'<td data-col="{escape(column)}"{cls}>{escape(text)}</td>'


def _published_source(rec: dict[str, Any], shown: Sequence[str]) -> str:
    """The published value's source, and any other published_* detail a row carries (e.g. the
    paper's selection rule) that its cells do not already show."""
    parts = [str(rec.get("published_source") or "")]
    parts += [f"{k.removeprefix('published_').replace('_', ' ')}: {v}" for k, v in rec.items()
              if k.startswith("published_") and k != "published_source"
              and v not in (None, "") and str(v) not in shown]
    return "; ".join(p for p in parts if p) or "—"


def table_html(table: Table, ctx: _Page, table_id: str) -> str:
    """One report table: its columns and cells as built, then the source of the published value
    (where the view has one), the runs behind the row (links) and their environment."""
    sourced = bool(table.records) and "published_source" in table.records[0]
    extra = (["Published source"] if sourced else []) + ["Runs", "Environment"]
    head = "".join(f"<th>{escape(c)}</th>" for c in [*table.columns, *extra])
    rows = []
    for i, cells in enumerate(table.cells):
        runs = table.row_runs[i] if i < len(table.row_runs) else []
        tds = [_cell(c, t) for c, t in zip(table.columns, cells)]
        if sourced:
            tds.append(f'<td data-col="Published source" class="src">'
                       f"{escape(_published_source(table.records[i], cells))}</td>")
        tds.append(f'<td data-col="Runs" class="links">{ctx.run_links(runs)}</td>')
        tds.append(f'<td data-col="Environment" class="env">{escape(ctx.env_text(runs))}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return _figure_table(table_id, table.title, head, rows, table.notes)


def _figure_table(table_id: str, title: str, head: str, rows: list[str],
                  notes: Iterable[str]) -> str:
    name, _, rule = title.partition(", model selection: ")
    caption = escape(name) + (f'<span class="rule">model selection: {escape(rule)}</span>'
                              if rule else "")
    notes_html = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return (f'<div class="table-wrap"><table class="sortable" id="{escape(table_id)}">'
            f"<caption>{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
            + (f'<ul class="notes">{notes_html}</ul>' if notes_html else ""))


def _task_runs_table(task: str, recs: list[dict], ctx: _Page) -> str:
    rule = SELECTIONS[ctx.select][1]
    columns = ["Run", "Model", "Seed", "Accuracy (%)", "Source accuracy (%)", "PAD", "Device",
               "Versions", "Git", "Recipe", "Settings ≠ defaults", "Wall time (s)", "Files"]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    rows = []
    for rec in sorted(recs, key=lambda r: (r.get("model", ""), r.get("seed", 0))):
        d = rec.get("run_dir", "")
        env = ctx.envs.get(_key(d)) if d else environment.run_environment(rec, ctx.catalog)
        pick = in_run(rec, ctx.select)  # within the run: what the rule picks (no sweep choice)
        acc, src = pick[1] if pick else None, rec.get("source_acc_last")
        texts = [str(rec.get("model", "")), str(rec.get("seed", "")),
                 fmt(100 * acc if isinstance(acc, (int, float)) else None),
                 fmt(100 * src if isinstance(src, (int, float)) else None),
                 fmt(rec.get("pad")), env.device, env.versions_text(), env.git_commit or "—",
                 env.recipe or "—", env.settings_text(),
                 "—" if env.wall_time_s is None else f"{env.wall_time_s:.0f}"]
        files = [f'<a href="{ctx.href(Path(d) / f)}">{f}</a>' for f in RUN_FILES
                 if d and (Path(d) / f).is_file()]
        run = (f'<a href="{ctx.href(d, "/")}">{escape(str(rec.get("run_id") or Path(d).name))}'
               "</a>") if d else "—"
        rows.append(f'<tr><td data-col="Run">{run}</td>'
                    + "".join(_cell(c, t) for c, t in zip(columns[1:], texts))
                    + f'<td data-col="Files" class="links">{" ".join(files) or "—"}</td></tr>')
    title = f"Runs of {task}, target accuracy (%), model selection: {rule}"
    notes = ["Settings ≠ defaults: the run's settings that differ from what `dabench run "
             f"{task}` resolves today under the run's recipe; PAD: proxy A-distance."]
    return _figure_table(f"runs-{task}", title, head, rows, notes)


def _figure_html(fig: figures.Figure, ctx: _Page) -> str:
    if fig.error:
        body = f'<p class="error">no figure: {escape(fig.error)}</p>'
    else:
        body = f'<img src="{fig.uri}" alt="{escape(fig.title)}">'
    runs = ctx.run_links(fig.runs)
    caption = f"{escape(fig.title)}. {escape(fig.caption)} Runs: {runs}"
    return f"<figure>{body}<figcaption>{caption}</figcaption></figure>"


def _task_section(task: str, recs: list[dict], ctx: _Page, with_figures: bool) -> str:
    spec = ctx.catalog.tasks.get(task) if ctx.catalog is not None else None
    title = spec.title if spec else str(recs[0].get("title") or task)
    where = (f"{spec.dataset}: {spec.source.name} → {', '.join(t.name for t in spec.targets)}"
             if spec else str(recs[0].get("dataset") or ""))
    parts = [f'<section class="task" id="task-{escape(task)}">',
             f"<h3>{escape(title)} <small>{escape(task)} · {escape(where)}</small></h3>",
             _task_runs_table(task, recs, ctx)]
    if with_figures:
        curves = figures.curves_figure([r["run_dir"] for r in sorted(recs, key=_by_seed)
                                        if r.get("run_dir")])
        parts.append(_figure_html(curves, ctx) if curves else
                     '<p class="muted">No training curves: no run of this task has lines in '
                     "metrics.jsonl.</p>")
        tsne = figures.tsne_figures(recs, ctx.by_dir)
        parts += [_figure_html(f, ctx) for f in tsne] or [
            '<p class="muted">No t-SNE: no adapted run of this task stored features.npz.</p>']
    return "\n".join(parts + ["</section>"])


def _by_seed(rec: dict) -> tuple:
    return rec.get("seed", 0), rec.get("model", ""), rec.get("run_dir", "")


def _tasks_in_order(records: list[dict], catalog) -> dict[str, list[dict]]:
    order = {name: i for i, name in enumerate(catalog.tasks)} if catalog is not None else {}
    out: dict[str, list[dict]] = {}
    for rec in sorted(records, key=lambda r: (order.get(r["task"], len(order)), r["task"])):
        out.setdefault(rec["task"], []).append(rec)
    return out


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def page(records: list[dict], catalog, select: str = "last", *, root: Path, out_dir: Path,
         view: str = "auto", notes: Sequence[str] = (), unfinished: int = 0,
         with_figures: bool = True, title: Optional[str] = None) -> str:
    """The whole page. `root` is the runs folder, `out_dir` the folder the page is written to
    (links are relative to it, so page and runs folder can be copied together)."""
    ctx = _Page(records, catalog, select, out_dir)
    view = aggregate.resolve_view(records, catalog, select, view)
    board = aggregate.resolve_view(records, catalog, select, "auto") == "leaderboard"
    order = [view] + [v for v in ("leaderboard", "runs", "suite")  # an empty board adds nothing
                      if v != view and (board or v != "leaderboard")]
    tables = [t for v in order for t in aggregate.build(records, catalog, select, v,
                                                        list(notes) if v == view else [])]
    tasks = _tasks_in_order(records, catalog)
    heading = title or "dabench report"
    skipped = f"; {unfinished} unfinished or failed run folder(s) skipped" if unfinished else ""
    nav = " ".join(f'<a href="#task-{escape(t)}">{escape(t)}</a>' for t in tasks)
    body = [
        f"<h1>{escape(heading)}</h1>",
        f'<p class="muted">{len(records)} finished run(s) in <a href="{ctx.href(root, "/")}">'
        f"{escape(Path(root).name or str(root))}</a>{escape(skipped)}. Model selection: "
        f"{escape(SELECTIONS[select][1])}. Made by dabench {escape(__version__)} from the runs "
        "folder alone.</p>",
        '<input id="filter" type="search" placeholder="Filter rows (e.g. RevGrad mnist)" '
        'aria-label="filter rows">',
        f"<nav>Tasks: {nav}</nav>",
        "<h2 id=\"tables\">Results</h2>",
        *[table_html(t, ctx, f"table-{i}") for i, t in enumerate(tables)],
        '<h2 id="tasks">Per task: runs, environment, curves, features</h2>',
        *[_task_section(t, recs, ctx, with_figures) for t, recs in tasks.items()],
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(heading)}</title><style>{_asset('report.css')}</style></head>\n"
            "<body>\n" + "\n".join(body) + f"\n<script>{_asset('report.js')}</script>\n"
            "</body></html>\n")
