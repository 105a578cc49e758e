"""Put a dataset in place: obtain each part's archive, unpack it into a temporary folder, rename
the result into `<data root>/<dir>/` only when complete, and record what was installed.

The record, `<dir>/.dabench-download.json`, holds per part the archive's name, size, sha256 and
md5, whether it was verified, and the entries it put in place; plus the sha256 recorded on first
use for sources without a published checksum. A part whose record and entries exist is skipped.
Unpacking and its crash safety: unpack.py.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

from dabench.data.download.fetch import Hashes, MirrorFailed, fetch, file_hashes, mismatch
from dabench.data.download.registry import DatasetSources, Part, Source
from dabench.data.download.unpack import place
from dabench.errors import DabenchError
from dabench.runs.store import write_atomic

MARKER = ".dabench-download.json"
WARNING_FILE = "UNVERIFIED-DOWNLOAD.txt"


@dataclass
class PartResult:
    part: str
    file: str
    status: str  # "extracted" or "already in place"
    hashes: Optional[Hashes]
    verified: bool
    first_use: bool = False  # sha256 recorded now (no published checksum)
    bytes_received: int = 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_marker(dataset_dir: Path) -> dict:
    path = dataset_dir / MARKER
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DabenchError(f"download record {path} is unreadable ({exc}); fix: delete it and "
                           "the folders it describes, then download again") from None
    return data if isinstance(data, dict) else {}


def _write_marker(dataset_dir: Path, marker: dict) -> None:
    write_atomic(dataset_dir / MARKER, json.dumps(marker, indent=2, sort_keys=True) + "\n")


# -- matching --from-file archives to parts -------------------------------------------------------

def _describe(source: Source, marker: Optional[dict] = None) -> str:
    known = source.sha256 and f"sha256 {source.sha256}" or source.md5 and f"md5 {source.md5}"
    trusted = _trusted(marker or {}, source)
    if not known and trusted:
        known = f"sha256 {trusted}, recorded on first use"
    return f"{source.label} ({known or 'no published checksum'})"


def _reset_hint(marker: dict, dataset_dir: Optional[Path]) -> str:
    """How to drop the hashes recorded on first use (when the first file was the wrong one)."""
    if not marker.get("first_use") or dataset_dir is None:
        return ""
    return (f"; if the file recorded on first use was the wrong one, delete the \"first_use\" "
            f"entry of {dataset_dir / MARKER} (or that file) and download again")


def forget_first_use(dataset_dir: Path, files: list[str]) -> None:
    """Drop the first-use hashes of `files` from the record (the data they came with failed
    `data check`, so they must not become the reference a correct download is refused by)."""
    marker = read_marker(dataset_dir)
    entries = marker.get("first_use", {})
    for key in [k for k, v in entries.items() if isinstance(v, dict) and v.get("file") in files]:
        del entries[key]
    if marker:
        _write_marker(dataset_dir, marker)


def match_from_files(ds: DatasetSources, paths: list[Path], marker: dict, verify: bool,
                     dataset_dir: Optional[Path] = None
                     ) -> dict[str, tuple[Path, Source, Hashes]]:
    """part name -> (path, source, hashes) for the user's files; an error for a file that fits
    no part (wrong file, damaged download)."""
    found: dict[str, tuple[Path, Source, Hashes]] = {}
    for path in paths:
        path = Path(path).expanduser()
        if not path.is_file():
            raise DabenchError(f"--from-file {path} does not exist or is not a file")
        got = file_hashes(path)
        hit = next(((part, source) for part in ds.parts for source in part.sources
                    if _fits(source, path, got, marker, verify)), None)
        if hit is None:
            expected = "; ".join(_describe(s, marker) for p in ds.parts for s in p.sources)
            raise DabenchError(
                f"--from-file {path} ({got.size} bytes, sha256 {got.sha256}) is none of the "
                f"files of {ds.display}: expected {expected}; fix: pass the file from "
                f"{ds.homepage} (a damaged or different download has other hashes), or add "
                f"--no-verify to use it unchecked{_reset_hint(marker, dataset_dir)}")
        found[hit[0].name] = (path, hit[1], got)
    return found


def _fits(source: Source, path: Path, got: Hashes, marker: dict, verify: bool) -> bool:
    """Is the user's file this source? By hash; by name only where no hash is known."""
    named = source.file in (None, path.name)
    if not verify:
        return named
    if source.sha256 or source.md5:  # a published hash decides, whatever the file is called
        return mismatch(source, got) is None
    return named and mismatch(source, got, _trusted(marker, source)) is None


def _trusted(marker: dict, source: Source) -> Optional[str]:
    """The sha256 recorded on first use for a source without a published one."""
    if source.sha256:
        return None
    entry = marker.get("first_use", {}).get(source.file or "*")
    return entry.get("sha256") if isinstance(entry, dict) else None


# -- obtaining an archive -------------------------------------------------------------------------

def manual_fix(ds: DatasetSources, part: Part, downloads: Path, command: str) -> str:
    """What to do by hand: the URLs, the exact place for the file, the command to rerun."""
    urls = [m.url for s in part.sources for m in s.mirrors]
    names = [s.file for s in part.sources if s.file]
    place = (f"put it at {downloads / names[0]}" + (f" (or {', '.join(names[1:])} there)"
                                                     if names[1:] else "")
             + f" or pass it with --from-file PATH, then run `{command}` again") if names \
        else f"then run `{command} --from-file PATH`"
    where = f"download it from {' or '.join(urls)}" if urls else \
        f"download it from {ds.homepage}"
    return f"{where} and {place}"


def _obtain(ds: DatasetSources, part: Part, downloads: Path, marker: dict, verify: bool,
            quiet: bool, say: Callable[[str], None], command: str,
            fetch_kwargs: dict) -> tuple[Path, Source, Hashes, int]:
    failures = []
    for source in part.sources:
        if not source.mirrors or source.file is None:
            failures.append(f"{source.label}: no download link is known")
            continue
        try:
            res = fetch(source, downloads, verify=verify, trusted_sha256=_trusted(marker, source),
                        quiet=quiet, say=say, **fetch_kwargs)
        except MirrorFailed as exc:
            failures.append(f"{source.label}: {exc}")
            continue
        return res.path, source, res.hashes, res.bytes_received
    recorded = any(_trusted(marker, s) for s in part.sources)
    reset = _reset_hint(marker, downloads.parent / ds.dir) if recorded else ""
    raise DabenchError(f"could not get the {part.name} of {ds.display} ({'; '.join(failures)}); "
                       f"fix: {manual_fix(ds, part, downloads, command)}{reset}", exit_code=1)


# -- the whole dataset ----------------------------------------------------------------------------

def _in_place(dataset_dir: Path, record: object) -> bool:
    return isinstance(record, dict) and bool(record.get("items")) and all(
        (dataset_dir / n).exists() for n in record["items"])


def install(ds: DatasetSources, data_root: Path, *, from_files: list[Path] = (),
            verify: bool = True, quiet: bool = False, rar_tool: Optional[str] = None,
            say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
            command: str = "dabench data download", **fetch_kwargs) -> list[PartResult]:
    """Download (or take from `from_files`), verify and unpack every part of `ds`."""
    dataset_dir = data_root / ds.dir
    downloads = data_root / "downloads"
    marker = read_marker(dataset_dir)
    given = match_from_files(ds, list(from_files), marker, verify, dataset_dir)
    made = [d for d in (dataset_dir, downloads) if not d.exists()]
    try:
        return _install_parts(ds, dataset_dir, downloads, marker, given, verify, quiet, rar_tool,
                              say, command, fetch_kwargs)
    except BaseException:
        for folder in made:  # a failed first attempt leaves no empty folder behind
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty (a partial download to resume) or never made
        raise


def _install_parts(ds: DatasetSources, dataset_dir: Path, downloads: Path, marker: dict,
                   given: dict, verify: bool, quiet: bool, rar_tool: Optional[str],
                   say: Callable[[str], None], command: str,
                   fetch_kwargs: dict) -> list[PartResult]:
    results = []
    for part in ds.parts:
        record = marker.get("parts", {}).get(part.name)
        redo = verify and isinstance(record, dict) and not record.get("verified")
        if part.name not in given and _in_place(dataset_dir, record) and not redo:
            results.append(PartResult(part.name, record["file"], "already in place", None,
                                      record.get("verified", False)))
            continue
        if part.name in given:
            path, source, hashes = given[part.name]
            received = 0
        else:
            path, source, hashes, received = _obtain(ds, part, downloads, marker, verify, quiet,
                                                     say, command, fetch_kwargs)
        ours = list(record["items"]) if isinstance(record, dict) else []
        items = place(path, source, dataset_dir, part.name, ours=ours, rar_tool=rar_tool, say=say)
        first_use = verify and not source.sha256 and _trusted(marker, source) is None
        if first_use:
            marker.setdefault("first_use", {})[source.file or "*"] = {
                "sha256": hashes.sha256, "size": hashes.size, "file": path.name,
                "recorded": _now(),
                "note": "no published checksum: this hash of the first complete download is "
                        "required from now on (trust on first use)"}
        marker.setdefault("parts", {})[part.name] = {
            "file": path.name, "size": hashes.size, "sha256": hashes.sha256, "md5": hashes.md5,
            "verified": verify, "items": items, "extracted": _now()}
        marker["dataset"] = ds.name
        _write_marker(dataset_dir, marker)
        results.append(PartResult(part.name, path.name, "extracted", hashes, verify, first_use,
                                  received))
    unverified = [f"{name}: {rec.get('file')} sha256 {rec.get('sha256')}"
                  for name, rec in marker.get("parts", {}).items() if not rec.get("verified")]
    if unverified:
        _warn_unverified(dataset_dir, unverified)
    elif (dataset_dir / WARNING_FILE).exists():
        (dataset_dir / WARNING_FILE).unlink()  # every part is verified now
    return results


def _warn_unverified(dataset_dir: Path, parts: list[str]) -> None:
    lines = [f"WARNING ({_now()}): `dabench data download --no-verify` put these files here "
             "without checking their size and hashes against the registry:"]
    lines += [f"  {p}" for p in parts]
    lines.append("Results computed on this data may not be comparable with published ones. "
                 "Download again without --no-verify to remove this warning.")
    write_atomic(dataset_dir / WARNING_FILE, "\n".join(lines) + "\n")
