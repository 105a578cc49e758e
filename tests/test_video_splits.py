"""Video benchmark splits from official-format split files (synthetic here, real when provided)."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dabench.data.video.splits import (
    VideoItem,
    apply_class_map,
    read_hmdb51_split,
    read_olympic_split,
    read_ucf101_split,
)
from dabench.errors import DabenchError

# Benchmark class maps (shared name -> dataset folders), as the task files will hold them.
FULL_ORDER = ["climb", "fencing", "golf", "kick_ball", "pullup", "punch", "pushup", "ride_bike",
              "ride_horse", "shoot_ball", "shoot_bow", "walk"]
FULL_UCF = {"climb": ["RockClimbingIndoor", "RopeClimbing"], "fencing": ["Fencing"],
            "golf": ["GolfSwing"], "kick_ball": ["SoccerPenalty"], "pullup": ["PullUps"],
            "punch": ["Punch", "BoxingPunchingBag", "BoxingSpeedBag"], "pushup": ["PushUps"],
            "ride_bike": ["Biking"], "ride_horse": ["HorseRiding"], "shoot_ball": ["Basketball"],
            "shoot_bow": ["Archery"], "walk": ["WalkingWithDog"]}
FULL_HMDB = {name: [name] for name in FULL_ORDER}
SMALL_ORDER = ["golf", "pullup", "ride_bike", "ride_horse", "shoot_ball"]
SMALL_UCF = {k: FULL_UCF[k] for k in SMALL_ORDER}
SMALL_HMDB = {name: [name] for name in SMALL_ORDER}
OLY_ORDER = ["Basketball", "CleanAndJerk", "ThrowDiscus", "Diving", "PoleVault", "TennisSwing"]
OLY_FOLDERS = ["basketball_layup", "clean_and_jerk", "discus_throw", "diving_springboard_3m",
               "pole_vault", "tennis_serve"]
OLY_UCF = {name: [name] for name in OLY_ORDER}
OLY_OLY = {name: [folder] for name, folder in zip(OLY_ORDER, OLY_FOLDERS)}

UCF_FOLDERS = sorted({f for fs in FULL_UCF.values() for f in fs} | set(OLY_ORDER)
                     | {"ApplyEyeMakeup"})
CLIPS_PER_GROUP = 2


def write_ucf_lists(root: Path, folders=UCF_FOLDERS) -> Path:
    """ucfTrainTestlist/ for split 1 (groups 8-25 train, 1-7 test), CRLF, ids in train only."""
    d = root / "ucfTrainTestlist"
    d.mkdir(parents=True)
    train, test = [], []
    for cid, cls in enumerate(folders, 1):
        for g in range(1, 26):
            for c in range(1, CLIPS_PER_GROUP + 1):
                rel = f"{cls}/v_{cls}_g{g:02d}_c{c:02d}.avi"
                (test if g <= 7 else train).append(rel)
                if g > 7:
                    train[-1] = f"{rel} {cid}"
    (d / "trainlist01.txt").write_bytes(("\r\n".join(train) + "\r\n").encode())
    (d / "testlist01.txt").write_bytes(("\r\n".join(test) + "\r\n").encode())
    return root


def hmdb_name(cls: str, k: int) -> str:
    return f"{cls}_Clip(#{k})_&_Friends!_[v{k}]+x_f_cm_np1_le_med_{k}.avi"


def write_hmdb_lists(root: Path, classes=FULL_ORDER + ["wave"], flags="1111111222200") -> Path:
    """testTrainMulti_7030_splits/<class>_test_split1.txt: '<name> <flag> ' lines."""
    d = root / "testTrainMulti_7030_splits"
    d.mkdir(parents=True)
    for cls in classes:
        lines = [f"{hmdb_name(cls, k)} {flag} " for k, flag in enumerate(flags)]
        (d / f"{cls}_test_split1.txt").write_bytes(("\r\n".join(lines) + "\n").encode())
        (d / f"{cls}_test_split2.txt").write_text(f"{hmdb_name(cls, 99)} 1\n")  # other split
    return root


def write_olympic_lists(root: Path) -> Path:
    """train_test_split/{train,test}/<class>.txt; train ids with '.seq', test ids without."""
    for part, n, suffix in (("train", 5, ".seq"), ("test", 2, "")):
        d = root / "train_test_split" / part
        d.mkdir(parents=True)
        for cls in OLY_FOLDERS + ["bowling"]:
            ids = [f"-a{cls[:3]}_{k:05d}_{k + 100:05d}{suffix}" for k in range(n)]
            (d / f"{cls}.txt").write_text("\n".join(ids) + "\n\n")
    return root


# --- UCF101 ---

def test_ucf_split_follows_groups_and_crlf(tmp_path):
    train, test = read_ucf101_split(write_ucf_lists(tmp_path))
    n = len(UCF_FOLDERS)
    assert (len(train), len(test)) == (n * 18 * CLIPS_PER_GROUP, n * 7 * CLIPS_PER_GROUP)
    assert train[0] == ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "ApplyEyeMakeup")
    assert all(" " not in rel and "\r" not in rel for rel, _ in train + test)  # id, CR cut
    assert test[-1] == ("WalkingWithDog/v_WalkingWithDog_g07_c02.avi", "WalkingWithDog")
    groups = {int(re.search(r"_g(\d\d)_", rel).group(1)) for rel, _ in test}
    assert groups == set(range(1, 8))


def test_ucf_accepts_the_list_folder_itself(tmp_path):
    write_ucf_lists(tmp_path)
    a = read_ucf101_split(tmp_path)
    b = read_ucf101_split(tmp_path / "ucfTrainTestlist")
    assert a == b and len(a[0]) > 0


def test_ucf_small_and_full_maps(tmp_path):
    train, test = read_ucf101_split(write_ucf_lists(tmp_path))
    small = apply_class_map(train, SMALL_UCF, SMALL_ORDER)
    assert len(small) == 5 * 36
    assert Counter(i.label for i in small) == {k: 36 for k in range(5)}
    assert small[0] == VideoItem("Basketball/v_Basketball_g08_c01.avi", 4, "shoot_ball")
    full = apply_class_map(test, FULL_UCF, FULL_ORDER)
    per_class = Counter(i.class_name for i in full)
    assert per_class["climb"] == 2 * 14 and per_class["punch"] == 3 * 14  # folders merged
    assert per_class["walk"] == 14 and len(full) == 15 * 14  # 15 UCF folders in 12 classes
    assert all(i.label == FULL_ORDER.index(i.class_name) for i in full)
    assert not any(i.relpath.startswith("ApplyEyeMakeup/") for i in full)


def test_ucf_missing_and_malformed_files(tmp_path):
    with pytest.raises(DabenchError, match=r"ucfTrainTestlist not found.*trainlist01\.txt"):
        read_ucf101_split(tmp_path)
    write_ucf_lists(tmp_path)
    (tmp_path / "ucfTrainTestlist" / "testlist01.txt").unlink()
    with pytest.raises(DabenchError, match=r"testlist01\.txt is missing"):
        read_ucf101_split(tmp_path)
    (tmp_path / "ucfTrainTestlist" / "testlist01.txt").write_text("a.avi\n")
    with pytest.raises(DabenchError, match=r"testlist01\.txt, line 1: expected 'Class/file"):
        read_ucf101_split(tmp_path)
    with pytest.raises(DabenchError, match="split must be 1, 2 or 3"):
        read_ucf101_split(tmp_path, split=4)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_a_split_file_that_is_a_fifo_or_too_large_is_refused_without_blocking(tmp_path,
                                                                             monkeypatch):
    """A FIFO in place of a split file would block the read forever (no writer): it is refused
    by its kind; a file above the size limit by its size; each in one line naming the file."""
    write_ucf_lists(tmp_path)
    listed = tmp_path / "ucfTrainTestlist" / "testlist01.txt"
    listed.unlink()
    os.mkfifo(listed)
    with pytest.raises(DabenchError, match=r"split file .*testlist01\.txt is a FIFO \(named "
                                           r"pipe\), not a regular file; name a file"):
        read_ucf101_split(tmp_path)
    listed.unlink()
    listed.write_text("Biking/v_Biking_g01_c01.avi\n" * 30000)  # about 0.8 MB
    monkeypatch.setenv("DABENCH_MAX_FILE_MB", "0.5")
    with pytest.raises(DabenchError, match=r"testlist01\.txt is 0\.\d MB, above the limit of "
                                           r"0\.5 MB \(DABENCH_MAX_FILE_MB raises it\)"):
        read_ucf101_split(tmp_path)


# --- HMDB51 ---

def test_hmdb_ids_and_odd_names(tmp_path):
    train, test = read_hmdb51_split(write_hmdb_lists(tmp_path))
    n = len(FULL_ORDER) + 1
    assert (len(train), len(test)) == (7 * n, 4 * n)  # id 0 (unused) dropped
    assert ("golf/" + hmdb_name("golf", 0), "golf") in train
    assert ("golf/" + hmdb_name("golf", 10), "golf") in test
    assert ("golf/" + hmdb_name("golf", 11), "golf") not in train + test
    assert all(not rel.endswith((" ", "\r")) for rel, _ in train + test)
    assert not any("_99_" in rel or "med_99" in rel for rel, _ in train)  # split 2 not read


def test_hmdb_full_and_small_maps(tmp_path):
    train, test = read_hmdb51_split(write_hmdb_lists(tmp_path))
    full = apply_class_map(test, FULL_HMDB, FULL_ORDER)
    assert len(full) == 12 * 4 and {i.label for i in full} == set(range(12))
    small = apply_class_map(train, SMALL_HMDB, SMALL_ORDER)
    assert Counter(i.label for i in small) == {k: 7 for k in range(5)}
    assert small[0].class_name == "golf" and small[0].label == 0


def test_hmdb_missing_and_malformed(tmp_path):
    with pytest.raises(DabenchError, match=r"no HMDB51 split files '\*_test_split1\.txt'"):
        read_hmdb51_split(tmp_path)
    d = tmp_path / "testTrainMulti_7030_splits"
    d.mkdir()
    (d / "golf_test_split1.txt").write_text("swing.avi 3\n")
    with pytest.raises(DabenchError, match=r"golf_test_split1\.txt, line 1: expected"):
        read_hmdb51_split(tmp_path)


# --- Olympic Sports ---

def test_olympic_with_and_without_seq_suffix(tmp_path):
    train, test = read_olympic_split(write_olympic_lists(tmp_path))
    assert (len(train), len(test)) == (7 * 5, 7 * 2)  # blank lines ignored
    assert ("pole_vault/-apol_00000_00100.seq", "pole_vault") in train
    assert ("pole_vault/-apol_00001_00101.seq", "pole_vault") in test
    items = apply_class_map(test, OLY_OLY, OLY_ORDER)
    assert len(items) == 12 and Counter(i.label for i in items) == {k: 2 for k in range(6)}
    assert items[0] == VideoItem("basketball_layup/-abas_00000_00100.seq", 0, "Basketball")


def test_olympic_missing_part(tmp_path):
    write_olympic_lists(tmp_path)
    for f in (tmp_path / "train_test_split" / "test").iterdir():
        f.unlink()
    with pytest.raises(DabenchError, match=r"no Olympic Sports split files.*test"):
        read_olympic_split(tmp_path)


# --- class maps ---

def test_class_map_errors():
    items = [("A/x.avi", "A"), ("B/y.avi", "B")]
    with pytest.raises(DabenchError, match="mapped to both"):
        apply_class_map(items, {"a": ["A"], "b": ["A", "B"]}, ["a", "b"])
    with pytest.raises(DabenchError, match="same classes"):
        apply_class_map(items, {"a": ["A"]}, ["a", "b"])
    with pytest.raises(DabenchError, match=r"\['Cc'\].*spelling"):
        apply_class_map(items, {"a": ["A"], "c": ["Cc"]}, ["a", "c"])
    kept = apply_class_map(items, {"a": ["A"], "c": ["Cc"]}, ["c", "a"], require_all=False)
    assert kept == [VideoItem("A/x.avi", 1, "a")]


# --- a tiny tree of real (generated) videos behind the split files ---

def test_split_items_exist_and_decode(tmp_path):
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install av)")
    pytest.importorskip("decord", reason="decord2 is not installed (pip install decord2)")
    from dabench.data.video.decode import get_backend

    lists = write_hmdb_lists(tmp_path / "splits", classes=["golf", "pullup"], flags="1120")
    train, test = read_hmdb51_split(lists)
    items = apply_class_map(train + test, {"golf": ["golf"], "pullup": ["pullup"]},
                            ["pullup", "golf"])
    assert len(items) == 6
    root = tmp_path / "hmdb51"
    for item in items:
        write_video(av, root / item.relpath, frames=8)
    backend = get_backend()
    for item in items:
        assert backend.num_frames(root / item.relpath) == 8
        assert backend.read_frames(root / item.relpath, [0, 7]).shape == (2, 48, 64, 3)
    assert sorted({(i.class_name, i.label) for i in items}) == [("golf", 1), ("pullup", 0)]


def write_video(av, path: Path, frames: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        # 64x48: decord2 3.4 fails to copy frames of some tiny widths (32 px: size mismatch)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for k in range(frames):
            img = np.full((48, 64, 3), 20 * k, np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


# --- the published counts, checked only when the real split files are provided ---

@pytest.fixture
def real_splits() -> Path:
    root = os.environ.get("DABENCH_SPLITS_DIR")
    if not root:
        pytest.skip("set DABENCH_SPLITS_DIR to a folder holding ucfTrainTestlist/, "
                    "testTrainMulti_7030_splits/ and train_test_split/ to check real counts")
    return Path(root)


def counts(items_pair, class_map, order):
    return tuple(len(apply_class_map(part, class_map, order)) for part in items_pair)


def test_real_split_counts(real_splits):
    ucf = read_ucf101_split(real_splits)
    assert (len(ucf[0]), len(ucf[1])) == (9537, 3783)
    assert counts(ucf, FULL_UCF, FULL_ORDER) == (1438, 571)
    assert counts(ucf, SMALL_UCF, SMALL_ORDER) == (482, 189)
    assert counts(ucf, OLY_UCF, OLY_ORDER) == (601, 240)
    hmdb = read_hmdb51_split(real_splits)
    assert counts(hmdb, FULL_HMDB, FULL_ORDER) == (840, 360)
    assert counts(hmdb, SMALL_HMDB, SMALL_ORDER) == (350, 150)
    if (real_splits / "train_test_split").is_dir():
        assert counts(read_olympic_split(real_splits), OLY_OLY, OLY_ORDER) == (250, 54)
