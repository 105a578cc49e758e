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
