"""The one way files are written: atomically, so a crash leaves the old file or the new one.

`atomic_file(path)` yields a file open at a temporary name in `path`'s folder; when the block
ends without error the data is flushed and fsynced, the file renamed over `path` (with
`keep_previous`, an existing `path` is first renamed there), and the folder fsynced so the rename
itself survives a power cut. On any error the temporary file is removed and the error raised.
Permissions are those of a plain `open` (0666 minus the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Optional


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: Path, mode: str = "wb", keep_previous: Optional[Path] = None,
                **open_args: Any) -> Iterator[IO]:
    """Write `path` atomically (see the module); `mode` is "wb" or "w" (with `encoding=`)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # named by the file the caller asked for, not our temporary name
        raise _about(exc, path) from exc
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if keep_previous is not None and path.exists():
            os.replace(path, keep_previous)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (tmp, str(path)):
            raise _about(exc, path) from exc
        raise
    fsync_dir(path.parent)


def _about(exc: OSError, path: Path) -> OSError:
    """`exc` (ENOSPC, EACCES, EISDIR, ...) as an error about `path` itself."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def write_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_file(path, "w", encoding="utf-8") as fh:
        fh.write(text)
