"""Download one registry file: each mirror in turn until the size and hashes match.

HTTP downloads resume: the bytes already in `<file>.part` are kept and the rest is asked for with
a Range header; a server that ignores Range (answers 200) is read again from the start. A dropped
connection is resumed up to `retries` times on the same mirror before the next one is tried.
Google Drive links go through gdown (an optional dependency: `pip install 'dabench[download]'`),
which handles Drive's confirmation pages. pooch is not used: it has neither Range resume nor
mirror lists, which is all this module adds to the standard library's urllib.
"""

from __future__ import annotations

import hashlib
import http.client
import inspect
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from dabench.data.download.registry import Source
from dabench.data.download.unpack import require_space

CHUNK = 1 << 20
USER_AGENT = "dabench-data-download"
GDOWN_HINT = "Google Drive links need gdown: pip install 'dabench[download]' (or pip install gdown)"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class Hashes:
    size: int
    sha256: str
    md5: str


def file_hashes(path: Path) -> Hashes:
    """Size, sha256 and md5 of a file, read once."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return Hashes(size, sha.hexdigest(), md5.hexdigest())


def mismatch(source: Source, got: Hashes, trusted_sha256: Optional[str] = None) -> Optional[str]:
    """Why `got` is not the registry's file (None when size and every known hash agree)."""
    if source.size is not None and got.size != source.size:
        return f"size {got.size} bytes, expected {source.size}"
    want = source.sha256 or trusted_sha256
    if want and got.sha256 != want:
        what = "sha256" if source.sha256 else "sha256 (recorded on first use)"
        return f"{what} {got.sha256}, expected {want}"
    if source.md5 and got.md5 != source.md5:
        return f"md5 {got.md5}, expected {source.md5}"
    return None


class MirrorFailed(Exception):
    """One mirror could not deliver the file (the message says why, in a few words)."""


class Progress:
    """A rich progress bar on stderr with size, speed and time left (silent when `quiet`)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._bar = None
        self._task = None

    def start(self, label: str, total: Optional[int], completed: int) -> None:
        if self.quiet:
            return
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress as Bar, TextColumn,
                                   TimeRemainingColumn, TransferSpeedColumn)

        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=False)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total, completed=completed)

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@dataclass
class FetchResult:
    path: Path
    url: Optional[str]  # None when an existing verified file was reused
    hashes: Hashes
    bytes_received: int = 0
    failures: list[str] = field(default_factory=list)  # "url: reason" of mirrors that failed


def _http(url: str, part: Path, size: Optional[int], progress: Progress, retries: int,
          timeout: float, counter: list[int]) -> None:
    """Fetch `url` into `part`, resuming from the bytes already there."""
    last = "no attempt"
    for _ in range(retries):
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have >= size:
            if have == size:
                return
            part.unlink()
            have = 0
        headers = {"User-Agent": USER_AGENT}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with urlopen(Request(url, headers=headers), timeout=timeout) as resp:
                mode, start = "wb", 0
                if have and resp.status == 206:
                    match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
                    if match and int(match.group(1)) == have:
                        mode, start = "ab", have
                length = resp.headers.get("Content-Length")
                total = start + int(length) if length and length.isdigit() else size
                progress.start(f"{part.name[:-5]} ({url.split('/')[2]})", total, start)
                try:
                    with open(part, mode) as out:
                        while chunk := resp.read(CHUNK):
                            out.write(chunk)
                            counter[0] += len(chunk)
                            progress.advance(len(chunk))
                finally:
                    progress.stop()
            got = part.stat().st_size
            if total is not None and got < total:
                last = f"connection closed after {got} of {total} bytes"
                continue
            return
        except HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: complete, or a stale .part
                if size is None or have == size:
                    return
                part.unlink()
                last = "HTTP 416 for a partial file"
                continue
            raise MirrorFailed(f"HTTP {exc.code} {exc.reason}") from None
        except (URLError, http.client.HTTPException, OSError) as exc:  # dropped, timed out, ...
            last = " ".join(str(getattr(exc, "reason", exc) or type(exc).__name__).split())
            continue
    raise MirrorFailed(f"{last} ({retries} attempts)")


def _gdrive(url: str, part: Path, quiet: bool) -> None:
    try:
        import gdown
    except ImportError:
        raise MirrorFailed(GDOWN_HINT) from None
    if part.exists():
        part.unlink()  # gdown keeps its own partial file; with resume it would take ours as done
    kwargs = {"url": url, "output": str(part), "quiet": quiet, "resume": True}
    if "fuzzy" in inspect.signature(gdown.download).parameters:
        kwargs["fuzzy"] = True  # gdown < 6 reads /file/d/<id>/view links only with fuzzy
    try:
        out = gdown.download(**kwargs)
    except Exception as exc:  # gdown raises its own types for quota, permission, HTML pages
        raise MirrorFailed("Google Drive: " + " ".join(str(exc).split())[:200]) from None
    if out is None or not part.exists():
        raise MirrorFailed("Google Drive refused the download (quota exceeded or no access)")


def fetch(source: Source, downloads: Path, *, verify: bool = True,
          trusted_sha256: Optional[str] = None, quiet: bool = False, retries: int = 3,
          timeout: float = 60.0,
          say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> FetchResult:
    """Put `source.file` into `downloads`, verified; MirrorFailed(reasons) when no mirror could.

    A verified copy already in `downloads` is reused without network access.
    """
    downloads.mkdir(parents=True, exist_ok=True)
    dest = downloads / source.file
    part = dest.with_name(dest.name + ".part")
    failures: list[str] = []
    if dest.exists():
        got = file_hashes(dest)
        problem = mismatch(source, got, trusted_sha256) if verify else None
        if problem is None:
            say(f"using {dest} (already downloaded, {got.size} bytes, sha256 {got.sha256})")
            return FetchResult(dest, None, got)
        bad = dest.with_name(dest.name + ".mismatch")
        os.replace(dest, bad)
        failures.append(f"{dest}: {problem} (moved to {bad.name})")
    if source.size is not None:
        have = part.stat().st_size if part.exists() else 0
        require_space(downloads, source.size - have, f"downloading {source.file}")
    counter = [0]
    for mirror in source.mirrors:
        try:
            say(f"downloading {source.file} from {mirror.url}")
            if mirror.is_gdrive:
                _gdrive(mirror.url, part, quiet)
            else:
                _http(mirror.url, part, source.size, Progress(quiet), retries, timeout, counter)
        except MirrorFailed as exc:
            failures.append(f"{mirror.url}: {exc}")
            if part.exists() and not (source.sha256 or trusted_sha256):
                part.unlink()  # without a known hash, bytes from two servers must not be mixed
            continue
        got = file_hashes(part)
        problem = mismatch(source, got, trusted_sha256) if verify else None
        if problem is not None:
            part.unlink()
            failures.append(f"{mirror.url}: {problem}")
            say(f"{source.file} from {mirror.url}: {problem}; trying the next mirror")
            continue
        os.replace(part, dest)
        return FetchResult(dest, mirror.url, got, counter[0], failures)
    raise MirrorFailed("; ".join(failures) or "no download link is known")
