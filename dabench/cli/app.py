"""The Typer app and its error handling: user errors become one line on stderr and an exit code.

Command groups live in their own modules (`run`, `report`, `tasks`, `data`, `plot`, `features`)
and register themselves on `app`; `dabench.cli` imports them all.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click; older releases use the click package
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import UsageError

from dabench.data.paths import DATA_ENV
from dabench.errors import DabenchError


class _Group(TyperGroup):
    """Turns user errors into one line on stderr and an exit code, never a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DabenchError as exc:
            _err(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except UsageError as exc:  # unknown command/option, bad option value: one line too
            where = exc.ctx.command_path if exc.ctx else "dabench"
            _err(f"{exc.format_message()} (see '{where} --help')")
            raise typer.Exit(2) from None
        except OSError as exc:  # disk full, permission denied, read-only file system, ...
            _err(f"cannot write or read {exc.filename or 'a file'}: {exc.strerror or exc}; "
                 "check free space and permissions, or choose another --runs-dir")
            raise typer.Exit(2) from None
        except ModuleNotFoundError as exc:
            _err(f"missing dependency '{exc.name}'; install it: pip install {exc.name}")
            raise typer.Exit(3) from None
        except KeyboardInterrupt:
            _ignore_further_ctrl_c()  # a Ctrl-C while exiting must not kill us with a traceback
            _err("interrupted; unfinished runs keep their last checkpoint: run the same command "
                 "again to resume")
            raise typer.Exit(130) from None


def command_group(name: str, help: str) -> typer.Typer:
    """A sub-command group (`dabench data ...`, `dabench plot ...`) with the app's settings."""
    return typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None)


# `--data-root`, shared by every command that reads datasets
DATA_ROOT = typer.Option(None, "--data-root", help=f"datasets folder [default: ${DATA_ENV}]")

app = typer.Typer(
    cls=_Group,
    name="dabench",
    help="Benchmarks for domain-adversarial adaptation (RevGrad / DANN).\n\n"
         "Examples:\n\n"
         "  dabench list-tasks\n\n"
         "  dabench run mnist-to-mnistm --seed 0 --seed 1 --seed 2\n\n"
         "  dabench report --format md",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (docs/commands.md)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _choices(name: str, values) -> type[Enum]:
    """A str Enum for typer from a tuple of names defined where they are implemented."""
    return Enum(name, {v: v for v in values}, type=str)


Device = _choices("Device", ("auto", "cpu", "cuda"))


def _err(message: str) -> None:
    typer.echo(f"dabench: error: {message}", err=True)


def _ignore_further_ctrl_c() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

