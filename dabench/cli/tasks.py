"""`dabench list-tasks` (also `dabench tasks list`): the task catalogue as a table or JSON;
`dabench tasks schema` and `dabench tasks validate FILE...` for task files. Imports no torch."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dabench.cli.app import _choices, app

ListFormat = _choices("ListFormat", ("table", "json"))


@app.command("list-tasks")
def list_tasks(fmt: ListFormat = typer.Option("table", "--format", "-f",
                                              help="table or json")) -> None:
    """List the benchmark tasks and suites.

    Example: dabench list-tasks --format json
    """
    from dabench.api import list_tasks as summaries_of_tasks
    from dabench.tasks.catalog import load_catalog

    catalog = load_catalog()
    summaries = summaries_of_tasks()
    if fmt.value == "json":
        typer.echo(json.dumps(summaries, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dabench tasks")
    # The names a user types are never cut: the Task column is as wide as the longest name and
    # the other columns wrap (folding long words) to fit the width (80 when not a terminal).
    longest = max((len(s["name"]) for s in summaries), default=4)
    table.add_column("Task", no_wrap=True, min_width=longest, overflow="ignore")
    for col in ("Dataset", "Source -> Target(s)", "Classes", "Modality"):
        table.add_column(col, overflow="fold")
    for s in summaries:
        table.add_row(s["name"], s["dataset"], f"{s['source']} -> {', '.join(s['targets'])}",
                      str(s["num_classes"]), s["modality"])
    console = Console()
    console.print(table)
    for name, members in catalog.suites.items():
        console.print(f"suite [bold]{name}[/bold]: {' '.join(members)}")
    recipes: dict[str, dict] = {}  # dataset -> {recipe: is the default}
    for s in summaries:
        for r in s["recipes"]:
            recipes.setdefault(s["dataset"], {})[r] = r == s["default_recipe"]
    for dataset, names in recipes.items():
        listed = ", ".join(f"{r} (default)" if default else r for r, default in names.items())
        console.print(f"recipes of [bold]{dataset}[/bold] (--set recipe=NAME): {listed}")


# -- dabench tasks list | schema | validate ----------------------------------------------------

tasks_app = typer.Typer(help="Task files: list the tasks, print the task-file JSON Schema, "
                             "validate your own task files.", no_args_is_help=True)
tasks_app.command("list")(list_tasks)


@tasks_app.command("schema")
def tasks_schema() -> None:
    """Print the JSON Schema of a task file (for editors and CI checks of your own files).

    Example: dabench tasks schema > task-file.schema.json
    """
    from dabench.tasks.schema import task_file_schema

    typer.echo(json.dumps(task_file_schema(), indent=2))


@tasks_app.command("validate")
def tasks_validate(files: list[Path] = typer.Argument(..., metavar="FILE",
                                                      help="task YAML files to check",
                                                      show_default=False)) -> None:
    """Check task files without running anything: YAML, schema, names, and that they fit with the
    built-in tasks (and those on $DABENCH_TASK_PATH). Exit 0 when all are valid.

    Example: dabench tasks validate my-tasks.yaml
    """
    from dabench.errors import DabenchError
    from dabench.tasks.catalog import build_catalog, check_shared_file, task_files
    from dabench.tasks.compose import is_shared

    for path in files:
        if not path.is_file():
            raise DabenchError(f"task file {path}: "
                               f"{'is not a file' if path.exists() else 'does not exist'}")
    shared = [p for p in files if is_shared(p)]
    for path in shared:
        check_shared_file(path)
    known = {p.resolve(): p for p in task_files()}
    for path in files:  # yours after the others, each file once
        if not is_shared(path):
            known.setdefault(path.resolve(), path)
    catalog = build_catalog(list(known.values()))
    for path in files:
        if path in shared:
            typer.echo(f"{path}: ok (a shared file; its values are checked again in every file "
                       "that includes it)")
            continue
        mine = [t for t in catalog.tasks.values() if Path(t.file).resolve() == path.resolve()]
        typer.echo(f"{path}: ok, {len(mine)} task(s): {', '.join(t.name for t in mine)}")
        for warning in filter(None, (t.same_domain_warning() for t in mine)):
            typer.echo(f"{path}: warning: {warning}")
