"""Decode the few frames a video model samples, from UCF101/HMDB51 `.avi` and Olympic `.seq` files.

A backend has two methods: `num_frames(path)` and `read_frames(path, indices)` -> uint8 array of
shape (T, H, W, 3), RGB. `get_backend()` returns one that routes by file suffix: `.seq` to the
Norpix reader in `olympic_seq`, everything else to decord2 (`pip install decord2`, imported as
`decord`). Every failure becomes a `DabenchError` naming the file.

What was measured on the five real clips in `shared/data/videos` (decord2 3.4.0, checked pixel for
pixel against PyAV/ffmpeg, which decodes every frame in order):
- UCF101 Xvid: `len()` is right (240) and random access (`get_batch(sparse indices)`) is exact.
- HMDB51 DivX 5 (packed B-frames): the container has no timestamps (decord reports AV_NOPTS),
  `len()` is one more than ffmpeg decodes (73 vs 72), and random access is wrong: a sparse
  `get_batch` returns frame i-1 for index i, or frames from the wrong GOP (TrumanShow: 24 -> 4),
  and so do `seek_accurate`, `skip_frames` and `next()` on a fresh reader. Only contiguous
  `get_batch` calls from frame 0 match ffmpeg, and for the extra container index they return a
  copy of the last real frame.
So: random access is used only when every frame has a valid, increasing timestamp; otherwise
frames are decoded in order from 0 in contiguous chunks (memory: chunk x H x W x 3 bytes), and the
phantom last index reads as the last real frame (if a decord build raises there instead, it is
caught and the previous frame is repeated). `num_frames` stays the container count (what decord's
`len()` says), so sampling is deterministic without decoding the whole file.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from dabench.data.video.indices import check_indices
from dabench.data.video.norpix import read_seq_frames, seq_num_frames
from dabench.errors import DabenchError
from dabench.extras import import_extra

FIX = "re-extract it from the dataset archive"


def segment_indices(num_frames: int, segments: int = 5) -> list[int]:
    """0-based centre frame of each of `segments` equal segments (TA3N): int(n/s * (x + 0.5))."""
    if num_frames < 1:
        raise DabenchError(f"cannot sample frames from a video with {num_frames} frames; "
                           "the file holds no decodable frame, re-extract it")
    if segments < 1:
        raise DabenchError(f"segments must be >= 1, got {segments}; fix the task's frame count")
    return [int(num_frames / segments * (x + 0.5)) for x in range(segments)]


@runtime_checkable
class VideoBackend(Protocol):
    def num_frames(self, path: Path) -> int: ...

    def read_frames(self, path: Path, indices: Sequence[int]) -> np.ndarray: ...


def check_file(path: Path) -> int:
    """Size in bytes of an existing, non-empty regular file (the cheap failures, named clearly)."""
    if not path.exists():
        raise DabenchError(f"cannot decode video {path}: file not found; check the data root "
                           "and the split file")
    if not path.is_file():
        raise DabenchError(f"cannot decode video {path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise DabenchError(f"cannot decode video {path}: file is empty (0 bytes); {FIX}")
    return size


def check_avi(path: Path, size: int) -> None:
    """An .avi must start with RIFF....AVI and hold its whole `movi` chunk (the frame data).

    Decord opens a truncated AVI without complaint and reports fewer frames (a 100 kB head of a
    240-frame clip reads as 48 frames), so truncation is caught here from the chunk headers. The
    RIFF size itself is not trusted: the real UCF101 clip in shared/data ends 1514 bytes short of
    it (its trailing idx1 index is cut) yet all 240 frames decode.
    """
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"AVI ":
            raise DabenchError(f"cannot decode video {path}: not an AVI file (no RIFF/AVI "
                               f"header); {FIX}")
        pos = 12
        while pos + 12 <= size:  # top-level chunks: id (4), size (4), [list type (4)]
            f.seek(pos)
            chunk_id, chunk_size, list_type = struct.unpack("<4sI4s", f.read(12))
            if chunk_id == b"LIST" and list_type == b"movi":
                if pos + 8 + chunk_size > size:
                    break
                return
            pos += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    raise DabenchError(f"cannot decode video {path}: file is truncated (frame data incomplete, "
                       f"{size} bytes); {FIX}")


class DecordBackend:
    """decord2 reader: one VideoReader per call, so nothing is shared across DataLoader forks."""

    def __init__(self, num_threads: int = 1, chunk: int = 16, random_access: str = "auto"):
        if random_access not in ("auto", "never"):
            raise DabenchError(f"random_access must be 'auto' or 'never', got {random_access!r}")
        self.num_threads = num_threads  # 1: DataLoader workers already run in parallel
        self.chunk = chunk
        self.random_access = random_access

    def _open(self, path: Path):
        size = check_file(path)
        if path.suffix.lower() == ".avi":
            check_avi(path, size)
        decord = import_decord()
        try:
            return decord.VideoReader(str(path), num_threads=self.num_threads)
        except Exception as e:  # decord raises RuntimeError / DECORDError with no reason
            raise DabenchError(f"cannot decode video {path}: ffmpeg cannot open it (damaged or "
                               f"not a video); {FIX}") from e

    def num_frames(self, path: Path) -> int:
        path = Path(path)
        n = len(self._open(path))
        if n < 1:
            raise DabenchError(f"cannot decode video {path}: no video frames; {FIX}")
        return n

    def read_frames(self, path: Path, indices: Sequence[int]) -> np.ndarray:
        path = Path(path)
        vr = self._open(path)
        n = len(vr)
        idx = check_indices(path, indices, n)
        try:
            if self.random_access == "auto" and has_valid_timestamps(vr, n):
                frames = vr.get_batch(idx).asnumpy()  # (T, H, W, 3)
            else:
                frames = self._read_in_order(vr, idx, n)
        except DabenchError:
            raise
        except Exception as e:
            raise DabenchError(f"cannot decode video {path}: decoding failed ({e.__class__.__name__}"
                               f"); {FIX}") from e
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] != len(idx) \
                or frames.shape[3] != 3:
            raise DabenchError(f"cannot decode video {path}: got frames of shape {frames.shape}; "
                               f"{FIX}")
        return frames

    def _read_in_order(self, vr, idx: list[int], n: int) -> np.ndarray:
        """Decode 0..max(idx) in contiguous chunks, keep the wanted frames: (T, H, W, 3)."""
        wanted = sorted(set(idx))
        got: dict[int, np.ndarray] = {}
        end = wanted[-1] + 1
        last = None  # (H, W, 3): the last frame decoded so far
        for start in range(0, end, self.chunk):
            stop = min(start + self.chunk, end)
            batch = self._chunk(vr, start, stop, n, last)  # (stop - start, H, W, 3)
            last = batch[-1]
            for i in wanted:
                if start <= i < stop:
                    got[i] = batch[i - start].copy()  # copy: do not pin the whole chunk
        return np.stack([got[i] for i in idx])

    @staticmethod
    def _chunk(vr, start: int, stop: int, n: int, last) -> np.ndarray:
        try:
            return vr.get_batch(list(range(start, stop))).asnumpy()
        except Exception:
            # The container may promise one frame more than decodes (packed B-frames): if a
            # decord build raises on that index, repeat the last real frame in its place.
            if stop != n or (stop - start < 2 and last is None):
                raise
            head = vr.get_batch(list(range(start, stop - 1))).asnumpy() if stop - start > 1 \
                else last[None]
            return np.concatenate([head, head[-1:]])[-(stop - start):]


def has_valid_timestamps(vr, n: int) -> bool:
    """True when every frame has a non-negative, strictly increasing start time (seekable)."""
    ts = np.asarray(vr.get_frame_timestamp(list(range(n))))[:, 0]  # (n,) start seconds
    return bool(np.all(ts >= 0) and np.all(np.diff(ts) > 0))


class SeqBackend:
    """Olympic Sports `.seq` (Norpix) files, JPEG frames decoded with Pillow."""

    def num_frames(self, path: Path) -> int:
        return seq_num_frames(Path(path))

    def read_frames(self, path: Path, indices: Sequence[int]) -> np.ndarray:
        return read_seq_frames(Path(path), indices)


class SuffixBackend:
    """Routes each file by its suffix (lower case), falling back to `default`."""

    def __init__(self, default: VideoBackend, by_suffix: dict[str, VideoBackend]):
        self.default = default
        self.by_suffix = {k.lower(): v for k, v in by_suffix.items()}

    def _pick(self, path: Path) -> VideoBackend:
        return self.by_suffix.get(Path(path).suffix.lower(), self.default)

    def num_frames(self, path: Path) -> int:
        return self._pick(path).num_frames(Path(path))

    def read_frames(self, path: Path, indices: Sequence[int]) -> np.ndarray:
        return self._pick(path).read_frames(Path(path), indices)


def import_decord():
    """The decord module (from the decord2 distribution), with ffmpeg's log output silenced."""
    # torch first: decord2's import loads the nvidia-* wheels' libraries globally (NVBLAS among
    # them), and a torch imported afterwards sends CPU matrix products there and crashes.
    import torch  # noqa: F401

    decord = import_extra("decord", "video", "decoding videos")  # the decord2 distribution
    # QUIET silences ffmpeg's per-packet warnings; decord still prints one line of its own when a
    # file cannot be opened, which is why missing/empty/non-AVI files are caught before it.
    decord.logging.set_level(decord.logging.QUIET)
    return decord


BACKENDS = ("decord",)


def get_backend(name: str = "decord") -> VideoBackend:
    """The decoding backend by name; `.seq` files always go to the Norpix reader."""
    if name not in BACKENDS:
        raise DabenchError(f"unknown video backend {name!r}; choose one of {', '.join(BACKENDS)}")
    import_decord()  # fail now, with the install hint, rather than on the first video
    return SuffixBackend(DecordBackend(), {".seq": SeqBackend()})
