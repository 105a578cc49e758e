"""`dabench list-tasks`: the task catalogue as a table or JSON. Imports no torch."""

from __future__ import annotations

import json

import typer

from dabench.cli.app import _choices, app

ListFormat = _choices("ListFormat", ("table", "json"))


@app.command("list-tasks")
def list_tasks(fmt: ListFormat = typer.Option("table", "--format", "-f",
                                              help="table or json")) -> None:
    """List the benchmark tasks and suites.

    Example: dabench list-tasks --format json
    """
    from dabench.tasks.catalog import load_catalog

    catalog = load_catalog()
    summaries = [spec.summary() for spec in catalog.tasks.values()]
    if fmt.value == "json":
        typer.echo(json.dumps(summaries, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dabench tasks")
    for col in ("Task", "Dataset", "Source -> Target(s)", "Classes", "Modality"):
        table.add_column(col)
    for s in summaries:
        table.add_row(s["name"], s["dataset"], f"{s['source']} -> {', '.join(s['targets'])}",
                      str(s["num_classes"]), s["modality"])
    console = Console()
    console.print(table)
    for name, members in catalog.suites.items():
        console.print(f"suite [bold]{name}[/bold]: {' '.join(members)}")
