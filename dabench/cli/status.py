"""`dabench status`: per task and method, how many runs are done, running, failed, pending."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from dabench.cli.app import app


class StatusFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def status(
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir",
                                            help="results folder [default: $DABENCH_RUNS or ./runs]"),
    fmt: StatusFormat = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Show the state of every run in the runs folder (read-only).

    Running runs show their host, pid, last heartbeat and step; failed runs their one-line
    reason; pending runs are planned (by a launcher) or stopped and resumable.

    Examples:

      dabench status

      dabench status --runs-dir /shared/runs --format json
    """
    from dabench.runs import store
    from dabench.runs.status import collect, render_text, summarize

    root = store.runs_root(runs_dir)
    rows = summarize(collect(root))
    if fmt is StatusFormat.json:
        typer.echo(json.dumps({"runs_dir": str(root), "tasks": rows}, indent=2))
    else:
        typer.echo(render_text(rows, root), nl=False)
