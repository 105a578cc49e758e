"""The top-level commands, each imported when it is used: `dabench list-tasks` imports the task
catalogue and nothing of `run`, the downloads or Slurm.

`COMMANDS` names each command's module (importing it registers the command on `app`) and, for
a command group, the Typer object to mount. `dabench --help` and shell completion list the
commands from their `summary` without importing them (as pip lists its commands); a test
(tests/test_cli_commands.py) checks that each summary is the command's own help and that the
table names every command the modules register.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Optional

import typer
from typer.core import TyperCommand

from dabench.cli.app import _Group, app


@dataclass(frozen=True)
class Entry:
    modules: tuple[str, ...]  # imported in this order; the first registers the command
    summary: str  # the first paragraph of the command's help, as `dabench --help` lists it
    group: Optional[str] = None  # a command group: the attribute of modules[0] to mount
    hidden: bool = False


# in the order `dabench --help` lists them
COMMANDS: dict[str, Entry] = {
    "report": Entry(("dabench.cli.report",), "Print the leaderboard-style table of the finished "
                    "runs in the results folder."),
    "run": Entry(("dabench.cli.run",),
                 "Train and evaluate every (task, method, seed), then print what ran."),
    "status": Entry(("dabench.cli.status",),
                    "Show the state of every run in the runs folder (read-only)."),
    "list-tasks": Entry(("dabench.cli.tasks",), "List the benchmark tasks and suites."),
    "data": Entry(("dabench.cli.data", "dabench.cli.download"),
                  "Download and check datasets (Office-31, Office-Home, UCF101, HMDB51, "
                  "Olympic Sports, your own image folders).", group="data_app"),
    "plot": Entry(("dabench.cli.plot",), "Draw figures from finished runs: training curves, "
                  "t-SNE before/after adaptation.", group="plot_app"),
    "tasks": Entry(("dabench.cli.tasks",),
                   "Task files: list the tasks, print the task-file JSON Schema, validate your "
                   "own task files.", group="tasks_app"),
    "extract-features": Entry(("dabench.cli.features",), "Extract and cache the frame features "
                              "of video tasks (what `dabench run` would extract).", group="app"),
    "worker": Entry(("dabench.cli.worker",), "Train one planned run (started by `dabench run "
                    "--launcher ...`).", hidden=True),
}
_mounted: set[str] = set()


def load(name: str) -> None:
    """Import the modules of command `name` (registering it on `app`) and mount its group."""
    entry = COMMANDS[name]
    modules = [importlib.import_module(m) for m in entry.modules]
    if entry.group and name not in _mounted:
        _mounted.add(name)
        sub = getattr(modules[0], entry.group)
        if entry.group == "app":  # a sub-app whose command sits at the top level
            app.add_typer(sub)
        else:
            app.add_typer(sub, name=name)


def load_all() -> None:
    for name in COMMANDS:
        load(name)


class LazyGroup(_Group):
    """The `dabench` group: a command's module is imported when the command is looked up; the
    listings (`--help`, completion) use the summaries instead."""

    listing = False  # True while --help or completion lists the commands

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS) + [n for n in super().list_commands(ctx) if n not in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            entry = COMMANDS[cmd_name]
            if self.listing:
                return TyperCommand(cmd_name, help=entry.summary, hidden=entry.hidden)
            load(cmd_name)
            built = typer.main.get_command(app)
            for name, command in built.commands.items():
                self.commands.setdefault(name, command)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """An unknown command: one usage error with the closest names (dabench's own "did you
        mean", the same with every Typer release)."""
        name = args[0] if args else ""
        known = name in COMMANDS or name in self.commands
        if name and not name.startswith("-") and not known and not ctx.resilient_parsing:
            visible = [n for n in self.list_commands(ctx)
                       if n in self.commands or not COMMANDS[n].hidden]
            close = difflib.get_close_matches(name, visible)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self.listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> list:
        self.listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self.listing = False
