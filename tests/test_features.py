"""Frame features and their cache: preprocessing, extraction (in-process and in workers), what a
second load does, crashes during a write or an extraction, damaged and missing files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch  # before decord (see test_video_tasks.py: decord's import would hijack CPU BLAS)

from dabench.data.video import frame_features as features
from dabench.data.video.frame_features import FeatureCache, FeatureSpec, iter_features, load_features
from dabench.data.video.decode import get_backend, segment_indices
from dabench.errors import DabenchError
from test_video_tasks import write_avi, write_seq
from test_video_tasks import count_extractions as counted

SPEC = FeatureSpec("resnet18", "none", segments=5, frame_size=16)
LENGTHS = {"a/one.avi": 10, "a/two (1)&!#.avi": 7, "b/three.avi": 3, "b/four.avi": 12,
           "c/five.seq": 9, "c/six.avi": 5}
OPTS = {"device": "cpu", "batch_size": 2, "num_workers": 0}


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install av)")
    pytest.importorskip("decord", reason="decord2 is not installed (pip install decord2)")
    root = tmp_path_factory.mktemp("videos")
    for k, (rel, n) in enumerate(LENGTHS.items()):
        if rel.endswith(".seq"):
            write_seq(root / rel, n, k)
        else:
            write_avi(av, root / rel, n, k)
    return root


@pytest.fixture
def videos(video_dir, tmp_path) -> Path:
    """A private copy, so a test may change or delete files."""
    return Path(shutil.copytree(video_dir, tmp_path / "videos"))


@pytest.fixture
def pooled(monkeypatch) -> int:
    """Replace ResNet by 2x2 average pooling (12-d features): the cache tests need speed, not
    a network. Returns the feature width."""
    monkeypatch.setattr(features, "build_extractor", lambda spec, device: torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten()))
    return 12



# --- preprocessing and the extractor ---

def test_preprocess_resizes_the_short_side_and_crops_the_centre():
    frames = np.zeros((2, 48, 96, 3), np.uint8)  # (T, H, W, 3)
    frames[:, :, 24:72] = 255  # the centre half is white
    out = features.preprocess(torch.from_numpy(frames), 16)
    assert out.shape == (2, 3, 16, 16) and out.dtype == torch.uint8
    assert int(out[..., 1:-1].min()) >= 250  # the crop is the white centre
    tall = features.preprocess(torch.zeros(1, 90, 30, 3, dtype=torch.uint8), 16)
    assert tall.shape == (1, 3, 16, 16)


def test_extractor_outputs_and_sampled_frames(videos):
    rels = list(LENGTHS)
    out = list(iter_features([videos / r for r in rels], SPEC, **OPTS))
    assert [len(f) for _, f in out] == [2, 2, 2]
    idx = torch.cat([i for i, _ in out])
    feats = torch.cat([f for _, f in out])
    assert feats.shape == (6, 5, 512) and feats.dtype == torch.float32
    backend = get_backend()
    assert idx.tolist() == [segment_indices(backend.num_frames(videos / r)) for r in rels]
    assert idx[2].tolist() == [0, 0, 1, 2, 2]  # 3 frames, 5 segments
    assert bool((feats >= 0).all())  # after ReLU and average pooling
    assert float((feats[0] - feats[3]).abs().mean()) > 0  # different videos differ
    # seeded random weights (weights=none): the same features every time
    again = torch.cat([f for _, f in iter_features([videos / rels[0]], SPEC, **OPTS)])
    assert torch.equal(again[0], feats[0])


def test_decoding_in_worker_processes_gives_the_same_features(videos):
    rels = list(LENGTHS)
    serial = torch.cat([f for _, f in iter_features([videos / r for r in rels], SPEC, **OPTS)])
    forked = torch.cat([f for _, f in iter_features([videos / r for r in rels], SPEC,
                                                      "cpu", 4, 2)])
    assert torch.allclose(serial, forked, atol=1e-5)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_damaged_video_is_named_without_a_worker_traceback(videos, workers):
    bad = videos / "a" / "broken.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 200)
    with pytest.raises(DabenchError) as err:
        list(iter_features([videos / "a/one.avi", bad], SPEC, "cpu", 2, workers))
    assert "broken.avi" in str(err.value) and "Traceback" not in str(err.value)


# --- the cache ---

def test_second_load_extracts_nothing(videos, tmp_path, monkeypatch, pooled):
    calls = counted(monkeypatch)
    rels = list(LENGTHS)
    first = load_features(videos, rels, SPEC, tmp_path / "store", **OPTS)
    assert (first.cached, first.extracted, calls) == (0, 6, [6])
    second = load_features(videos, rels, SPEC, tmp_path / "store", **OPTS)
    assert (second.cached, second.extracted, calls) == (6, 0, [6])
    assert torch.equal(first.features, second.features) and torch.equal(first.indices,
                                                                        second.indices)
    direct = torch.cat([f for _, f in iter_features([videos / r for r in rels], SPEC, **OPTS)])
    assert torch.allclose(second.features, direct, rtol=1e-5, atol=1e-6)  # float32, as TA3N's
    reordered = load_features(videos, rels[::-1], SPEC, tmp_path / "store", **OPTS)
    assert torch.equal(reordered.features, first.features.flip(0)) and calls == [6]


def test_only_missing_videos_are_extracted(videos, tmp_path, monkeypatch, pooled):
    calls = counted(monkeypatch)
    rels = list(LENGTHS)
    load_features(videos, rels[:4], SPEC, tmp_path / "store", **OPTS)
    res = load_features(videos, rels, SPEC, tmp_path / "store", **OPTS)
    assert calls == [4, 2] and (res.cached, res.extracted) == (4, 2)
    other = FeatureSpec("resnet18", "none", segments=3, frame_size=16)  # a new key: new cache
    assert other.tag() != SPEC.tag()
    res3 = load_features(videos, rels[:1], other, tmp_path / "store3", **OPTS)
    assert res3.features.shape == (1, 3, pooled) and calls == [4, 2, 1]


def test_changed_and_deleted_videos(videos, tmp_path, monkeypatch, pooled):
    av = pytest.importorskip("av")
    calls = counted(monkeypatch)
    rels = list(LENGTHS)
    before = load_features(videos, rels, SPEC, tmp_path / "store", **OPTS)
    write_avi(av, videos / "b/four.avi", frames=40, seed=99)  # replaced: another size
    after = load_features(videos, rels, SPEC, tmp_path / "store", **OPTS)
    assert calls == [6, 1] and after.extracted == 1
    assert after.indices[3].tolist() == segment_indices(40)
    assert not torch.equal(after.features[3], before.features[3])
    (videos / "a/one.avi").unlink()  # cached: still served without the file
    gone = load_features(videos, rels, SPEC, tmp_path / "store", **OPTS)
    assert gone.extracted == 0 and torch.equal(gone.features[0], before.features[0])
    with pytest.raises(DabenchError, match=r"2 of the 3 videos are missing from .*videos "
                                           r"\(x/new\.avi, y/new\.avi\)"):
        load_features(videos, ["x/new.avi", "a/one.avi", "y/new.avi"], SPEC,
                      tmp_path / "store", **OPTS)


def test_a_crash_during_a_write_leaves_no_shard(videos, tmp_path, monkeypatch, pooled):
    store = tmp_path / "store"
    real_save = torch.save

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a shard")  # some bytes reach the temporary file, then the process dies
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="No space left"):
        load_features(videos, list(LENGTHS), SPEC, store, **OPTS)
    assert list(store.iterdir()) == []  # neither a shard nor the temporary file
    monkeypatch.setattr(torch, "save", real_save)
    # a killed process leaves its temporary file behind: it is never read as a shard
    (store / ".shard-0123456789abcdef.pt.4242.tmp").write_bytes(b"half a shard")
    res = load_features(videos, list(LENGTHS), SPEC, store, **OPTS)
    assert res.extracted == 6 and len(FeatureCache(store).shards()) == 1


def test_an_interrupted_extraction_keeps_what_it_committed(videos, tmp_path, monkeypatch, pooled):
    real = features.iter_features

    def dies_after_two_batches(paths, *args, **kwargs):
        for k, batch in enumerate(real(paths, *args, **kwargs)):
            if k == 2:
                raise KeyboardInterrupt
            yield batch

    monkeypatch.setattr(features, "iter_features", dies_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        load_features(videos, list(LENGTHS), SPEC, tmp_path / "store", commit_every=2, **OPTS)
    assert len(FeatureCache(tmp_path / "store").index()) == 4  # two committed shards
    monkeypatch.setattr(features, "iter_features", real)
    calls = counted(monkeypatch)
    res = load_features(videos, list(LENGTHS), SPEC, tmp_path / "store", **OPTS)
    assert (res.cached, res.extracted, calls) == (4, 2, [2])


def test_a_damaged_shard_is_an_error_naming_it(videos, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "shard-0123456789abcdef.pt").write_bytes(b"not a torch file")
    with pytest.raises(DabenchError, match=r"shard-0123456789abcdef\.pt is damaged.*delete it"):
        load_features(videos, list(LENGTHS), SPEC, store, **OPTS)


def test_spec_tag_names_what_the_features_depend_on(tmp_path):
    assert SPEC.tag() == "resnet18-none-seg5-px16-v2"
    assert FeatureSpec().tag() == "resnet101-imagenet-seg5-px224-v2"
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"one")
    tag = FeatureSpec("resnet101", str(weights)).tag()
    assert tag.startswith("resnet101-file-") and len(tag.split("-")[2]) == 12
    weights.write_bytes(b"other weights")
    assert FeatureSpec("resnet101", str(weights)).tag() != tag
    with pytest.raises(DabenchError, match="does not exist"):
        FeatureSpec("resnet101", str(tmp_path / "nope.pth")).tag()
