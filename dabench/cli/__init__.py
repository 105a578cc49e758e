"""The `dabench` command line: parses, dispatches, prints. No training or table logic here.

`app` (with its error handling) lives in `dabench.cli.app`; each command group is a module that
registers itself on it. Heavy modules (torch, the training loop) are imported inside the
commands that need them, so `dabench list-tasks` and `dabench report` start fast.
"""

from __future__ import annotations

import signal

from dabench.cli import build, download, report, run, status, tasks, worker  # noqa: F401  (register)
from dabench.cli.app import _Group, app  # noqa: F401  (the public entry points)
from dabench.cli.data import data_app
from dabench.cli.features import app as features_app
from dabench.cli.plot import plot_app
from dabench.cli.tasks import tasks_app

app.add_typer(data_app, name="data")
app.add_typer(plot_app, name="plot")
app.add_typer(tasks_app, name="tasks")
app.add_typer(features_app)  # `dabench extract-features` at the top level


def main() -> None:
    import logging

    logging.basicConfig(format="dabench: %(message)s", level=logging.WARNING)
    try:
        app()
    finally:
        # The command has finished (or failed with its one line): a Ctrl-C that lands while the
        # interpreter shuts down (torch's atexit hooks) must not print a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
