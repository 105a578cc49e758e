"""Reading a task file's YAML safely: `yaml.SafeLoader` plus the limits a hostile file needs.

- a key twice in one mapping is an error (plain YAML keeps the second silently);
- nesting deeper than `MAX_DEPTH` is an error (100,000 `[` would exhaust Python's stack);
- aliases (`*name`) may repeat values, but the document expanded through them may hold at most
  `MAX_VALUES` values (a 632-byte "billion laughs" file expands to 10^9);
- files over `MAX_BYTES`, and text that is not UTF-8, are refused.
Every problem becomes one `DabenchError` line naming the file and, where known, the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from dabench.errors import DabenchError, clip
from dabench.userfiles import check_regular, read_at_most

MAX_DEPTH = 50
MAX_VALUES = 200_000
MAX_BYTES = 2_000_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing duplicate keys, deep nesting and alias bombs."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node:
        node = super().compose_document()
        _check_expanded_size(node)
        return node

    def construct_mapping(self, node: Node, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise ConstructorError(
                            None, None, f"the key '{clip(key)}' appears twice in one mapping "
                            "(keep one: the second would silently win)", key_node.start_mark)
                    seen.add(key)
                except TypeError:  # unhashable: the base class reports it
                    pass
        return super().construct_mapping(node, deep=deep)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_expanded_size(root: Node | None) -> None:
    """Count the values of the document with every alias expanded, without expanding them
    (memoised over shared nodes, so linear in the file); refuse a recursive alias."""
    if root is None:
        return
    size: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            visiting.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            if size[key] > MAX_VALUES:
                raise ComposerError(None, None, f"holds more than {MAX_VALUES} values once its "
                                    "aliases (*name) are expanded; write the values out",
                                    node.start_mark)
            continue
        if key in size:
            continue
        if key in visiting:
            raise ComposerError(None, None, "an alias (*name) refers to a value that contains "
                                "it (a recursive alias)", node.start_mark)
        visiting.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))


def read_yaml(path: Path) -> Any:
    """The YAML document in `path`, read under the limits above; DabenchError otherwise."""
    try:
        check_regular(path, "task file")  # a FIFO would block the read forever
        if path.stat().st_size > MAX_BYTES:
            raise DabenchError(f"task file {path}: larger than {MAX_BYTES // 1_000_000} MB; a task "
                               "file describes one dataset family and is a few kB")
        with open(path, "rb") as fh:
            data = read_at_most(fh, MAX_BYTES, f"task file {path}")  # it may grow meanwhile
    except IsADirectoryError:
        raise DabenchError(f"task file {path}: is a folder, not a file") from None
    except OSError as exc:
        raise DabenchError(f"task file {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DabenchError(f"task file {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                           f"offset {exc.start}); save it as UTF-8") from None
    loader = None
    try:
        loader = _StrictLoader(text)
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" at line {mark.line + 1}" if mark else ""
        words = ", ".join(filter(None, (exc.context, exc.problem))) or "invalid YAML"
        problem = clip(words, 200)
        kind = "YAML syntax error" if isinstance(exc, (yaml.scanner.ScannerError,
                                                       yaml.parser.ParserError)) else "YAML error"
        raise DabenchError(f"task file {path}: {kind}{line}: {problem}") from None
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DabenchError(f"task file {path}: YAML error: {clip(first, 200)}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. a date 2020-13-45
        raise DabenchError(f"task file {path}: cannot read a value: {clip(exc, 200)}") from None
    finally:
        if loader is not None:
            loader.dispose()
