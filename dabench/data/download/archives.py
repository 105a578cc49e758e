"""Unpack zip, tar and RAR archives into a folder, refusing members that would land outside it.

zip and tar use the standard library. RAR goes through the first extractor found: the `unar`,
`bsdtar` or `unrar` programs, else the `libarchive-c` Python package. Every member name is checked
before anything is written (absolute paths, drive letters, `..`), links are checked against the
target folder (tar: before writing; other tools: the extracted tree is walked afterwards, and any
link that leaves the folder fails the extraction).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable, Optional

from dabench.errors import DabenchError

RAR_TOOLS = ("unar", "bsdtar", "unrar", "libarchive-c")
RAR_HELP = ("install one: `apt-get install unar` (or libarchive-tools for bsdtar, or unrar; "
            "macOS: `brew install unar`), or `pip install libarchive-c` (needs the libarchive "
            "library), e.g. `pip install 'dabench[download]'`")
_MAGIC = ((b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"Rar!\x1a\x07", "rar"),
          (b"\x1f\x8b", "tar"), (b"BZh", "tar"), (b"\xfd7zXZ\x00", "tar"))


def sniff_format(path: Path) -> Optional[str]:
    """'zip', 'rar' or 'tar' from the first bytes of the file (None when unknown)."""
    with open(path, "rb") as f:
        head = f.read(512)
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    return "tar" if head[257:262] == b"ustar" else None


def unsafe_reason(name: str) -> Optional[str]:
    """Why a member name would escape the target folder, or None when it stays inside."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(norm).parts:
        return "'..' in the path"
    return None


def _refuse(archive: Path, name: str, reason: str) -> DabenchError:
    return DabenchError(f"archive {archive} has a member that would land outside the target "
                        f"folder ({name!r}: {reason}); refused, nothing was extracted from it; "
                        "fix: get the archive from the official source")


def check_names(archive: Path, names: Iterable[str]) -> None:
    for name in names:
        reason = unsafe_reason(name)
        if reason:
            raise _refuse(archive, name, reason)


def _link_escapes(member: str, target: str) -> bool:
    if unsafe_reason(target) == "absolute path":
        return True
    parts: list[str] = []
    for piece in [*PurePosixPath(member.replace("\\", "/")).parent.parts,
                  *PurePosixPath(target.replace("\\", "/")).parts]:
        if piece == "..":
            if not parts:
                return True
            parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return False


def check_tree(archive: Path, dest: Path) -> None:
    """Refuse links in the extracted tree that point outside `dest` (after a tool extracted it)."""
    root = dest.resolve()
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise _refuse(archive, str(path.relative_to(dest)),
                              f"link to {os.readlink(path)}")


# -- zip and tar ----------------------------------------------------------------------------------

def _zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        check_names(archive, (i.filename for i in infos))
        for info in infos:
            if stat.S_ISLNK(info.external_attr >> 16):  # zipfile writes links as small files
                target = zf.read(info).decode("utf-8", "replace")
                if _link_escapes(info.filename, target):
                    raise _refuse(archive, info.filename, f"link to {target}")
        zf.extractall(dest)


def _tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        check_names(archive, (m.name for m in members))
        check_through_links(archive, [(m.name, m.issym() or m.islnk()) for m in members])
        for m in members:
            if m.issym() and _link_escapes(m.name, m.linkname):
                raise _refuse(archive, m.name, f"link to {m.linkname}")
            if m.islnk() and unsafe_reason(m.linkname):
                raise _refuse(archive, m.name, f"hard link to {m.linkname}")
            if m.isdev():
                raise _refuse(archive, m.name, "device file")
        try:
            tf.extractall(dest, filter="data")  # the standard library's own guard as well
        except TypeError:  # pragma: no cover - Python without extraction filters
            tf.extractall(dest)


# -- RAR ------------------------------------------------------------------------------------------

def _run(cmd: list[str], archive: Path) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[:300]
        raise DabenchError(f"{cmd[0]} could not read {archive} (exit {proc.returncode}: "
                           f"{detail}); fix: download the file again (it may be damaged)")
    return proc.stdout


def _rar_entries(tool: str, archive: Path) -> list[tuple[str, bool]]:
    """(member name, is a link) as the tool lists them (unrar's bare listing shows no links)."""
    if tool == "unar":
        listing = json.loads(_run(["lsar", "-j", str(archive)], archive))
        return [(e.get("XADFileName", ""), bool(e.get("XADIsLink")))
                for e in listing.get("lsarContents", [])]
    if tool == "bsdtar":
        names = _run(["bsdtar", "-tf", str(archive)], archive).splitlines()
        modes = _run(["bsdtar", "-tvf", str(archive)], archive).splitlines()
        return [(n, m.startswith("l")) for n, m in zip(names, modes)]
    return [(n, False) for n in _run(["unrar", "lb", str(archive)], archive).splitlines()]


def check_through_links(archive: Path, entries: list[tuple[str, bool]]) -> None:
    """Refuse a member stored under a link member: it would be written wherever the link points."""
    links = {PurePosixPath(n.replace("\\", "/")) for n, is_link in entries if is_link}
    for name, _ in entries:
        path = PurePosixPath(name.replace("\\", "/"))
        if any(parent in links for parent in path.parents):
            raise _refuse(archive, name, "stored under a link")


def _rar_tool(tool: str, archive: Path, dest: Path) -> None:
    entries = _rar_entries(tool, archive)
    check_names(archive, (n for n, _ in entries))
    check_through_links(archive, entries)
    if tool == "unar":
        _run(["unar", "-q", "-f", "-D", "-o", str(dest), str(archive)], archive)
    elif tool == "bsdtar":
        _run(["bsdtar", "-xf", str(archive), "-C", str(dest)], archive)
    else:
        _run(["unrar", "x", "-o+", "-idq", str(archive), f"{dest}{os.sep}"], archive)


def _rar_libarchive(archive: Path, dest: Path) -> None:
    import libarchive  # the optional pip extractor

    with libarchive.file_reader(str(archive)) as entries:
        listed = [(entry.pathname, entry.issym) for entry in entries]
    check_names(archive, (n for n, _ in listed))
    check_through_links(archive, listed)
    with libarchive.file_reader(str(archive)) as entries:
        for entry in entries:
            target = dest / entry.pathname.replace("\\", "/")
            if entry.isdir:
                target.mkdir(parents=True, exist_ok=True)
            elif entry.issym:
                if _link_escapes(entry.pathname, entry.linkpath):
                    raise _refuse(archive, entry.pathname, f"link to {entry.linkpath}")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(entry.linkpath, target)
            elif entry.isfile:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as out:
                    for block in entry.get_blocks():
                        out.write(block)


def available_rar_tools() -> list[str]:
    """The RAR extractors usable here, in the order they are tried."""
    found = [t for t in RAR_TOOLS[:3] if shutil.which(t) and (t != "unar" or shutil.which("lsar"))]
    try:
        import libarchive  # noqa: F401

        found.append("libarchive-c")
    except (ImportError, OSError):  # not installed, or the libarchive library is missing
        pass
    return found


def _rar(archive: Path, dest: Path, tool: Optional[str]) -> None:
    tools = available_rar_tools()
    if tool is None:
        if not tools:
            raise DabenchError(f"{archive.name} is a RAR archive and no RAR extractor was "
                               f"found; fix: {RAR_HELP}")
        tool = tools[0]
    if tool == "libarchive-c":
        _rar_libarchive(archive, dest)
    else:
        _rar_tool(tool, archive, dest)


def extract(archive: Path, dest: Path, fmt: str = "auto", *,
            rar_tool: Optional[str] = None) -> str:
    """Unpack `archive` into the existing folder `dest`; returns the format used.

    `fmt` 'auto' sniffs the file. Nothing outside `dest` is ever written; on a refused member
    the caller's temporary folder is expected to be removed.
    """
    archive, dest = Path(archive), Path(dest)
    found = sniff_format(archive)
    if found is None:
        raise DabenchError(f"{archive} is not a zip, tar or RAR archive (first bytes unknown); "
                           "fix: download it again: a web page saved instead of the file "
                           "starts like this")
    if fmt != "auto" and found != fmt:
        raise DabenchError(f"{archive} should be a {fmt} archive but is a {found} archive; "
                           "fix: download the file named in the registry")
    {"zip": _zip, "tar": _tar}.get(found, lambda a, d: _rar(a, d, rar_tool))(archive, dest)
    check_tree(archive, dest)
    return found
