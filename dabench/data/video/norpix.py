"""Reader for Norpix StreamPix `.seq` files, the container of the Olympic Sports videos.

Format, as described by public readers (Piotr Dollar's Matlab toolbox `seqReaderPlugin.m` /
`seqWriterPlugin.m`, the `pims` NorpixSeq reader, the MOTR seek-table code); little-endian:

    offset  type        field
    0       uint32      magic 0xFEED
    4       24 bytes    name "Norpix seq" in UTF-16LE, then two UTF-16 NULs
    28      int32       version (Dollar's writer: 3; StreamPix 6 files: >= 5)
    32      uint32      header size = offset of the first frame (1024; pims: 8192 for version >= 5)
    36      512 bytes   description (UTF-16LE)
    548     uint32 x 9  width, height, bit depth (8 or 24), real bit depth (8), image size in bytes
                        (w*h*channels), image format, allocated frames, origin (0), true image size
    584     float64     suggested frame rate
    Image formats: 100 mono raw, 200 BGR raw, 101/103 Bayer (unsupported here), 102 mono JPEG,
    201 colour JPEG, 1/2 mono/colour PNG.
    Raw frames: fixed stride `true image size` from the header end; pixels row-major, then an
    8-byte timestamp and padding.
    Compressed frames (JPEG/PNG): uint32 N, then N-4 image bytes (N counts its own 4 bytes), then a
    trailer of 8 bytes (uint32 seconds, uint16 ms, uint16 us) or 16 bytes (Dollar's writer: int32
    seconds, uint16 ms, 10 zero bytes). Frames are found by walking these records; the trailer
    length is chosen per frame as the one after which the next record starts with an image
    signature (JPEG FF D8, PNG 89 50 4E 47).

What was checked: only files built to this description by the tests (tests/test_olympic_seq.py):
header fields, both trailer lengths, colour and mono JPEG, BGR raw, frame count, frame shape and
pixel values, and rejection of truncated, empty, wrong-magic and corrupt-JPEG files.
What was NOT checked: no real Olympic Sports file is available here, so it is unverified that
those files use format 201/102 (public Olympic loaders decode them as JPEG), which trailer length
they use, whether their header frame count is filled in (0 is accepted: frames are then counted by
walking the file), and their colour order (JPEG frames are decoded as standard RGB JPEG). StreamPix
versions >= 5 (8192-byte header) are read through the header-size field, also untested on real data.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from dabench.data.video.indices import check_indices
from dabench.errors import DabenchError

MAGIC = 0xFEED
NAME = "Norpix seq"
MIN_HEADER = 1024
SEQ_IMAGE_FORMATS = {  # image format -> (kind, channels)
    100: ("raw", 1), 200: ("raw", 3), 102: ("jpeg", 1), 201: ("jpeg", 3), 1: ("png", 1),
    2: ("png", 3),
}
SIGNATURES = {"jpeg": b"\xff\xd8", "png": b"\x89PNG"}
TRAILERS = (8, 16)  # bytes after a compressed image: timestamp, or timestamp + zero padding
FIX = "re-extract it from the Olympic Sports archive"


@dataclass(frozen=True)
class SeqHeader:
    version: int
    header_size: int
    description: str
    width: int
    height: int
    bit_depth: int
    bit_depth_real: int
    image_size_bytes: int
    image_format: int
    allocated_frames: int
    origin: int
    true_image_size: int
    fps: float

    @property
    def kind(self) -> str:
        return SEQ_IMAGE_FORMATS[self.image_format][0]


def _fail(path: Path, why: str) -> DabenchError:
    return DabenchError(f"cannot decode video {path}: {why}; {FIX}")


def read_seq_header(path: Path) -> SeqHeader:
    """Parse and validate the 1024-byte header (see the module docstring for the layout)."""
    path = Path(path)
    if not path.is_file():
        raise DabenchError(f"cannot decode video {path}: file not found; check the data root "
                           "and the split file")
    with path.open("rb") as f:
        buf = f.read(MIN_HEADER)
    if len(buf) == 0:
        raise _fail(path, "file is empty (0 bytes)")
    if len(buf) < MIN_HEADER:
        raise _fail(path, f"{len(buf)} bytes, too short for a Norpix .seq header (1024)")
    magic, = struct.unpack_from("<I", buf, 0)
    name = buf[4:28].decode("utf-16-le", errors="replace").rstrip("\x00")
    if magic != MAGIC or name != NAME:
        raise _fail(path, f"not a Norpix .seq file (magic {magic:#x}, name {name!r})")
    version, header_size = struct.unpack_from("<iI", buf, 28)
    fields = struct.unpack_from("<9I", buf, 548)
    fps, = struct.unpack_from("<d", buf, 584)
    description = buf[36:548].decode("utf-16-le", errors="replace").split("\x00")[0]
    hdr = SeqHeader(version, header_size, description, *fields, fps)
    _validate(path, hdr)
    return hdr


def _validate(path: Path, hdr: SeqHeader) -> None:
    if hdr.header_size < MIN_HEADER:
        raise _fail(path, f"header size {hdr.header_size} < 1024")
    if hdr.image_format not in SEQ_IMAGE_FORMATS:
        raise _fail(path, f"unsupported image format {hdr.image_format} "
                          f"(supported: {sorted(SEQ_IMAGE_FORMATS)})")
    if not (0 < hdr.width <= 16384 and 0 < hdr.height <= 16384):
        raise _fail(path, f"implausible frame size {hdr.width}x{hdr.height}")
    if hdr.bit_depth_real != 8 or hdr.bit_depth != 8 * SEQ_IMAGE_FORMATS[hdr.image_format][1]:
        raise _fail(path, f"unsupported bit depth {hdr.bit_depth} (real {hdr.bit_depth_real})")
    channels = SEQ_IMAGE_FORMATS[hdr.image_format][1]
    if hdr.kind == "raw" and hdr.image_size_bytes != hdr.width * hdr.height * channels:
        raise _fail(path, f"header image size {hdr.image_size_bytes} bytes is not width x "
                          f"height x channels = {hdr.width}x{hdr.height}x{channels} = "
                          f"{hdr.width * hdr.height * channels}")
    if hdr.kind == "raw" and hdr.true_image_size < hdr.image_size_bytes:
        raise _fail(path, f"true image size {hdr.true_image_size} < image size "
                          f"{hdr.image_size_bytes}")


def seq_num_frames(path: Path) -> int:
    """Number of complete frames (the header count, checked against the bytes present)."""
    return len(_index(Path(path)))


def _index(path: Path) -> tuple[int, ...]:
    stat = path.stat() if path.is_file() else None
    key = (str(path), stat.st_size, stat.st_mtime_ns) if stat else (str(path), -1, -1)
    return _index_cached(*key)


@lru_cache(maxsize=4096)
def _index_cached(path_str: str, size: int, _mtime: int) -> tuple[int, ...]:
    """Byte offset of every frame: raw -> its pixels, compressed -> its size field."""
    path = Path(path_str)
    hdr = read_seq_header(path)
    if hdr.kind == "raw":
        offsets = _raw_offsets(hdr, size)
    else:
        with path.open("rb") as f:
            offsets = _walk_compressed(path, f, hdr, size)
    if hdr.allocated_frames and len(offsets) < hdr.allocated_frames:
        raise _fail(path, f"file is truncated (header promises {hdr.allocated_frames} frames, "
                          f"{len(offsets)} complete)")
    if not offsets:
        raise _fail(path, "no frames after the header")
    return tuple(offsets)


def _raw_offsets(hdr: SeqHeader, size: int) -> list[int]:
    # frame i is complete when header_size + i * stride + image_size_bytes <= size
    room = size - hdr.header_size - hdr.image_size_bytes
    available = room // hdr.true_image_size + 1 if room >= 0 else 0
    count = min(available, hdr.allocated_frames) if hdr.allocated_frames else available
    return [hdr.header_size + i * hdr.true_image_size for i in range(count)]


def _walk_compressed(path: Path, f, hdr: SeqHeader, size: int) -> list[int]:
    """Follow the size-prefixed records from the header end; stop at the header count or EOF."""
    sig = SIGNATURES[hdr.kind]
    offsets: list[int] = []
    pos = hdr.header_size
    while pos + 4 + len(sig) <= size:
        n_bytes = _u32(f, pos)
        end = pos + n_bytes  # end of the image bytes (n_bytes counts the 4-byte size field)
        bad = n_bytes <= 4 + len(sig) or _read(f, pos + 4, len(sig)) != sig
        if (bad or end > size) and offsets and not hdr.allocated_frames:
            break  # no count in the header: trailing bytes end the walk
        if bad:
            raise _fail(path, f"frame {len(offsets)} at byte {pos} is not a "
                              f"{hdr.kind.upper()} record (size field {n_bytes})")
        if end > size:
            raise _fail(path, f"file is truncated (frame {len(offsets)} ends at byte {end}, "
                              f"the file has {size})")
        offsets.append(pos)
        if len(offsets) == hdr.allocated_frames:
            break
        pos = _next_record(f, end, size, sig)
    return offsets


def _next_record(f, end: int, size: int, sig: bytes) -> int:
    """Offset of the record after an image ending at `end`, or `size` when none follows."""
    for trailer in TRAILERS:
        start = end + trailer
        if start + 4 + len(sig) <= size and _read(f, start + 4, len(sig)) == sig:
            return start
    return size


def _read(f, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _u32(f, offset: int) -> int:
    return struct.unpack("<I", _read(f, offset, 4))[0]


def read_seq_frames(path: Path, indices: Sequence[int]) -> np.ndarray:
    """Frames at `indices` as uint8 RGB, shape (T, H, W, 3)."""
    path = Path(path)
    offsets = _index(path)
    idx = check_indices(path, indices, len(offsets))
    hdr = read_seq_header(path)
    out = np.empty((len(idx), hdr.height, hdr.width, 3), dtype=np.uint8)
    with path.open("rb") as f:
        for k, i in enumerate(idx):
            out[k] = _decode(path, f, hdr, offsets[i], i)
    return out


def _decode(path: Path, f, hdr: SeqHeader, offset: int, i: int) -> np.ndarray:
    channels = SEQ_IMAGE_FORMATS[hdr.image_format][1]
    if hdr.kind == "raw":
        raw = np.frombuffer(_read(f, offset, hdr.image_size_bytes), dtype=np.uint8)
        img = raw.reshape(hdr.height, hdr.width, channels)  # (H, W, C), BGR when C == 3
        return np.repeat(img, 3, axis=2) if channels == 1 else img[:, :, ::-1]
    data = _read(f, offset + 4, _u32(f, offset) - 4)
    return _decode_image(path, data, hdr, i)


def _decode_image(path: Path, data: bytes, hdr: SeqHeader, i: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"))  # (H, W, 3); load errors surface here
    except Exception as e:
        raise _fail(path, f"frame {i} does not decode as {hdr.kind.upper()} "
                          f"({e.__class__.__name__}: {e})") from e
    if rgb.shape[:2] != (hdr.height, hdr.width):
        raise _fail(path, f"frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, header says "
                          f"{hdr.width}x{hdr.height}")
    return rgb
