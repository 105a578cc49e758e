"""The `dabench` command line: parses, dispatches, prints. No training or table logic here.

`app` (with its error handling) lives in `dabench.cli.app`; each command group is a module that
registers itself on it. `dabench.cli.commands` imports a command's module only when the command
runs (`dabench list-tasks` never imports the run, download or Slurm modules), and heavy modules
(torch, the training loop) are imported inside the commands that need them, so `dabench
list-tasks`, `dabench --help` and `dabench report` start fast.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import List, Optional

import typer

import dabench
from dabench.cli.app import DEBUG_OPTION, PLUGIN, _Group, app  # noqa: F401  (the public entry points)
from dabench.cli.commands import LazyGroup

app.info.cls = LazyGroup


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dabench {dabench.__version__}")
        raise typer.Exit()


@app.callback()
def _options(ctx: typer.Context, version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True,
        help="Print the version and exit."), debug: bool = DEBUG_OPTION,
        plugin: List[Path] = PLUGIN) -> None:
    """Benchmarks for domain-adversarial adaptation (RevGrad / DANN)."""
    ctx.meta["dabench.debug"] = debug  # read by _Group.invoke's error handling
    from dabench.plugins import load_files

    load_files(plugin)  # `dabench --plugin FILE COMMAND`, and $DABENCH_PLUGINS


def main() -> None:
    import logging

    logging.basicConfig(format="dabench: %(message)s", level=logging.WARNING)
    try:
        app()
    finally:
        # The command has finished (or failed with its one line): a Ctrl-C that lands while the
        # interpreter shuts down (torch's atexit hooks) must not print a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
