"""Frame sampling and decoding: real UCF101/HMDB51 clips, damaged copies, generated videos."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dabench.data.video.decode import (
    DecordBackend,
    SuffixBackend,
    VideoBackend,
    get_backend,
    segment_indices,
)
from dabench.errors import DabenchError

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
UCF = "v_SoccerJuggling_g23_c01.avi"
DIVX = "RATRACE_wave_f_nm_np1_fr_goo_37.avi"
# name -> (frames ffmpeg decodes, decord len() = container count, (H, W)); from the README there
CLIPS = {
    UCF: (240, 240, (240, 320)),
    DIVX: (72, 73, (240, 560)),
    "SchoolRulesHowTheyHelpUs_wave_f_nm_np1_ba_med_0.avi": (74, 75, (240, 320)),
    "TrumanShow_wave_f_nm_np1_fr_med_26.avi": (48, 49, (240, 432)),
    "hmdb51_Turnk_r_Pippi_Michel_cartwheel_f_cm_np2_le_med_6.avi": (83, 84, (240, 320)),
}


@pytest.fixture(scope="module")
def videos() -> Path:
    if not VIDEOS.is_dir():
        pytest.skip(f"real test clips not found at {VIDEOS} (the shared data folder is absent)")
    return VIDEOS


@pytest.fixture(scope="module")
def backend() -> VideoBackend:
    pytest.importorskip("decord", reason="decord2 is not installed (pip install decord2)")
    return get_backend()


def ffmpeg_frames(path: Path) -> np.ndarray:
    """Every frame as ffmpeg decodes it in order (PyAV): (N, H, W, 3) uint8, the reference."""
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install av)")
    with av.open(str(path), metadata_errors="ignore") as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- segment sampling (pure) ---

def test_segment_indices_are_segment_centres():
    assert segment_indices(240) == [24, 72, 120, 168, 216]
    assert segment_indices(73) == [7, 21, 36, 51, 65]
    assert segment_indices(48) == [4, 14, 24, 33, 43]
    assert segment_indices(3) == [0, 0, 1, 2, 2]
    assert segment_indices(1) == [0] * 5
    assert segment_indices(10, segments=2) == [2, 7]


@pytest.mark.parametrize("n", [0, -3])
def test_segment_indices_reject_empty_video(n):
    with pytest.raises(DabenchError, match="frames"):
        segment_indices(n)


# --- real clips ---

@pytest.mark.parametrize("name", sorted(CLIPS))
def test_num_frames_is_container_count(videos, backend, name):
    assert backend.num_frames(videos / name) == CLIPS[name][1]


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_segment_frames_match_ffmpeg(videos, backend, name):
    decoded, count, (h, w) = CLIPS[name]
    ref = ffmpeg_frames(videos / name)
    assert ref.shape == (decoded, h, w, 3)
    idx = segment_indices(backend.num_frames(videos / name))
    frames = backend.read_frames(videos / name, idx)
    assert frames.shape == (5, h, w, 3) and frames.dtype == np.uint8
    for k, i in enumerate(idx):
        assert mean_diff(frames[k], ref[i]) < 0.5, f"frame {i} of {name} differs from ffmpeg's"


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_dense_and_unordered_indices_match_ffmpeg(videos, backend, name):
    ref = ffmpeg_frames(videos / name)
    idx = [len(ref) - 1, 0, 17, 5, 5, 40]  # unsorted, repeated, includes the last real frame
    frames = backend.read_frames(videos / name, idx)
    assert [mean_diff(frames[k], ref[i]) < 0.5 for k, i in enumerate(idx)] == [True] * len(idx)


@pytest.mark.parametrize("name", sorted(n for n in CLIPS if n != UCF))
def test_phantom_last_index_reads_last_real_frame(videos, backend, name):
    decoded, count, _ = CLIPS[name]
    ref = ffmpeg_frames(videos / name)
    frame = backend.read_frames(videos / name, [count - 1])[0]
    assert mean_diff(frame, ref[decoded - 1]) < 0.5


def test_in_order_path_equals_random_access_on_seekable_clip(videos, backend):
    idx = segment_indices(240, 16)
    fast = DecordBackend().read_frames(videos / UCF, idx)
    slow = DecordBackend(random_access="never", chunk=7).read_frames(videos / UCF, idx)
    assert np.array_equal(fast, slow)


@pytest.mark.parametrize("bad", [[240], [-1], [0, 999]])
def test_index_out_of_range_names_file(videos, backend, bad):
    with pytest.raises(DabenchError, match=UCF):
        backend.read_frames(videos / UCF, bad)


# --- damaged copies ---

def damaged(tmp_path: Path, videos: Path, kind: str) -> Path:
    src = (videos / UCF).read_bytes()
    out = tmp_path / f"{kind}.avi"
    if kind == "zero":
        out.write_bytes(b"")
    elif kind == "truncated":
        out.write_bytes(src[: len(src) // 5])
    elif kind == "truncated_divx":
        out.write_bytes((videos / DIVX).read_bytes()[:20000])
    elif kind == "garbage":
        out.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, np.uint8).tobytes())
    elif kind == "garbage_mp4":  # not an .avi: only decord/ffmpeg can refuse it
        out = tmp_path / "garbage.mp4"
        out.write_bytes(np.random.default_rng(2).integers(0, 256, 50_000, np.uint8).tobytes())
    elif kind == "garbage_in_riff":  # a valid RIFF/AVI header around random bytes
        body = np.random.default_rng(1).integers(0, 256, 50_000, np.uint8).tobytes()
        out.write_bytes(b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"AVI " + body)
    return out


@pytest.mark.parametrize("kind", ["zero", "truncated", "truncated_divx", "garbage",
                                  "garbage_mp4", "garbage_in_riff", "missing"])
def test_damaged_file_raises_naming_file(videos, backend, tmp_path, kind):
    path = tmp_path / "missing.avi" if kind == "missing" else damaged(tmp_path, videos, kind)
    with pytest.raises(DabenchError, match=re.escape(str(path))):
        backend.num_frames(path)
    with pytest.raises(DabenchError, match=re.escape(str(path))):
        backend.read_frames(path, [0])


def test_damage_messages_say_what_is_wrong(videos, backend, tmp_path):
    with pytest.raises(DabenchError, match=r"empty \(0 bytes\)"):
        backend.num_frames(damaged(tmp_path, videos, "zero"))
    with pytest.raises(DabenchError, match="truncated"):
        backend.num_frames(damaged(tmp_path, videos, "truncated"))
    with pytest.raises(DabenchError, match="not found"):
        backend.num_frames(tmp_path / "nope.avi")


def test_copy_with_spaces_and_brackets_in_name_decodes(videos, backend, tmp_path):
    path = tmp_path / "a b (1) & [x] #!.avi"
    shutil.copy(videos / DIVX, path)
    assert backend.num_frames(path) == 73
    assert backend.read_frames(path, [0, 36]).shape == (2, 240, 560, 3)


# --- generated videos (PyAV): frame k is grey level 8*k, so an index error is visible ---

def write_grey_video(path: Path, n: int, size=(48, 64)) -> None:
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install av)")
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.height, s.width = size
        s.pix_fmt = "yuv420p"
        for k in range(n):
            img = np.full((*size, 3), 8 * k, np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


@pytest.mark.parametrize("random_access", ["auto", "never"])
def test_generated_video_frames_by_index(backend, tmp_path, random_access):
    path = tmp_path / "grey.avi"
    write_grey_video(path, 30)
    dec = DecordBackend(random_access=random_access, chunk=4)
    assert dec.num_frames(path) == 30
    idx = segment_indices(30)
    assert idx == [3, 9, 15, 21, 27]
    frames = dec.read_frames(path, idx)
    assert frames.shape == (5, 48, 64, 3)
    levels = frames.reshape(5, -1).mean(axis=1)
    assert np.allclose(levels, [8 * i for i in idx], atol=4), levels


# --- backend selection ---

def test_get_backend_routes_seq_files(backend):
    assert isinstance(backend, SuffixBackend)
    assert isinstance(backend, VideoBackend)
    assert type(backend._pick(Path("x/y.SEQ"))).__name__ == "SeqBackend"
    assert type(backend._pick(Path("x/y.avi"))).__name__ == "DecordBackend"


def test_get_backend_unknown_name():
    with pytest.raises(DabenchError, match="unknown video backend 'opencv'"):
        get_backend("opencv")


def test_missing_decord_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "decord", None)  # makes `import decord` raise ImportError
    with pytest.raises(DabenchError, match=r"pip install .dabench\[video\]."):
        get_backend()


def test_module_imports_without_torch():
    code = ("import sys, dabench.data.video.decode, dabench.data.video.splits, "
            "dabench.data.video.norpix; assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


class _RaisingOnLastReader:
    """Stand-in for a decord build that raises on the container's extra last index."""

    def __init__(self, n: int):
        self.n = n

    def get_batch(self, idx):
        if self.n - 1 in idx:
            raise RuntimeError("cannot decode frame")
        frames = np.stack([np.full((2, 2, 3), i, np.uint8) for i in idx])
        return type("Arr", (), {"asnumpy": lambda self: frames})()


@pytest.mark.parametrize("chunk", [1, 3, 4, 16])
def test_raising_phantom_index_repeats_last_real_frame(chunk):
    frames = DecordBackend(chunk=chunk)._read_in_order(_RaisingOnLastReader(9), [8, 0, 7], 9)
    assert frames[:, 0, 0, 0].tolist() == [7, 0, 7]
