"""The one atomic-write helper: old file or new file, never half of one, and durable."""

from __future__ import annotations

import os

import pytest

from dabench import atomic
from dabench.atomic import atomic_file, write_atomic


def test_writes_fsyncs_file_and_folder_and_leaves_no_temporary(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (synced.append(os.fstat(fd).st_mode),
                                                        real(fd)))
    target = tmp_path / "sub" / "result.json"
    write_atomic(target, "café\n")
    assert target.read_text(encoding="utf-8") == "café\n"
    assert [bool(m & 0o040000) for m in synced] == [False, True]  # the file, then its folder
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_an_error_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "features.npz"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match="No space"):
        with atomic_file(target) as fh:
            fh.write(b"half of the new")
            raise OSError(28, "No space left on device")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["features.npz"]


def test_keep_previous_rotates_the_old_file(tmp_path):
    target, previous = tmp_path / "checkpoint.pt", tmp_path / "checkpoint.prev.pt"
    for content in (b"one", b"two", b"three"):
        with atomic_file(target, keep_previous=previous) as fh:
            fh.write(content)
    assert (target.read_bytes(), previous.read_bytes()) == (b"three", b"two")
