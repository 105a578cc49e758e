"""The report: a pure function of run records -> leaderboard-style rows -> text.

`aggregate()` groups finished runs by (task, method, config without the seed), takes the mean and
sample standard deviation over seeds of the selected accuracy, and puts the task's published
value beside it. `render()` turns rows into a Rich table, Markdown, CSV or JSON string. Nothing
here trains, and nothing here imports torch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from dabench.config import EXECUTION_KEYS

SELECTIONS = {
    "last": ("target_acc_last", "last evaluation (uses no target labels)"),
    "oracle": ("target_acc_best", "oracle: best target-test accuracy over evaluations "
                                  "(selected with target labels, as TA3N/AMEAN/TLlib report)"),
}
FORMATS = ("table", "md", "csv", "json")
COLUMNS = ("Task", "Dataset", "Metric", "Value", "Model", "n", "±", "Published", "Δ")


@dataclass
class Row:
    task: str  # the leaderboard's task column, e.g. "Domain Adaptation"
    dataset: str  # the leaderboard's dataset column, e.g. "MNIST-to-MNIST-M"
    metric: str
    value: float  # mean over seeds, in %
    model: str
    n: int
    std: Optional[float]  # sample std over seeds (None for n = 1)
    published: Optional[float] = None
    delta: Optional[float] = None
    published_source: str = ""
    benchmark: str = ""  # dabench's task name
    method: str = ""
    recipe: str = ""
    seeds: list[int] = field(default_factory=list)


def config_group(config: dict[str, Any]) -> str:
    """Hash of a run's config without its seed: runs that differ only by seed share it."""
    body = {k: v for k, v in config.items() if k != "seed" and k not in EXECUTION_KEYS}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:6]


def _published(catalog, record: dict[str, Any]):
    if catalog is None or record["task"] not in catalog.tasks:
        return None
    refs = catalog.tasks[record["task"]].published_for(record["method"], record["config"])
    return refs[0] if refs else None


def aggregate(records: list[dict[str, Any]], catalog=None, select: str = "last") -> list[Row]:
    """Finished run records -> one row per (task, method, config group), mean ± std over seeds."""
    key_name = SELECTIONS[select][0]
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        groups.setdefault((rec["task"], rec["model"], config_group(rec["config"])), []).append(rec)
    labels: dict[tuple[str, str], int] = {}
    for task, model, _ in groups:
        labels[(task, model)] = labels.get((task, model), 0) + 1
    order = list(catalog.tasks) if catalog is not None else []
    rows = []
    for (task, model, group), recs in groups.items():
        values = [100.0 * r[key_name] for r in sorted(recs, key=lambda r: r["seed"])]
        first = recs[0]
        mean = statistics.fmean(values)
        pub = _published(catalog, first)
        rows.append(Row(
            task=_board_task(catalog, task), dataset=first.get("title", task),
            metric="Accuracy (%)", value=mean,
            model=model if labels[(task, model)] == 1 else f"{model} #{group}",
            n=len(values), std=statistics.stdev(values) if len(values) > 1 else None,
            published=pub.value if pub else None, delta=mean - pub.value if pub else None,
            published_source=pub.source if pub else "", benchmark=task, method=first["method"],
            recipe=first.get("recipe", ""), seeds=sorted(r["seed"] for r in recs),
        ))
    rank = {name: i for i, name in enumerate(order)}
    method_rank = {"source-only": 0, "revgrad": 1, "target-only": 2}
    rows.sort(key=lambda r: (rank.get(r.benchmark, len(rank)), r.benchmark,
                             method_rank.get(r.method, 3), r.model))
    return rows


def gap_notes(rows: list[Row]) -> list[str]:
    """Per task with source-only, RevGrad and target-only rows: the share of the source-only ->
    target-only gap that RevGrad closes, beside the same share computed from published values."""
    notes = []
    by_task: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_task.setdefault(r.benchmark, {}).setdefault(r.method, r)
    for task, m in by_task.items():
        if not {"source-only", "revgrad", "target-only"} <= set(m):
            continue
        lo, mid, hi = m["source-only"], m["revgrad"], m["target-only"]
        if hi.value == lo.value:
            continue
        text = (f"{mid.dataset}: {mid.model} closes {100 * (mid.value - lo.value) / (hi.value - lo.value):.0f}% "
                "of the source-only -> target-only gap")
        if None not in (lo.published, mid.published, hi.published) and hi.published != lo.published:
            paper = 100 * (mid.published - lo.published) / (hi.published - lo.published)
            text += f" (published: {paper:.0f}%)"
        notes.append(text + ".")
    return notes


def _board_task(catalog, task: str) -> str:
    if catalog is not None and task in catalog.tasks:
        return catalog.tasks[task].leaderboard_task
    return "Domain Adaptation"


def _fmt(value: Optional[float], signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _cells(row: Row) -> list[str]:
    return [row.task, row.dataset, row.metric, _fmt(row.value), row.model, str(row.n),
            _fmt(row.std), _fmt(row.published), _fmt(row.delta, signed=True)]


def title(select: str) -> str:
    return f"Target accuracy (%), model selection: {SELECTIONS[select][1]}"


FOOTER = ("n = seeds; ± = sample standard deviation over the n seeds (— for n = 1); "
          "Δ = Value − Published.")


def _record(row: Row, select: str) -> dict[str, Any]:
    """A row as a plain dict for JSON/CSV, floats rounded to 4 decimals (stable output)."""
    out = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(row).items()}
    return {**out, "selection": select}


def render(rows: list[Row], fmt: str, select: str = "last", notes: list[str] = ()) -> str:
    """Rows -> text in one of FORMATS (json and csv carry every field, for scripts)."""
    if fmt == "json":
        return json.dumps([_record(r, select) for r in rows], indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        names = [*Row.__dataclass_fields__, "selection"]
        writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({**_record(r, select), "seeds": " ".join(map(str, r.seeds))})
        return buf.getvalue()
    footer = [FOOTER, *gap_notes(rows), *notes]
    if fmt == "md":
        lines = [f"**{title(select)}**", "", "| " + " | ".join(COLUMNS) + " |",
                 "|" + "|".join("---" for _ in COLUMNS) + "|"]
        lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
        return "\n".join(lines + [""] + [f"_{line}_" for line in footer]) + "\n"
    return _rich_table(rows, select, footer)


def _rich_table(rows: list[Row], select: str, footer: list[str]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title(select), caption="\n".join(footer), caption_justify="left")
    for col in COLUMNS:
        table.add_column(col, justify="right" if col in {"Value", "n", "±", "Published", "Δ"}
                         else "left")
    for r in rows:
        table.add_row(*_cells(r))
    console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.export_text()
