"""No import cycles inside dabench: every run-time import (module-level and inside functions) is an edge.

A function-level import only hides a cycle until the function runs; this test reads the imports
with `ast` (nothing is imported), so it sees both kinds. Imports under `if TYPE_CHECKING:` never
run and are not edges. An edge goes to the module named in the
import statement, or to `pkg.name` when `from pkg import name` names a submodule.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "dabench"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(root.rglob("*.py"))}


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _run_time_nodes(node: ast.AST):
    """ast.walk, less the bodies of `if TYPE_CHECKING:` (their `else:` branches run)."""
    for child in ast.iter_child_nodes(node):
        yield child
        if _type_checking(child):
            for rest in child.orelse:
                yield rest
                yield from _run_time_nodes(rest)
        else:
            yield from _run_time_nodes(child)


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The dabench modules `path` imports anywhere in its body at run time."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _run_time_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from ..a import b
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return {m for m in out if m in known and m != name}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    mods = modules(root)
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_dabench_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    assert "dabench.training.loop" in graph["dabench.api"]  # function-level imports count
    found = cycles(graph)
    assert not found, "import cycles (each a set of modules importing each other):\n" + \
        "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path):
    pkg = tmp_path / "dabench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from dabench.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (pkg / "c.py").write_text("import os\nfrom dabench import a\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nfrom dabench import a\n"
                              "if TYPE_CHECKING:\n    from dabench import d2\n")
    (pkg / "d2.py").write_text("import dabench.d\n")
    global REPO
    saved, REPO = REPO, tmp_path
    try:
        graph = import_graph(pkg)
    finally:
        REPO = saved
    assert graph["dabench.sub.b"] == {"dabench.c"}
    assert graph["dabench.d"] == {"dabench.a"}  # the TYPE_CHECKING import is no edge
    assert cycles(graph) == [["dabench.a", "dabench.c", "dabench.sub.b"]]
