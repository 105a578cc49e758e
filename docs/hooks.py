"""MkDocs hooks (mkdocs.yml `hooks:`): the pages that come from the code, generated at each build
so they cannot drift from it.

- `index.md`: the README, its `docs/` links made site links, its README-only part left out;
- `reference/cli.md`: every command's `--help`, walked from the Typer app's click command tree;
- `reference/tasks.md`: the task catalogue (tasks, suites, recipes, published values with
  their sources), from `dabench.tasks.catalog.load_catalog()`;
- `reference/modules.md`: every module of the package with the first paragraph of its docstring
  (read with `ast`, nothing imported);
- `reference/api/*.md`: the Python API from the docstrings (mkdocstrings), one page per package.

The checkout's own `dabench` is put first on `sys.path`, so the site documents this tree.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# one API page per entry: title -> modules (packages are expanded to their modules)
API_PAGES = {
    "core": ["dabench.api", "dabench.plugins", "dabench.config", "dabench.fields",
             "dabench.registry", "dabench.errors",
             "dabench.atomic", "dabench.extras"],
    "tasks": ["dabench.tasks"], "methods": ["dabench.methods"], "models": ["dabench.models"],
    "data": ["dabench.data"], "training": ["dabench.training"], "runs": ["dabench.runs"],
    "reporting": ["dabench.reporting"], "analysis": ["dabench.analysis"],
}
README_ONLY = re.compile(r"<!-- readme-only -->.*?<!-- /readme-only -->\n?", re.S)


def checkout_first() -> None:
    """Import `dabench` from this checkout (MkDocs restores sys.path after loading a hook)."""
    if sys.path[0] != str(ROOT):
        sys.path.insert(0, str(ROOT))
    module = sys.modules.get("dabench")
    if module is not None and Path(module.__file__).resolve().parent != ROOT / "dabench":
        for name in [m for m in sys.modules if m == "dabench" or m.startswith("dabench.")]:
            del sys.modules[name]  # an installed dabench imported before


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    checkout_first()

    pages = {"index.md": index_page(), "reference/cli.md": cli_page(),
             "reference/tasks.md": tasks_page(), "reference/modules.md": modules_page()}
    pages.update({f"reference/api/{name}.md": api_page(name, mods)
                  for name, mods in API_PAGES.items()})
    for uri, text in pages.items():
        old = files.get_file_from_path(uri)
        if old is not None:
            files.remove(old)
        files.append(File.generated(config, uri, content=text))
    return files


# -- the home page ----------------------------------------------------------------------------

def index_page() -> str:
    text = README_ONLY.sub("", (ROOT / "README.md").read_text())
    return text.replace("](docs/", "](")


# -- the command line ----------------------------------------------------------------------------

def cli_page() -> str:
    import typer

    from dabench.cli import app
    from dabench.cli.commands import load_all

    load_all()
    root = typer.main.get_command(app)
    out = ["# Command reference", "",
           "Generated from the command line itself: each block is what `--help` prints. "
           "Hidden commands (`dabench worker`, started by the launchers) are left out.", ""]
    _commands(root, "dabench", None, out)
    return "\n".join(out) + "\n"


def _commands(cmd: Any, path: str, parent: Any, out: list[str]) -> None:
    ctx = cmd.context_class(cmd, info_name=path.rsplit(" ", 1)[-1], parent=parent,
                            terminal_width=100, max_content_width=100)
    level = "#" * min(path.count(" ") + 2, 4)
    out += [f"{level} {path}" if parent is not None else "## dabench", "", "```text",
            cmd.get_help(ctx).replace(f"Usage: {ctx.command_path}", f"Usage: {path}"), "```",
            ""]
    subcommands = getattr(cmd, "commands", {})
    for name in cmd.list_commands(ctx) if subcommands else ():
        sub = cmd.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            _commands(sub, f"{path} {name}", ctx, out)


# -- the task catalogue -------------------------------------------------------------------------

def tasks_page() -> str:
    from dabench.tasks.catalog import load_catalog

    catalog = load_catalog()
    out = ["# Task catalogue", "",
           "Generated from the built-in task files (`tasks/*.yaml`) by the catalogue code, as "
           "`dabench list-tasks` reads them. [Tasks](../tasks.md) explains the protocols; "
           "[Task files](../task-files.md) the format.", ""]
    families: dict[str, list] = {}
    for spec in catalog.tasks.values():
        families.setdefault(spec.dataset, []).append(spec)
    for dataset, specs in families.items():
        first = specs[0]
        out += [f"## {dataset}", "", f"File `tasks/{Path(first.file).name}`, modality "
                f"{first.modality}, {first.num_classes} classes.", "",
                "| task | title | source -> target(s) | default methods | recipe |",
                "|---|---|---|---|---|"]
        for s in specs:
            aliases = f" (alias {', '.join(f'`{a}`' for a in s.aliases)})" if s.aliases else ""
            out.append(f"| `{s.name}`{aliases} | {s.title} | {s.source.name} -> "
                       f"{', '.join(t.name for t in s.targets)} | {', '.join(s.methods)} | "
                       f"{s.config.get('recipe', '')} |")
        out.append("")
        if first.recipes:
            out += ["Recipes (`--set recipe=NAME`), the settings each one sets:", ""]
            for name, body in first.recipes.items():
                settings = ", ".join(f"`{k}={v}`" for k, v in body.items()) or "the defaults"
                out.append(f"- `{name}`: {settings}")
            out.append("")
        notes = list(dict.fromkeys(n for s in specs for n in s.notes))
        if notes:
            out += ["Notes (from the task file):", "", *(f"- {_cell(n)}" for n in notes), ""]
        published = [(s, p) for s in specs for p in s.published]
        if published:
            out += ["Published values (what `dabench report` puts beside yours):", "",
                    "| task | method | value | reference | selection | source |",
                    "|---|---|---|---|---|---|"]
            for s, p in published:
                out.append(f"| `{s.name}` | {p.method} | {p.value} | {p.reference} | "
                           f"{p.selection} | {_cell(p.source)} |")
            out.append("")
    out += ["## Suites", "", "| suite | tasks |", "|---|---|"]
    for name, members in catalog.suites.items():
        out.append(f"| `{name}` | {', '.join(f'`{m}`' for m in members)} |")
    return "\n".join(out) + "\n"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# -- the modules ----------------------------------------------------------------------------------

def package_modules(package: str) -> list[str]:
    """Every module of `package` (a dotted name below ROOT), the package itself first."""
    base = ROOT.joinpath(*package.split("."))
    if not base.is_dir():
        return [package]
    found = []
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(found)  # a package sorts before its modules


def summary(module: str) -> str:
    """The first paragraph of the module's docstring, on one line."""
    parts = module.split(".")
    path = ROOT.joinpath(*parts).with_suffix(".py")
    if not path.exists():
        path = ROOT.joinpath(*parts, "__init__.py")
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split())


def modules_page() -> str:
    out = ["# Modules", "",
           "Every module of the package, with the first paragraph of its docstring (generated "
           "from the source tree). [Architecture](../architecture.md) says how they fit "
           "together; the [Python API](api/core.md) pages give each one's functions and classes.",
           ""]
    for path in package_modules("dabench"):
        depth = path.count(".")
        out.append(f"{'  ' * max(depth - 1, 0)}- `{path}`: {_cell(summary(path))}")
    return "\n".join(out) + "\n"


# -- the Python API ------------------------------------------------------------------------------

def api_page(title: str, roots: list[str]) -> str:
    out = [f"# Python API: {title}", "",
           "Generated from the docstrings (mkdocstrings). Names starting with `_` are private.",
           ""]
    for root in roots:
        for module in package_modules(root):
            out += [f"::: {module}", "    options:", "      heading_level: 2", ""]
    return "\n".join(out)
