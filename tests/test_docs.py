"""The documentation names only things that exist: every `dabench COMMAND [SUBCOMMAND]`, every
repository path (`dabench/...`, `tasks/...`, ...) and every `dabench.module[.name]` written in
code in README.md and docs/*.md is checked against the command table and the source tree."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest
import typer

import dabench

from conftest import REPO
from dabench.cli import app
from dabench.cli.commands import COMMANDS, load_all
from dabench.plugins import GROUPS, TASKS_GROUP
from dabench.training.tracking import MLFLOW_TAGS

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"(?<![\w./-])dabench ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")
PATH = re.compile(r"(?<![\w./~$-])((?:dabench|tasks|tests|benchmarks|scripts|docs)/[\w./-]*)")
DOTTED = re.compile(r"(?<![\w./-])(dabench(?:\.[A-Za-z_]\w*)+)")
NOT_IN_A_CHECKOUT = (
    "dabench/tasks/builtin",  # inside the wheel only
    "benchmarks/out/",  # what the benchmark scripts write (git-ignored)
    "dabench/methods/entmin.py", "dabench/data/images/csvlist.py",  # architecture.md's examples
)


def code_of(text: str) -> list[str]:
    """The code in a page: fenced blocks and inline spans."""
    blocks = [m.group(0) for m in FENCE.finditer(text)]
    return blocks + SPAN.findall(FENCE.sub("", text))


@lru_cache(maxsize=1)
def command_tree() -> dict[str, set[str]]:
    load_all()
    group = typer.main.get_command(app)
    return {name: set(getattr(cmd, "commands", {})) for name, cmd in group.commands.items()}


def bad_commands(code: str) -> list[str]:
    tree, bad = command_tree(), []
    for name, sub in COMMAND.findall(code):
        if name not in tree:
            bad.append(f"dabench {name}")
        elif tree[name] and sub and sub not in tree[name]:
            bad.append(f"dabench {name} {sub}")
    return bad


def bad_paths(code: str) -> list[str]:
    bad = []
    for path in PATH.findall(code):
        path = path.rstrip(".,;:)")
        if "*" in path or path.startswith(NOT_IN_A_CHECKOUT) or (REPO / path).exists():
            continue
        bad.append(path)
    return bad


def module_file(name: str) -> Path | None:
    base = REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


# dotted names that are not modules: the plugin entry-point groups and the MLflow tags
NOT_MODULES = {*GROUPS.values(), TASKS_GROUP, *MLFLOW_TAGS}


def bad_dotted(code: str) -> list[str]:
    bad = []
    for dotted in DOTTED.findall(code):
        parts = dotted.split(".")
        known = max((i for i in range(1, len(parts) + 1) if module_file(".".join(parts[:i]))),
                    default=0)
        if known == 1 and len(parts) >= 2 and parts[1] in {*dabench.__all__, "__all__"}:
            continue  # the Python API: dabench.run, dabench.report, ... (dabench/__init__.py)
        if dotted in NOT_MODULES:
            continue
        if known < 2 and len(parts) >= 2:
            bad.append(dotted)  # dabench.<nothing that exists>
        elif known < len(parts):
            name = parts[known]
            if name not in top_level_names(module_file(".".join(parts[:known]))):
                bad.append(dotted)
    return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_names_only_commands_paths_and_modules_that_exist(page: Path):
    code = "\n".join(code_of(page.read_text()))
    problems = bad_commands(code) + bad_paths(code) + bad_dotted(code)
    assert not problems, f"{page.relative_to(REPO)} names what does not exist: {problems}"


def test_the_checks_catch_what_is_gone():
    assert bad_commands("dabench list-taks\ndabench data chek X\ndabench run x") == [
        "dabench list-taks", "dabench data chek"]
    assert bad_paths("see dabench/training/loop.py and dabench/tasks/office31.yaml") == [
        "dabench/tasks/office31.yaml"]
    assert bad_dotted("dabench.training.loop._train and dabench.training.phase.train_phase, "
                      "dabench.nothing") == ["dabench.training.loop._train", "dabench.nothing"]
    assert "tasks" in COMMANDS and code_of("a `dabench x` b\n```\ndabench y\n```\n") == [
        "```\ndabench y\n```", "dabench x"]
