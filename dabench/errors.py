"""The one exception type for user mistakes and environment problems.

The CLI turns a `DabenchError` into a single line on stderr and a non-zero exit code, never a
traceback. The message names the problem and, where there is one, the fix.
"""

from __future__ import annotations


class DabenchError(Exception):
    """A problem the user can fix (bad input, missing data, missing dependency)."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def clip(value: object, limit: int = 80) -> str:
    """`value` as text for an error message, at most `limit` characters (a 100 kB `--set` value
    or YAML string is shown by its start and length, never in full); control characters and
    newlines are escaped so the message stays on one line."""
    text = str(value)
    shown = text[:limit]
    if not shown.isprintable():
        shown = shown.encode("unicode_escape").decode("ascii")[:limit]
    return shown if len(text) <= limit else f"{shown}... ({len(text)} characters)"
