"""Test helpers for `dabench data download`: archives made on the fly and a loopback HTTP server.

RAR files are written here in the RAR 1.5-4.x format with the "store" method (no compression),
following the format's public technical note: the `rar` program is not free software and not
installable here. Names use the backslash separator, as archives made by WinRAR do.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import threading
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _rar_block(kind: int, flags: int, body: bytes) -> bytes:
    data = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(data) & 0xFFFF) + data


def make_rar(path: Path, members: dict[str, bytes | None],
             links: dict[str, str] | None = None) -> Path:
    """A stored RAR4 archive; a member whose content is None is a directory; `links` maps
    member names to symlink targets (a Unix-host entry whose data is the target)."""
    out = bytearray(b"Rar!\x1a\x07\x00")
    out += _rar_block(0x73, 0, struct.pack("<HI", 0, 0))  # archive header
    entries = [(n, d, None) for n, d in members.items()]
    entries += [(n, t.encode(), 0o120777) for n, t in (links or {}).items()]
    for name, data, link_mode in entries:
        is_dir = data is None
        data = b"" if is_dir else data
        raw = name.replace("/", "\\").encode()
        mode = link_mode or (0o40755 if is_dir else 0o100644)
        body = struct.pack("<IIBIIBBHI", len(data), len(data), 3, zlib.crc32(data),
                           0x21 << 16, 29, 0x30, len(raw), mode) + raw
        out += _rar_block(0x74, 0x8000 | (0xE0 if is_dir else 0), body) + data
    out += _rar_block(0x7B, 0x4000, b"")  # end of archive
    path.write_bytes(bytes(out))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A .tar.gz; `links` maps member names to symlink targets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """127.0.0.1 only. routes: path -> (bytes, behaviour); behaviours: 'ok', '404',
    'ignore-range' (always 200 with the whole body), 'drop-once' (the first answer stops after
    half the body and closes the connection). Counts bytes sent and records Range headers."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.sent: dict[str, int] = {}
        self.ranges: dict[str, list[str | None]] = {}
        self._dropped: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                data, mode = server.routes.get(self.path, (b"", "404"))
                server.ranges.setdefault(self.path, []).append(self.headers.get("Range"))
                if mode == "404":
                    self.send_error(404)
                    return
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng and mode != "ignore-range":
                    start, status = int(rng.split("=")[1].split("-")[0]), 206
                body = data[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if mode == "drop-once" and self.path not in server._dropped:
                    server._dropped.add(self.path)
                    body = body[: len(body) // 2]
                    self.close_connection = True
                self.wfile.write(body)
                self.wfile.flush()
                server.sent[self.path] = server.sent.get(self.path, 0) + len(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
