"""The Typer app and its error handling: user errors become one line on stderr and an exit code.

Command groups live in their own modules (`run`, `report`, `tasks`, `data`, `plot`, `features`)
and register themselves on `app`; `dabench.cli` imports them all.

Exit codes: 1 a run or check failed, 2 a usage error or bad input, 3 a missing optional package,
70 an internal error (a bug in dabench: EX_SOFTWARE), 130 interrupted. `dabench --debug ...` (or
DABENCH_DEBUG=1) prints the traceback of any error, with the causes the one-line message hides.
"""

from __future__ import annotations

import os
import traceback
from enum import Enum
from typing import Any, Optional

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click; older releases use the click package
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import ClickException, UsageError

from dabench.data.paths import DATA_ENV
from dabench.errors import DabenchError

DEBUG_ENV = "DABENCH_DEBUG"
INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE (sysexits.h): distinct from every user error
# environment variables that stand for an option when it is not typed
_OPTION_ENV = {"--runs-dir": "DABENCH_RUNS", "--data-root": DATA_ENV}


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


# `dabench --debug` (the app's callback, in dabench/cli/__init__.py, stores it in ctx.meta)
DEBUG_OPTION = typer.Option(False, "--debug", help=f"on an error, also print its traceback "
                                                   f"with every cause (or set {DEBUG_ENV}=1)")


class _Group(TyperGroup):
    """Turns user errors into one line on stderr and an exit code, never a traceback."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        ctx.meta["dabench.argv"] = list(args)  # to name the option an OSError's path came from
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                from dabench.plugins import warn_problems

                warn_problems()  # broken plugins a command did not need: one line each
        except typer.Exit:
            raise
        except ClickException as exc:
            if not isinstance(exc, UsageError):
                raise  # click prints its own one line
            _err(_one_line(exc, ctx)[0])
            raise typer.Exit(2) from None
        except (Exception, KeyboardInterrupt) as exc:  # DabenchError, OSError, a bug, Ctrl-C
            if isinstance(exc, KeyboardInterrupt):
                _ignore_further_ctrl_c()  # a Ctrl-C while exiting must not kill us
            elif debug_enabled() or ctx.meta.get("dabench.debug"):
                _print_traceback(exc)
            message, code = _one_line(exc, ctx)
            _err(message)
            raise typer.Exit(code) from None


def _one_line(exc: BaseException, ctx: typer.Context) -> tuple[str, int]:
    """The one-line message and exit code of an error that reached the command line."""
    if isinstance(exc, DabenchError):
        return str(exc), exc.exit_code
    if isinstance(exc, UsageError):  # unknown command/option, bad option value
        where = exc.ctx.command_path if exc.ctx else "dabench"
        return f"{exc.format_message()} (see '{where} --help')", 2
    if isinstance(exc, KeyboardInterrupt):
        return ("interrupted; unfinished runs keep their last checkpoint: run the same command "
                "again to resume", 130)
    if isinstance(exc, OSError) and (exc.filename is not None or exc.strerror):
        return _os_error(exc, ctx.meta.get("dabench.argv", [])), 2  # disk full, EACCES, ...
    if isinstance(exc, ModuleNotFoundError):
        from dabench.extras import missing_module_fix

        fix = missing_module_fix(exc.name)
        if fix is not None:
            return fix, 3
    return _internal(exc), INTERNAL_ERROR_EXIT


def _os_error(exc: OSError, argv: list[str]) -> str:
    """'cannot read or write PATH (given as --option VALUE): reason; fix' for the command typed."""
    path = str(exc.filename) if exc.filename is not None else None
    reason = exc.strerror or str(exc)
    if path is None:
        return f"{reason}; check free space and permissions"
    option = option_for_path(path, argv)
    given = f" (from {option})" if option else ""
    fix = f"choose another {option.split()[0]}" if option else "check the path"
    return (f"cannot read or write {path}{given}: {reason}; check free space and "
            f"permissions, or {fix}")


def option_for_path(path: str, argv: list[str]) -> Optional[str]:
    """The option of the typed command (or the environment variable standing for it) whose
    value is `path` or a folder above it; None when the path came from elsewhere."""
    target = os.path.abspath(os.path.expanduser(path))
    pairs: list[tuple[str, str]] = []
    for i, arg in enumerate(argv):
        if arg.startswith("--") and "=" in arg:
            pairs.append(tuple(arg.split("=", 1)))  # type: ignore[arg-type]
        elif arg.startswith("-") and i + 1 < len(argv):
            pairs.append((arg, argv[i + 1]))
    typed = {name for name, _ in pairs}
    pairs += [(f"${env}", os.environ[env]) for option, env in _OPTION_ENV.items()
              if option not in typed and os.environ.get(env)]
    best: Optional[tuple[int, str]] = None
    for name, value in pairs:
        if not value:
            continue
        given = os.path.abspath(os.path.expanduser(value))
        if target == given or target.startswith(given.rstrip(os.sep) + os.sep):
            if best is None or len(given) > best[0]:  # the most specific option wins
                best = (len(given), name)
    return best[1] if best else None


def _internal(exc: BaseException) -> str:
    from dabench import __version__

    what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return (f"internal error in dabench {__version__} ({what.rstrip(': ')}); this is a bug, "
            f"not a mistake in your input: rerun with --debug (or {DEBUG_ENV}=1) to see the "
            "traceback, and report it")


def _print_traceback(exc: BaseException) -> None:
    """The traceback with every cause and context, also those hidden by `raise ... from None`."""
    seen = set()
    link: Optional[BaseException] = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__suppress_context__ = False
        link = link.__cause__ or link.__context__
    typer.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)


def command_group(name: str, help: str) -> typer.Typer:
    """A sub-command group (`dabench data ...`, `dabench plot ...`) with the app's settings."""
    return typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None)


# `--plugin`, at the top (`dabench --plugin my.py report`) and on `dabench run`
PLUGIN = typer.Option([], "--plugin", metavar="FILE",
                      help="a Python file registering methods, backbones or loaders "
                           "(repeatable; also $DABENCH_PLUGINS, separated by ':')")

# `--data-root`, shared by every command that reads datasets
DATA_ROOT = typer.Option(None, "--data-root", help=f"datasets folder [default: ${DATA_ENV}]")

app = typer.Typer(
    cls=_Group,
    name="dabench",
    help="Benchmarks for domain-adversarial adaptation (RevGrad / DANN).\n\n"
         "Examples:\n\n"
         "  dabench list-tasks\n\n"
         "  dabench run mnist5k-to-mnistm5k --seed 0 --seed 1 --seed 2\n\n"
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

