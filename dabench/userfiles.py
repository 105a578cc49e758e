"""Reading a file the user named: regular files only, and never more than a stated size.

A FIFO would block the read forever, `/dev/zero` never ends and a 40 GB file named by mistake
fills the memory; each is refused with one line naming the file, what it is and the limit.
`DABENCH_MAX_FILE_MB` raises (or lowers) every limit at once, for a really large feature file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from dabench.errors import DabenchError

LIMIT_ENV = "DABENCH_MAX_FILE_MB"
MB = 1024 * 1024

_KINDS = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO (named pipe)",
          stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
          stat.S_ISSOCK: "a socket"}


def limit_bytes(default_mb: int) -> int:
    """`default_mb` in bytes, or $DABENCH_MAX_FILE_MB when it is set to a positive number."""
    try:
        mb = float(os.environ.get(LIMIT_ENV, ""))
    except ValueError:
        mb = 0
    return int((mb if mb > 0 else default_mb) * MB)


def _limit_text(limit: int) -> str:
    return f"{limit / MB:g} MB ({LIMIT_ENV} raises it)"


def check_regular(path: Path, what: str) -> int:
    """The size of `path` (symbolic links followed) when it is a regular file; an error naming
    `what` otherwise. A missing file raises FileNotFoundError for the caller to word."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")
        raise DabenchError(f"{what} {path} is {kind}, not a regular file; name a file")
    return os.stat(path).st_size


def read_bounded(path: Path, what: str, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them (else an error stating the
    limit). OSError (missing, permission denied) is left to the caller."""
    size = check_regular(path, what)
    if size > limit:
        raise DabenchError(f"{what} {path} is {size / MB:.1f} MB, above the limit of "
                           f"{_limit_text(limit)}")
    with open(path, "rb") as fh:
        return read_at_most(fh, limit, f"{what} {path}")


def read_at_most(stream: BinaryIO, limit: int, what: str) -> bytes:
    """All of `stream` when it holds at most `limit` bytes (a file that grows while read, a
    decompressed archive); an error naming `what` and the limit otherwise."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DabenchError(f"{what} holds more than {_limit_text(limit)}")
    return data
