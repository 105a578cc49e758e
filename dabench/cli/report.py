"""`dabench report`: the leaderboard-style table of the finished runs (reads the runs folder only)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dabench.cli.app import _choices, app
from dabench.errors import DabenchError
from dabench.reporting.aggregate import SELECTIONS, VIEWS
from dabench.reporting.render import REPORT_FORMATS

ReportFormat = _choices("ReportFormat", (*REPORT_FORMATS, "html"))
View = _choices("View", VIEWS)
Select = _choices("Select", tuple(SELECTIONS))


@app.command()
def report(
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir",
                                            help="results folder [default: $DABENCH_RUNS or ./runs]"),
    fmt: ReportFormat = typer.Option("table", "--format", "-f",
                                     help="table, md, csv, json, latex or html (one "
                                          "self-contained page with figures)"),
    select: Select = typer.Option("last", "--select",
                                  help="last (no target labels), oracle (best target epoch and "
                                  "configuration), source-val (held-out source accuracy), "
                                  "reverse (reverse validation; these two need runs with "
                                  "selection.holdout, and selection.reverse), or a label-free "
                                  "validator scored at every evaluation: entropy, im "
                                  "(information maximisation), bnm (batch nuclear norm), snd "
                                  "(soft neighbourhood density), dev (deep embedded "
                                  "validation); see docs/selection.md"),
    view: View = typer.Option("auto", "--view", help="leaderboard (the public rows), suite "
                              "(tasks as columns + Avg), runs (one row per model and task), "
                              "selection (every rule's pick, the oracle, the gap and the "
                              "Spearman correlation per task, and their mean); "
                              "auto: leaderboard when its runs exist, else runs"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write to this file"),
) -> None:
    """Print the leaderboard-style table of the finished runs in the results folder.

    Examples:

      dabench report

      dabench report --format md --select oracle --out results.md

      dabench report --view suite --format latex

      dabench report --select snd

      dabench report --view selection --format md

      dabench report --format html --out report.html
    """
    from dabench.api import report_tables
    from dabench.reporting.render import render
    from dabench.runs import store as results

    root = results.runs_root(runs_dir)
    if out is not None:
        _check_out(out, root)
    damaged: list[str] = []
    if fmt.value == "html":  # the page links the run folders relative to where it is written
        from dabench.api import check_selectable, failure_notes, load_runs
        from dabench.reporting.html import page
        from dabench.tasks.catalog import load_catalog

        records, unfinished, failed = load_runs(root, damaged)
        check_selectable(records, select.value)
        text = page(records, load_catalog(), select.value, root=root, view=view.value,
                    out_dir=out.parent if out else Path.cwd(), unfinished=unfinished,
                    notes=[*failure_notes(failed), *(f"SKIPPED: {line}" for line in damaged)])
    else:  # the same tables as dabench.report(...)
        tables, unfinished, failed = report_tables(root, select.value, view.value,
                                                   damaged=damaged)
        text = render(tables, fmt.value)
    for line in damaged:  # named and skipped; the other runs are reported
        typer.echo(f"dabench: warning: {line}", err=True)
    if unfinished:
        typer.echo(f"skipped {unfinished} unfinished run(s) in {root}"
                   f"{f', {len(failed)} of them failed' if failed else ''}", err=True)
    if out:
        from dabench.runs.store import write_atomic

        try:
            write_atomic(out, text)
        except OSError as exc:
            raise DabenchError(f"cannot write {out} ({exc.strerror}); choose another --out") from None
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text, nl=False)


def _check_out(out: Path, root: Path) -> None:
    """`--out` must not be a folder, nor a file inside a run folder (a report written over a
    run's result.json would turn that run into a damaged one)."""
    if out.is_dir():
        raise DabenchError(f"--out {out} is a folder; give a file name, e.g. --out "
                           f"{out / 'report.html'}")
    target, runs = out.resolve(), root.resolve()
    if target.is_relative_to(runs) and len(target.relative_to(runs).parts) > 3:
        run = runs.joinpath(*target.relative_to(runs).parts[:3])
        raise DabenchError(f"--out {out} is inside the run folder {run}; writing there would "
                           "overwrite or add to that run's files: write the report outside the "
                           "run folders")
