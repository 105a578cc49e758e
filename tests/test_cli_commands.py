"""Commands imported when used (dabench/cli/commands.py): the listing without imports is the one
the commands give, `list-tasks` and `--help` import no other command, errors still suggest."""

from __future__ import annotations

import os
import subprocess
import sys

import typer

import dabench
from conftest import REPO
from dabench.cli import app
from dabench.cli.commands import COMMANDS, load_all

HEAVY = ("dabench.cli.run", "dabench.cli.download", "dabench.cli.features", "dabench.cli.report",
         "dabench.data.download", "dabench.runs.launch", "dabench.training.loop", "submitit",
         "torch")


def dabench_py(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with `args` as the command line of `dabench`."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env}, timeout=120)


MAIN = ("import sys; sys.argv[0] = 'dabench'; from dabench.cli import app, commands\n"
        "LOAD\ntry:\n    app(prog_name='dabench')\nexcept SystemExit as exc:\n"
        "    code = exc.code\nprint('MODULES', *sorted(sys.modules))\n")


def modules(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("MODULES "))
    return line.split()[1:]


def test_help_lists_the_commands_as_they_describe_themselves():
    lazy = dabench_py(MAIN.replace("LOAD", ""), "--help")
    loaded = dabench_py(MAIN.replace("LOAD", "commands.load_all()"), "--help")
    assert lazy.returncode == loaded.returncode == 0
    text = lazy.stdout.split("MODULES")[0]
    assert text == loaded.stdout.split("MODULES")[0]  # the summaries are the commands' own help
    assert "list-tasks" in text and "extract-features" in text and "worker" not in text
    assert not [m for m in modules(lazy.stdout) if m.startswith(HEAVY)]
    assert not {f"dabench.cli.{m}" for m in ("tasks", "data", "plot")} & set(modules(lazy.stdout))


def test_the_table_names_every_registered_command():
    load_all()
    group = typer.main.get_command(app)
    assert set(group.commands) == set(COMMANDS)
    for name, command in group.commands.items():
        assert command.hidden == COMMANDS[name].hidden, name
        assert " ".join((command.help or "").split("\n\n")[0].split()) == COMMANDS[name].summary


def test_list_tasks_imports_no_other_command():
    out = dabench_py(MAIN.replace("LOAD", ""), "list-tasks")
    assert "mnist-to-mnistm" in out.stdout
    loaded = modules(out.stdout)
    assert "dabench.cli.tasks" in loaded
    assert not [m for m in loaded if m.startswith(HEAVY)], "list-tasks imported heavy modules"


def test_version_and_unknown_command():
    out = dabench_py(MAIN.replace("LOAD", ""), "--version")
    assert out.stdout.splitlines()[0] == f"dabench {dabench.__version__}"
    out = dabench_py(MAIN.replace("LOAD", ""), "lst-tasks")
    assert out.stderr.strip() == ("dabench: error: No such command 'lst-tasks'. Did you mean "
                                  "'list-tasks', 'tasks'? (see 'dabench --help')")
    out = dabench_py(MAIN.replace("LOAD", ""), "worke")  # hidden commands are not suggested
    assert "Did you mean" not in out.stderr and "No such command 'worke'" in out.stderr


def test_shell_completion_lists_commands_and_loads_one_for_its_options():
    out = dabench_py(MAIN.replace("LOAD", ""), _DABENCH_COMPLETE="complete_bash",
                     COMP_WORDS="dabench li", COMP_CWORD="1")
    assert out.stdout.split("MODULES")[0].split() == ["list-tasks"]
    out = dabench_py(MAIN.replace("LOAD", ""), _DABENCH_COMPLETE="complete_bash",
                     COMP_WORDS="dabench run --se", COMP_CWORD="2")
    assert out.stdout.split("MODULES")[0].split() == ["--seed", "--seeds", "--set"]
    out = dabench_py(MAIN.replace("LOAD", ""), "--show-completion", "bash",  # not detected
                     _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert "_DABENCH_COMPLETE=complete_bash" in out.stdout
