"""The sources registry: which files make up each dataset and where to get them (sources.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml

from dabench.errors import DabenchError
from dabench.registry import suggest

SOURCES_FILE = Path(__file__).with_name("sources.yaml")
ARCHIVE_FORMATS = ("zip", "tar", "rar", "auto", "file")  # file: placed as is (IDX .gz, .mat)
_HEX = {"sha256": 64, "md5": 32}


@dataclass(frozen=True)
class Mirror:
    url: str
    origin: str  # where the URL was read ("from" in the YAML)
    verified: bool

    @property
    def is_gdrive(self) -> bool:
        return "drive.google.com" in self.url


@dataclass(frozen=True)
class Source:
    """One downloadable file (an archive) and how to unpack it."""

    file: Optional[str]  # None: any name (a manual-only source, matched by --from-file)
    format: str
    size: Optional[int]
    sha256: Optional[str]
    md5: Optional[str]
    hash_from: str
    mirrors: tuple[Mirror, ...]
    extract: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.file or "the archive"


@dataclass(frozen=True)
class Part:
    name: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class DatasetSources:
    name: str
    display: str
    dir: str  # folder under the data root
    check: str  # the name `dabench data check` takes
    homepage: str
    parts: tuple[Part, ...]
    notes: str = ""


def _where(name: str, *keys: object) -> str:
    return f"{SOURCES_FILE.name}: {'.'.join(str(k) for k in (name, *keys))}"


def _hash(value: Any, kind: str, where: str) -> Optional[str]:
    if value is None:
        return None
    if not (isinstance(value, str) and re.fullmatch(f"[0-9a-f]{{{_HEX[kind]}}}", value)):
        raise DabenchError(f"{where}.{kind}: expected {_HEX[kind]} lower-case hex digits, "
                           f"got {value!r}")
    return value


def _source(raw: dict, where: str) -> Source:
    fmt = raw.get("format", "auto")
    if fmt not in ARCHIVE_FORMATS:
        raise DabenchError(f"{where}.format: '{fmt}' is not one of {', '.join(ARCHIVE_FORMATS)}")
    size = raw.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise DabenchError(f"{where}.size: expected a positive byte count, got {size!r}")
    mirrors = tuple(Mirror(m["url"], str(m.get("from", "")), bool(m.get("verified", False)))
                    for m in raw.get("urls") or [])
    extract = raw.get("extract") or {}
    if not extract.get("expect"):
        raise DabenchError(f"{where}.extract.expect: list the paths the archive must produce")
    return Source(file=raw.get("file"), format=fmt, size=size,
                  sha256=_hash(raw.get("sha256"), "sha256", where),
                  md5=_hash(raw.get("md5"), "md5", where), hash_from=str(raw.get("hash_from", "")),
                  mirrors=mirrors, extract=extract)


def parse_sources(raw: dict) -> dict[str, DatasetSources]:
    """Validate the YAML mapping (dataset name -> entry) into DatasetSources."""
    out = {}
    for name, entry in raw.items():
        parts = []
        for part, spec in (entry.get("parts") or {}).items():
            sources = tuple(_source(s, _where(name, "parts", part, "sources", i))
                            for i, s in enumerate(spec.get("sources") or []))
            if not sources:
                raise DabenchError(f"{_where(name, 'parts', part)}: no sources")
            parts.append(Part(part, sources))
        out[name] = DatasetSources(name, entry["display"], entry["dir"], entry["check"],
                                   entry.get("homepage", ""), tuple(parts),
                                   " ".join(str(entry.get("notes", "")).split()))
    return out


@lru_cache(maxsize=1)
def load_sources() -> dict[str, DatasetSources]:
    return parse_sources(yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8")))


def dataset_sources(name: str) -> DatasetSources:
    """The registry entry for `name` (case- and spelling-tolerant), or a did-you-mean error."""
    table = load_sources()
    key = name.lower().replace("_", "-")
    aliases = {k.replace("-", ""): k for k in table}
    key = key if key in table else aliases.get(key.replace("-", ""), key)
    if key not in table:
        raise DabenchError(f"no download recipe for '{name}'.{suggest(name, list(table))} "
                           f"Known: {', '.join(table)}")
    return table[key]
