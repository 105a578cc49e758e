"""Tables -> text: a Rich table, Markdown, CSV, JSON or LaTeX (booktabs). Pure functions."""

from __future__ import annotations

import csv
import io
import json

from dabench.reporting.aggregate import Table

REPORT_FORMATS = ("table", "md", "csv", "json", "latex")


def render(tables: list[Table], fmt: str) -> str:
    """All tables in one string; JSON and CSV carry the plain records (every field)."""
    if fmt == "json":
        return json.dumps([rec for t in tables for rec in t.records], indent=2) + "\n"
    if fmt == "csv":
        return "\n".join(_csv(t) for t in tables)
    one = {"md": _markdown, "latex": _latex, "table": _rich}[fmt]
    return "\n".join(one(t) for t in tables)


def _csv(table: Table) -> str:
    buf = io.StringIO()
    names = list(dict.fromkeys(k for rec in table.records for k in rec))
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for rec in table.records:
        writer.writerow({k: " ".join(map(str, v)) if isinstance(v, list) else v
                         for k, v in rec.items()})
    return buf.getvalue()


def _markdown(table: Table) -> str:
    lines = [f"**{table.title}**", "", "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table.cells]
    return "\n".join(lines + [""] + [f"_{note}_" for note in table.notes]) + "\n"


_TEX = str.maketrans({"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "±": r"$\pm$",
                      "Δ": r"$\Delta$", "—": "---", "→": r"$\to$", "$": r"\$"})


def _latex(table: Table) -> str:
    spec = "l" * (len(table.columns))
    lines = [r"\begin{table}[t]", r"\centering", f"\\caption{{{table.title.translate(_TEX)}}}",
             f"\\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(c.translate(_TEX) for c in table.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(c.translate(_TEX) for c in row) + r" \\" for row in table.cells]
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [f"\\par\\footnotesize {note.translate(_TEX)}" for note in table.notes]
    return "\n".join(lines + [r"\end{table}"]) + "\n"


def _rich(table: Table) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table as RichTable

    out = RichTable(title=escape(table.title), caption=escape("\n".join(table.notes)),
                    caption_justify="left")
    for col in table.columns:
        numeric = col in {"Value", "n", "±", "Published", "Δ", "Avg", "PAD"}
        out.add_column(col, justify="right" if numeric else "left")
    for row in table.cells:
        out.add_row(*(escape(c) for c in row))
    console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
    console.print(out)
    return console.export_text()
