"""Norpix `.seq` reader, on files built in the test to the public format description.

No real Olympic Sports file is available, so these check the reader against our reading of the
format (see dabench/data/video/norpix.py), not against the data set itself.
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dabench.data.video.norpix import read_seq_frames, read_seq_header, seq_num_frames
from dabench.data.video.decode import SeqBackend, SuffixBackend, segment_indices
from dabench.errors import DabenchError

H, W = 48, 64


def frames_rgb(n: int) -> list[np.ndarray]:
    """Smooth, distinct frames (JPEG keeps them within a few levels): (H, W, 3) uint8 each."""
    y, x = np.mgrid[0:H, 0:W]
    out = []
    for k in range(n):
        img = np.stack([np.full((H, W), 10 + 20 * k), x * 3, y * 4], axis=-1)
        out.append(img.clip(0, 255).astype(np.uint8))
    return out


def header(fmt: int, n: int, *, channels: int, version: int = 3, header_size: int = 1024,
           magic: int = 0xFEED, true_size: int = 0) -> bytes:
    """The 1024-byte header: magic, UTF-16 name, version, header size, description, 9 uint32s,
    fps (float64), zeros."""
    image_bytes = W * H * channels
    buf = bytearray(header_size)
    struct.pack_into("<I", buf, 0, magic)
    buf[4:28] = "Norpix seq\x00\x00".encode("utf-16-le")
    struct.pack_into("<iI", buf, 28, version, header_size)
    buf[36:36 + 2 * len("test clip")] = "test clip".encode("utf-16-le")
    struct.pack_into("<9I", buf, 548, W, H, 8 * channels, 8, image_bytes, fmt, n, 0, true_size)
    struct.pack_into("<d", buf, 584, 25.0)
    return bytes(buf)


def jpeg_bytes(img: np.ndarray, mono: bool = False) -> bytes:
    out = io.BytesIO()
    Image.fromarray(img).convert("L" if mono else "RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def write_seq(path: Path, frames: list[np.ndarray], *, fmt: int = 201, trailer: int = 16,
              count: int | None = None) -> Path:
    """Compressed records: uint32 (len + 4), image bytes, timestamp, zero padding."""
    body = bytearray()
    for k, img in enumerate(frames):
        data = jpeg_bytes(img, mono=fmt == 102)
        stamp = struct.pack("<iH", k // 25, (k % 25) * 40)  # seconds, milliseconds
        body += struct.pack("<I", len(data) + 4) + data + stamp.ljust(trailer, b"\x00")
    n = len(frames) if count is None else count
    path.write_bytes(header(fmt, n, channels=1 if fmt == 102 else 3) + bytes(body))
    return path


def write_raw_bgr(path: Path, frames: list[np.ndarray]) -> Path:
    """Format 200: BGR pixels, 6-byte timestamp, padded so each frame is a multiple of 512."""
    image_bytes = W * H * 3
    true_size = image_bytes + 6 + 512 - (image_bytes + 6) % 512
    body = b"".join(img[:, :, ::-1].tobytes().ljust(true_size, b"\x00") for img in frames)
    path.write_bytes(header(200, len(frames), channels=3, true_size=true_size) + body)
    return path


def close(a: np.ndarray, b: np.ndarray, tol: float = 3.0) -> bool:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) < tol


@pytest.mark.parametrize("trailer", [8, 16])
def test_colour_jpeg_reads_back(tmp_path, trailer):
    src = frames_rgb(12)
    path = write_seq(tmp_path / "clip.seq", src, trailer=trailer)
    assert seq_num_frames(path) == 12
    idx = segment_indices(12)
    assert idx == [1, 3, 6, 8, 10]
    got = read_seq_frames(path, idx)
    assert got.shape == (5, H, W, 3) and got.dtype == np.uint8
    for k, i in enumerate(idx):
        assert close(got[k], src[i]), f"frame {i}"
        assert not close(got[k], src[i - 1], tol=4.0), f"frame {i} looks like frame {i - 1}"


def test_header_fields(tmp_path):
    path = write_seq(tmp_path / "clip.seq", frames_rgb(3))
    hdr = read_seq_header(path)
    assert (hdr.width, hdr.height, hdr.image_format, hdr.allocated_frames) == (W, H, 201, 3)
    assert (hdr.version, hdr.header_size, hdr.bit_depth, hdr.fps) == (3, 1024, 24, 25.0)
    assert hdr.description == "test clip"
    assert hdr.kind == "jpeg"


def test_zero_frame_count_is_counted_by_walking(tmp_path):
    path = write_seq(tmp_path / "clip.seq", frames_rgb(7), trailer=8, count=0)
    assert seq_num_frames(path) == 7
    assert close(read_seq_frames(path, [6])[0], frames_rgb(7)[6])


def test_mono_jpeg_gives_three_equal_channels(tmp_path):
    src = frames_rgb(4)
    path = write_seq(tmp_path / "mono.seq", src, fmt=102)
    got = read_seq_frames(path, [2])[0]
    assert got.shape == (H, W, 3)
    assert np.array_equal(got[..., 0], got[..., 1]) and np.array_equal(got[..., 1], got[..., 2])
    grey = np.asarray(Image.fromarray(src[2]).convert("L"))
    assert close(got[..., 0], grey)


def test_raw_bgr_is_exact_and_rgb_ordered(tmp_path):
    src = frames_rgb(5)
    path = write_raw_bgr(tmp_path / "raw.seq", src)
    assert seq_num_frames(path) == 5
    got = read_seq_frames(path, [4, 0])
    assert np.array_equal(got[0], src[4]) and np.array_equal(got[1], src[0])


def test_backend_dispatch_by_suffix(tmp_path):
    src = frames_rgb(6)
    path = write_seq(tmp_path / "Clip.SEQ", src)
    backend = SuffixBackend(default=None, by_suffix={".seq": SeqBackend()})
    assert backend.num_frames(path) == 6
    assert close(backend.read_frames(path, [5])[0], src[5])


# --- damaged files: DabenchError naming the file ---

def must_fail(path: Path, pattern: str) -> None:
    with pytest.raises(DabenchError, match=re.escape(str(path)) + ".*" + pattern):
        read_seq_frames(path, [0])


def test_truncated_file(tmp_path):
    path = write_seq(tmp_path / "cut.seq", frames_rgb(6))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 700])  # cuts into the last frame
    must_fail(path, "truncated")
    with pytest.raises(DabenchError, match="truncated"):
        seq_num_frames(path)


def test_empty_short_and_foreign_files(tmp_path):
    empty = tmp_path / "empty.seq"
    empty.write_bytes(b"")
    must_fail(empty, r"empty \(0 bytes\)")
    short = tmp_path / "short.seq"
    short.write_bytes(header(201, 1, channels=3)[:500])
    must_fail(short, "too short")
    foreign = tmp_path / "foreign.seq"
    foreign.write_bytes(header(201, 1, channels=3, magic=0xBEEF) + b"\x00" * 100)
    must_fail(foreign, "not a Norpix")
    garbage = tmp_path / "garbage.seq"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    must_fail(garbage, "not a Norpix")
    must_fail(tmp_path / "missing.seq", "not found")


def test_corrupt_jpeg_payload(tmp_path):
    path = write_seq(tmp_path / "bad.seq", frames_rgb(3))
    data = bytearray(path.read_bytes())
    start = 1024 + 4 + 2  # first frame: size field, then SOI, then garbage instead of markers
    data[start:start + 400] = np.random.default_rng(1).integers(0, 256, 400, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    assert seq_num_frames(path) == 3  # the record walk does not decode
    must_fail(path, "frame 0 does not decode")


def test_record_without_jpeg_signature(tmp_path):
    path = write_seq(tmp_path / "nosig.seq", frames_rgb(3))
    data = bytearray(path.read_bytes())
    data[1028:1030] = b"\x00\x00"  # SOI of frame 0
    path.write_bytes(bytes(data))
    must_fail(path, "frame 0 at byte 1024 is not a JPEG record")


def test_unsupported_format_and_bad_index(tmp_path):
    path = tmp_path / "bayer.seq"
    path.write_bytes(header(101, 1, channels=1) + b"\x00" * (W * H + 512))
    must_fail(path, "unsupported image format 101")
    ok = write_seq(tmp_path / "ok.seq", frames_rgb(4))
    with pytest.raises(DabenchError, match="out of range for " + re.escape(str(ok))):
        read_seq_frames(ok, [4])


def test_missing_whole_frames_against_header_count(tmp_path):
    full = write_seq(tmp_path / "full.seq", frames_rgb(6), trailer=8)
    five = write_seq(tmp_path / "five.seq", frames_rgb(5), trailer=8)
    cut = tmp_path / "cut.seq"  # header of the 6-frame file, records of only 5
    cut.write_bytes(full.read_bytes()[:1024] + five.read_bytes()[1024:])
    must_fail(cut, r"header promises 6 frames, 5 complete")
