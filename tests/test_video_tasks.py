"""Video tasks end to end on a tiny generated tree: the task files, class maps and split sizes,
the loader (decode -> ResNet features -> cache), missing-data errors, a few training steps of
both temporal modules, and `dabench extract-features`.

The tree's videos are generated (PyAV, MPEG-4 at 64x48: decord2 3.4 cannot copy frames of some
tiny widths such as 16/24/32/48/96); Olympic clips are Norpix .seq files with JPEG frames; split
files follow the official formats (CRLF lines; HMDB51 names with `( ) & ! #`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch  # noqa: F401  (before decord: see below)
import yaml

from dabench.config import resolve
from dabench.errors import DabenchError
from dabench.tasks.catalog import load_catalog

# torch must be imported before decord: decord2's import dlopens every library of the nvidia-*
# wheels with RTLD_GLOBAL, NVBLAS (libnvblas) included, and if that happens first, torch's CPU
# matrix products bind to NVBLAS and crash (segfault in nn.Linear on CPU).

FULL_UCF = {"climb": ["RockClimbingIndoor", "RopeClimbing"], "fencing": ["Fencing"],
            "golf": ["GolfSwing"], "kick_ball": ["SoccerPenalty"], "pullup": ["PullUps"],
            "punch": ["Punch", "BoxingPunchingBag", "BoxingSpeedBag"], "pushup": ["PushUps"],
            "ride_bike": ["Biking"], "ride_horse": ["HorseRiding"], "shoot_ball": ["Basketball"],
            "shoot_bow": ["Archery"], "walk": ["WalkingWithDog"]}
OLY_UCF = ["Basketball", "CleanAndJerk", "ThrowDiscus", "Diving", "PoleVault", "TennisSwing"]
OLY_FOLDERS = ["basketball_layup", "clean_and_jerk", "discus_throw", "diving_springboard_3m",
               "pole_vault", "tennis_serve"]
UCF_FOLDERS = sorted({f for fs in FULL_UCF.values() for f in fs} | set(OLY_UCF))
UCF_DISTRACTOR = "YoYo"  # in the split files, no videos: must never be opened
HMDB_CLASSES = list(FULL_UCF)
HMDB_DISTRACTOR = "wave"
UCF_TRAIN_GROUPS = (8, 9)  # official split 1: groups 8-25 train, 1-7 test
UCF_TEST_GROUPS = (1,)
HMDB_FLAGS = "1120"  # per class: two train, one test, one unused (no file)
FRAMES = 10


def write_avi(av, path: Path, frames: int = FRAMES, seed: int = 0) -> None:
    """A short MPEG-4 .avi, 64x48, frame k a flat colour that depends on k and `seed`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for k in range(frames):
            img = np.zeros((48, 64, 3), np.uint8)
            img[..., 0] = (20 * k) % 256
            img[..., 1] = (37 * seed) % 256
            img[:, 32:, 2] = 200
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


def write_seq(path: Path, frames: int = FRAMES, seed: int = 0) -> None:
    """A Norpix .seq (version 3, colour JPEG format 201, 16-byte trailers), 64x48."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = 64, 48
    hdr = bytearray(1024)
    struct.pack_into("<I", hdr, 0, 0xFEED)
    hdr[4:4 + 24] = "Norpix seq".encode("utf-16-le").ljust(24, b"\x00")
    struct.pack_into("<iI", hdr, 28, 3, 1024)
    struct.pack_into("<9I", hdr, 548, w, h, 24, 8, w * h * 3, 201, frames, 0, w * h * 3)
    struct.pack_into("<d", hdr, 584, 30.0)
    body = bytearray()
    for k in range(frames):
        img = np.full((h, w, 3), ((20 * k) % 256, (37 * seed) % 256, 90), np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=95)
        data = buf.getvalue()
        body += struct.pack("<I", len(data) + 4) + data + struct.pack("<iH", k, 0) + bytes(10)
    path.write_bytes(bytes(hdr) + bytes(body))


def crlf(lines: list[str]) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode()


def hmdb_name(cls: str, k: int) -> str:
    return f"Bart_&_Homer!_(#{k})_{cls}_f_cm_np1_fr_med_{k}.avi"


def build_tree(av, root: Path) -> dict[str, int]:
    """The data root of the tests; returns how many video files were written per dataset."""
    ucf = root / "ucf101"
    lists = ucf / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    folders = UCF_FOLDERS + [UCF_DISTRACTOR]
    lists.joinpath("classInd.txt").write_bytes(crlf([f"{i} {c}" for i, c in enumerate(folders, 1)]))
    train, test, written = [], [], {"ucf101": 0, "hmdb51": 0, "olympic-sports": 0}
    for i, cls in enumerate(folders, 1):
        for g in UCF_TRAIN_GROUPS + UCF_TEST_GROUPS:
            rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
            (train if g >= 8 else test).append(f"{rel} {i}" if g >= 8 else rel)
            if cls != UCF_DISTRACTOR:
                write_avi(av, ucf / "UCF-101" / rel, seed=i * 10 + g)
                written["ucf101"] += 1
    lists.joinpath("trainlist01.txt").write_bytes(crlf(train))
    lists.joinpath("testlist01.txt").write_bytes(crlf(test))

    hmdb = root / "hmdb51"
    splits = hmdb / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for c, cls in enumerate(HMDB_CLASSES + [HMDB_DISTRACTOR]):
        lines = []
        for k, flag in enumerate(HMDB_FLAGS):
            lines.append(f"{hmdb_name(cls, k)} {flag} ")
            if flag != "0" and cls != HMDB_DISTRACTOR:
                write_avi(av, hmdb / cls / hmdb_name(cls, k), seed=100 + c * 10 + k)
                written["hmdb51"] += 1
        splits.joinpath(f"{cls}_test_split1.txt").write_bytes(crlf(lines))

    oly = root / "olympic_sports"
    for c, cls in enumerate(OLY_FOLDERS + ["bowling"]):
        for part, ids in (("train", ["a1", "a2"]), ("test", ["b1"])):
            folder = oly / "train_test_split" / part
            folder.mkdir(parents=True, exist_ok=True)
            vids = [f"{cls}_{i}" for i in ids]
            folder.joinpath(f"{cls}.txt").write_bytes(crlf(vids))
            if cls != "bowling":
                for v in vids:
                    write_seq(oly / cls / f"{v}.seq", seed=200 + c * 10 + len(v))
                    written["olympic-sports"] += 1
    return written


# split sizes of the tree through each benchmark's class map: (train, test)
TREE_COUNTS = {
    ("ucf-hmdbfull", "ucf"): (30, 15), ("ucf-hmdbfull", "hmdb"): (24, 12),
    ("ucf-hmdbsmall", "ucf"): (10, 5), ("ucf-hmdbsmall", "hmdb"): (10, 5),
    ("ucf-olympic", "ucf"): (12, 6), ("ucf-olympic", "olympic"): (12, 6),
}
VIDEO_TASKS = ["ucf-to-hmdbfull", "hmdbfull-to-ucf", "ucf-to-hmdbsmall", "hmdbsmall-to-ucf",
               "ucf-to-olympic", "olympic-to-ucf"]
# Small enough for a CPU test: ResNet-18, random init (seeded), on 16x16 centre crops.
TINY_FEATURES = {"backbone.name": "resnet18", "backbone.weights": "none",
                 "video.frame_size": 16, "video.decode_workers": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    av = pytest.importorskip("av", reason="PyAV is not installed (pip install av)")
    pytest.importorskip("decord", reason="decord2 is not installed (pip install decord2)")
    root = tmp_path_factory.mktemp("data")
    assert build_tree(av, root) == {"ucf101": 60, "hmdb51": 36, "olympic-sports": 18}
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("features")


def tiny_task(name: str, cache: Path | None = None, features: bool = True):
    """The built-in task with the tree's split sizes and (optionally) tiny feature settings."""
    task = load_catalog().task(name)

    def fit(d):
        train, test = TREE_COUNTS[(task.family, d.key)]
        return dataclasses.replace(d, options={**d.options,
                                               "expected": {"train": train, "test": test}})

    config = dict(task.config)
    if features:
        config.update(TINY_FEATURES)
    if cache is not None:
        config["video.cache_dir"] = str(cache)
    return dataclasses.replace(task, source=fit(task.source),
                               targets=tuple(fit(d) for d in task.targets), config=config)


def count_extractions(monkeypatch) -> list[int]:
    """Patch the extractor to record how many videos each call is asked for."""
    from dabench.data.video import frame_features as features

    calls: list[int] = []
    real = features.iter_features

    def counting(paths, *args, **kwargs):
        calls.append(len(paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(features, "iter_features", counting)
    return calls


# --- the task files ---

def test_catalog_has_the_video_tasks_with_the_ta3n_recipe():
    from dabench.training.phase import lr_factor

    catalog = load_catalog()
    titles = {n: catalog.task(n).title for n in VIDEO_TASKS}
    assert titles == {"ucf-to-hmdbfull": "UCF-to-HMDBfull", "hmdbfull-to-ucf": "HMDBfull-to-UCF",
                      "ucf-to-hmdbsmall": "UCF-to-HMDBsmall", "hmdbsmall-to-ucf": "HMDBsmall-to-UCF",
                      "ucf-to-olympic": "UCF-to-Olympic", "olympic-to-ucf": "Olympic-to-UCF"}
    assert [catalog.task(n).num_classes for n in VIDEO_TASKS] == [12, 12, 5, 5, 6, 6]
    assert all(catalog.task(n).modality == "video" for n in VIDEO_TASKS)
    assert catalog.task("olympic-to-hmdbsmall").name == "olympic-to-ucf"
    assert any("mislabel" in note for note in catalog.task("olympic-to-ucf").notes)
    assert [t.name for t in catalog.expand(["video"])] == VIDEO_TASKS
    assert [t.name for t in catalog.expand(["ucf-hmdb"])] == VIDEO_TASKS[:4]
    assert [t.name for t in catalog.expand(["ucf-olympic"])] == VIDEO_TASKS[4:]
    for name in VIDEO_TASKS:
        task = catalog.task(name)
        n = task.source.options["expected"]["train"]  # the source training videos
        cfg = resolve(task, "revgrad", 1, {})
        per_epoch = -(-n // cfg.batch_size)  # ceil: TA3N iterates over the last, ragged batch
        assert (cfg.steps, cfg.eval_every) == (30 * per_epoch, per_epoch)  # 30 epochs
        # TA3N counts epochs from 1 (main.py 228, 350): the lr schedule's p starts at 1/30 and
        # reaches 1 at the last step's end
        lr0 = lr_factor(cfg, 0)
        lr_end = lr_factor(cfg, cfg.steps)
        assert lr0 == pytest.approx((1 + 10 / 30) ** -0.75)
        assert lr_end == pytest.approx((1 + 10 * 31 / 30) ** -0.75)


def test_published_accuracies_are_counts_of_the_target_test_videos():
    """Each published accuracy is k / n for the target test size n the task file expects (the
    split is the published one), unless its entry notes why not."""
    from dabench.reporting.aggregate import is_k_over_n

    catalog = load_catalog()
    for name in VIDEO_TASKS:
        task = catalog.task(name)
        n = task.targets[0].options["expected"]["test"]
        fits = [is_k_over_n(p.value, n) for p in task.published]
        assert sum(fits) >= 2, name  # n is the denominator of the task's values
        for p, fit in zip(task.published, fits):
            assert fit or "k/" in p.note, (name, p.method, p.value, n)


def test_directions_differ_in_the_relation_grl_weight_only():
    """TA3N (script_train_val.sh 80-82) raises only beta_0, the relation level, to 1 for
    HMDB -> UCF; the networks built for the two directions reverse the video- and frame-level
    gradients alike."""
    from dabench.models.build import build_network

    catalog = load_catalog()
    for there, back in (("ucf-to-hmdbfull", "hmdbfull-to-ucf"),
                        ("ucf-to-hmdbsmall", "hmdbsmall-to-ucf")):
        nets = [build_network(5, resolve(catalog.task(n), "revgrad", 0,
                                         {"model.temporal": "temrelation"}))
                for n in (there, back)]
        w_there, w_back = (n.domain_weights for n in nets)
        assert {k for k in w_there if w_there[k] != w_back[k]} == {"relation"}
        assert w_back["relation"] > w_there["relation"]


@pytest.mark.parametrize("name", VIDEO_TASKS)
def test_published_values_follow_the_temporal_module(name):
    """A run sees the value published for its own method and temporal module, and only that one:
    every published entry is reached by exactly its own configuration; a module with no
    published value (e.g. TemRelation on UCF -> Olympic) gets none."""
    task = load_catalog().task(name)
    for method in ("source-only", "revgrad", "target-only"):
        for temporal in ("tempooling", "temrelation"):
            cfg = resolve(task, method, 1, {"model.temporal": temporal})
            expected = [p for p in task.published if p.method == method
                        and p.when.get("model.temporal") == temporal]
            assert task.published_for(method, cfg.flat()) == expected
            assert len(expected) <= 1
    assert all(p.when.keys() == {"model.temporal"} for p in task.published)


# --- splits through the class maps (no decoding) ---

@pytest.mark.parametrize("name", ["ucf-to-hmdbfull", "ucf-to-hmdbsmall", "ucf-to-olympic"])
def test_class_maps_and_split_sizes(tree, cache, name):
    from dabench.data.video.loaders import video_split

    task = tiny_task(name, cache)
    cfg = resolve(task, "revgrad", 0, {})
    for domain in (task.source, *task.targets):
        class_map = domain.options["class_map"]
        for k, split in enumerate(("train", "test")):
            vs = video_split(domain, task, tree, split, cfg)
            assert len(vs.items) == TREE_COUNTS[(task.family, domain.key)][k]
            for item in vs.items:
                folder = item.relpath.split("/")[0]
                assert folder in class_map[item.class_name]
                assert item.label == task.classes.index(item.class_name)
                assert (vs.video_dir / item.relpath).is_file()  # distractors were dropped
            per_video = 2 if split == "train" else 1
            expected = Counter({task.classes.index(c): per_video * len(f)
                                for c, f in class_map.items()})
            assert Counter(it.label for it in vs.items) == expected
    if name == "ucf-to-hmdbfull":  # climb and punch merge 2 and 3 UCF101 classes
        vs = video_split(task.source, task, tree, "train", cfg)
        labels = Counter(it.label for it in vs.items)
        assert (labels[0], labels[5]) == (4, 6)
        hmdb = video_split(task.targets[0], task, tree, "test", cfg)
        assert hmdb.items[0].relpath == "climb/" + hmdb_name("climb", 2)
    if name == "ucf-to-olympic":
        vs = video_split(task.targets[0], task, tree, "train", cfg)
        assert {(it.relpath.split("/")[0], it.label) for it in vs.items} == {
            (f, i) for i, f in enumerate(OLY_FOLDERS)}
        assert all(it.relpath.endswith(".seq") for it in vs.items)


def test_split_size_must_match_the_benchmark(tree, cache):
    from dabench.data.video.loaders import video_split

    task = load_catalog().task("ucf-to-hmdbfull")  # the real sizes: 1438 / 571, 840 / 360
    cfg = resolve(task, "revgrad", 0, {**TINY_FEATURES, "video.cache_dir": str(cache)})
    with pytest.raises(DabenchError, match=r"UCF101 train split .* has 30 videos, expected 1438"):
        video_split(task.source, task, tree, "train", cfg)


# --- the loader: decoding, features, cache ---

def test_loader_returns_features_and_shares_the_cache_across_tasks(tree, cache, monkeypatch):
    from dabench.data import load_task_data

    calls = count_extractions(monkeypatch)
    full = load_task_data(tiny_task("ucf-to-hmdbfull", cache), tree)
    x, y = full.source_train.tensors
    assert x.shape == (30, 5, 512) and str(x.dtype) == "torch.float32"
    assert Counter(y.tolist()) == Counter({0: 4, 5: 6, **{c: 2 for c in (1, 2, 3, 4, 6, 7, 8, 9,
                                                                        10, 11)}})
    assert y[0] == 10  # split-file order: Archery (shoot_bow) comes first
    assert bool(x.isfinite().all()) and float(x.std(0).mean()) > 0  # videos differ
    assert full.target_test.tensors[0].shape == (12, 5, 512)
    assert sorted(calls) == [12, 15, 24, 30]  # each split extracted once, nothing cached before
    calls.clear()
    small = load_task_data(tiny_task("ucf-to-hmdbsmall", cache), tree)
    assert calls == []  # UCF-HMDBsmall's videos are a subset: all served from the cache
    assert small.source_train.tensors[0].shape == (10, 5, 512)


def test_loader_reads_olympic_seq_files(tree, cache):
    from dabench.data import load_task_data

    data = load_task_data(tiny_task("olympic-to-ucf", cache), tree)
    x, y = data.source_train.tensors  # Olympic Sports: .seq files
    assert x.shape == (12, 5, 512) and y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert data.target_test.tensors[0].shape == (6, 5, 512)


def test_loader_takes_the_feature_settings_from_the_run_config(tree, tmp_path):
    from dabench.data import load_task_data

    task = tiny_task("ucf-to-hmdbsmall", features=False)  # task defaults: ResNet-101, ImageNet
    cfg = resolve(task, "revgrad", 0, {**TINY_FEATURES, "video.cache_dir": str(tmp_path),
                                       "video.segments": 3})
    data = load_task_data(task, tree, cfg)
    assert data.source_train.tensors[0].shape == (10, 3, 512)
    assert [p.name for p in tmp_path.iterdir()] == ["resnet18-none-seg3-px16-v2"]


# --- missing data ---

def test_missing_data_root_names_the_layout(tmp_path):
    from dabench.data.video.loaders import video_split

    task = tiny_task("ucf-to-hmdbfull")
    with pytest.raises(DabenchError, match=r"no data folder was given.*DIR/ucf101/UCF-101/"
                                           r"<Class>/.*ucfTrainTestlist.*--data-root"):
        video_split(task.source, task, None, "train")
    with pytest.raises(DabenchError, match=r"data folder .*nowhere.* does not exist"):
        video_split(task.source, task, tmp_path / "nowhere", "train")
    with pytest.raises(DabenchError, match=r"HMDB51 not found: .*hmdb51 does not exist.*"
                                           r"testTrainMulti_7030_splits"):
        video_split(task.targets[0], task, tmp_path, "train")


def test_missing_split_files_and_videos(tree, tmp_path):
    import shutil

    from dabench.data import load_task_data
    from dabench.data.video.loaders import video_split

    task = tiny_task("ucf-to-hmdbfull", tmp_path / "features")
    (tmp_path / "ucf101" / "UCF-101").mkdir(parents=True)
    with pytest.raises(DabenchError, match=r"split folder .*ucf101/ucfTrainTestlist not found"):
        video_split(task.source, task, tmp_path, "train")
    shutil.copytree(tree / "ucf101" / "ucfTrainTestlist", tmp_path / "ucf101" / "ucfTrainTestlist")
    shutil.copytree(tree / "hmdb51", tmp_path / "hmdb51")
    with pytest.raises(DabenchError, match=r"30 of the 30 UCF101 train videos are missing from "
                                           r".*UCF-101 \(.*\.avi.* and 27 more\)"):
        load_task_data(task, tmp_path)


# --- a few training steps of each temporal module ---

@pytest.mark.parametrize("temporal", ["tempooling", "temrelation"])
@pytest.mark.parametrize("method", ["source-only", "revgrad"])
def test_train_runs_a_few_steps(tree, cache, runs, temporal, method):
    from dabench.training import loop as train

    task = tiny_task("ucf-to-hmdbfull", cache)
    cfg = resolve(task, method, 0, {**TINY_FEATURES, "video.cache_dir": str(cache),
                                    "model.temporal": temporal, "steps": 4, "batch_size": 6,
                                    "eval_every": 2, "log_every": 1})
    out = train.run(task, cfg, runs, tree)
    rec = out.record
    label = {"tempooling": "TemPooling", "temrelation": "TemRelation"}[temporal]
    assert rec["model"] == (label if method == "source-only" else f"{label} + RevGrad")
    assert (rec["steps"], rec["target_total"], rec["status"]) == (4, 12, "done")
    assert 0.0 <= rec["target_acc_last"] <= 1.0
    lines = [json.loads(s) for s in (out.directory / "metrics.jsonl").read_text().splitlines()]
    train_terms = {k for r in lines if r["kind"] == "train" for k in r}
    domain = {k for k in train_terms if k.startswith("domain_")}
    if method == "source-only":
        assert domain == set()
    else:
        # TemRelation: one loss over all scales; TemPooling: TA3N's relation slot (video again)
        assert domain == {"domain_frame", "domain_video", "domain_relation"}
    assert all(np.isfinite(r["loss"]) for r in lines if r["kind"] == "train")
    assert [r["step"] for r in lines if r["kind"] == "eval"] == [2, 4]


# --- dabench extract-features ---

def tiny_task_file(tmp_path: Path) -> Path:
    """ucf_hmdbsmall.yaml renamed, with the tree's split sizes: a user task file."""
    from dabench.tasks.catalog import builtin_task_dir

    raw = yaml.safe_load((builtin_task_dir() / "ucf_hmdbsmall.yaml").read_text())
    raw["family"] = "tiny-ucf-hmdbsmall"
    raw["domains"]["ucf"]["options"]["expected"] = {"train": 10, "test": 5}
    raw["domains"]["hmdb"]["options"]["expected"] = {"train": 10, "test": 5}
    raw["tasks"] = {f"tiny-{k}": v for k, v in raw["tasks"].items()}
    raw["suites"] = {"tiny-video": list(raw["tasks"])}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_extract_features_command(tree, tmp_path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from dabench import cli
    from dabench.cli import features as features_cli

    monkeypatch.setenv("DABENCH_TASK_PATH", str(tiny_task_file(tmp_path)))
    main = typer.Typer(cls=cli._Group)  # mounted as dabench.cli mounts it
    main.command("list-tasks")(lambda: None)
    main.add_typer(features_cli.app)
    args = ["extract-features", "tiny-video", "--data-root", str(tree), "--device", "cpu",
            "--workers", "0", "--batch-size", "4",
            "--set", "backbone.name=resnet18", "--set", "backbone.weights=none",
            "--set", "video.frame_size=16", "--set", f"video.cache_dir={tmp_path / 'cache'}"]
    calls = count_extractions(monkeypatch)
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "total: 30 videos, 0 cached, 30 extracted" in first.output
    assert sorted(calls) == [15, 15]  # one job per dataset, both tasks and splits together
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "total: 30 videos, 30 cached, 0 extracted" in second.output
    assert sorted(calls) == [15, 15]  # nothing decoded the second time

    bad = CliRunner().invoke(main, ["extract-features", "mnist-to-mnistm"])
    assert bad.exit_code == 2 and "video tasks only" in bad.output


# --- bad video input through the real CLI (the video part of the bad-input catalogue) ---

@pytest.mark.parametrize("damage,expected", [
    ("truncate", "v_GolfSwing_g08_c01.avi"),
    ("garbage", "v_GolfSwing_g08_c01.avi"),
    ("delete", "UCF101 train videos are missing"),
])
def test_bad_video_input_is_one_line_and_writes_nothing(tree, tmp_path, monkeypatch, damage,
                                                        expected):
    import shutil

    from typer.testing import CliRunner

    from dabench.cli import app

    data = tmp_path / "data"
    shutil.copytree(tree, data)
    video = data / "ucf101" / "UCF-101" / "GolfSwing" / "v_GolfSwing_g08_c01.avi"
    if damage == "truncate":
        video.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    elif damage == "garbage":
        video.write_bytes(b"\x00garbage, not a video" * 50)
    else:
        video.unlink()  # the official split file still names it
    monkeypatch.setenv("DABENCH_TASK_PATH", str(tiny_task_file(tmp_path)))
    args = ["run", "tiny-ucf-to-hmdbsmall", "--data-root", str(data), "--runs-dir",
            str(tmp_path / "runs"), "--set", "steps=2", "--set", "video.decode_workers=0",
            *[x for k, v in TINY_FEATURES.items() if k != "video.decode_workers"
              for x in ("--set", f"{k}={v}")],
            "--set", f"video.cache_dir={tmp_path / 'cache'}"]
    out = CliRunner().invoke(app, args)
    errors = [l for l in out.stderr.splitlines() if l.startswith("dabench: error:")]
    assert out.exit_code == 2 and len(errors) == 1, out.output  # progress lines may precede it
    assert expected in errors[0] and out.stderr.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in out.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.json"))


# --- issue 13 rows 13 and 19 through the real CLI ---

def olympic_task_file(tmp_path: Path, *, ta3n: bool = True) -> Path:
    """ucf_olympic.yaml renamed, with the tree's split sizes; `ta3n=False` drops its
    `include: _ta3n.yaml`, so the defaults name no temporal model (a user's own video task)."""
    from dabench.tasks.catalog import builtin_task_dir

    raw = yaml.safe_load((builtin_task_dir() / "ucf_olympic.yaml").read_text())
    raw["family"] = "tiny-ucf-olympic"
    for key in ("ucf", "olympic"):
        raw["domains"][key]["options"]["expected"] = {"train": 12, "test": 6}
    raw["tasks"] = {f"tiny-{k}": {kk: v[kk] for kk in ("title", "source", "targets")}
                    for k, v in raw["tasks"].items()}
    raw.pop("leaderboard", None)
    raw["suites"] = {"tiny-olympic": list(raw["tasks"])}
    if not ta3n:
        del raw["include"]
        raw["notes"] = []
    path = tmp_path / "tiny-olympic.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def tiny_sets(tmp_path: Path, workers: int = 0) -> list[str]:
    sets = {**TINY_FEATURES, "video.decode_workers": workers, "steps": 2, "eval_every": 1,
            "batch_size": 4, "video.cache_dir": str(tmp_path / "cache")}
    return [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]


def test_cli_raw_seq_with_a_wrong_header_size_is_one_line(tree, tmp_path, monkeypatch):
    """Row 13 through `dabench run`: an Olympic clip replaced by a raw (format 200) .seq whose
    header image size is not width x height x 3, decoded by two worker processes: one error line
    naming the file and the size (numpy's "cannot reshape" traceback, twice, before)."""
    import shutil

    from typer.testing import CliRunner

    from dabench.cli import app
    from test_olympic_seq import write_raw_bgr

    data = tmp_path / "data"
    shutil.copytree(tree, data)
    clip = data / "olympic_sports" / "diving_springboard_3m" / "diving_springboard_3m_a1.seq"
    write_raw_bgr(clip, [np.zeros((48, 64, 3), np.uint8) for _ in range(FRAMES)])
    blob = bytearray(clip.read_bytes())
    struct.pack_into("<I", blob, 548 + 16, 64 * 48 * 3 - 3 * 64)  # one row short
    clip.write_bytes(bytes(blob))
    runs = tmp_path / "runs"
    monkeypatch.setenv("DABENCH_TASK_PATH", str(olympic_task_file(tmp_path)))
    out = CliRunner().invoke(app, ["run", "tiny-ucf-to-olympic", "-m", "source-only",
                                   "--data-root", str(data), "--runs-dir", str(runs),
                                   *tiny_sets(tmp_path, workers=2)])
    errors = [l for l in out.stderr.splitlines() if l.startswith("dabench: error:")]
    assert out.exit_code == 2 and len(errors) == 1, out.output
    assert "diving_springboard_3m_a1.seq" in errors[0]
    assert "header image size 9024 bytes is not width x height x channels = 64x48x3 = 9216" \
        in errors[0]
    assert out.stderr.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in out.output and "cannot reshape" not in out.output
    assert not runs.exists() or not any(runs.rglob("*.json"))


def test_cli_user_video_task_without_temporal_trains_tempooling(tree, tmp_path, monkeypatch):
    """Row 19 through `dabench run`: a user video task whose defaults name no temporal model
    trains TemPooling on the cached features (the image network crashed on them before)."""
    from typer.testing import CliRunner

    from dabench.cli import app

    runs = tmp_path / "runs"
    monkeypatch.setenv("DABENCH_TASK_PATH", str(olympic_task_file(tmp_path, ta3n=False)))
    out = CliRunner().invoke(app, ["run", "tiny-ucf-to-olympic", "-m", "revgrad",
                                   "--data-root", str(tree), "--runs-dir", str(runs),
                                   *tiny_sets(tmp_path)])
    assert out.exit_code == 0, out.output
    (result,) = runs.rglob("result.json")
    record = json.loads(result.read_text())
    assert record["config"]["model.temporal"] == "tempooling"
    assert record["model"] == "TemPooling + RevGrad" and record["target_total"] == 6
    assert 0.0 <= record["target_acc_last"] <= 1.0


def test_cli_extract_features_caps_decode_workers_at_the_cores(tree, tmp_path):
    """Row 19 through `dabench extract-features` (a real process, so the CLI's own logging):
    more decode workers than cores are capped at the cores with one line, and DataLoader's raw
    UserWarning never appears."""
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "DABENCH_TASK_PATH": str(olympic_task_file(tmp_path)),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([
        sys.executable, "-m", "dabench", "extract-features", "tiny-ucf-to-olympic",
        "--data-root", str(tree), "--device", "cpu", "--workers", "4096", "--batch-size", "6",
        "--set", "backbone.name=resnet18", "--set", "backbone.weights=none",
        "--set", "video.frame_size=16", "--set", f"video.cache_dir={tmp_path / 'cache'}"],
        env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "total: 36 videos, 0 cached, 36 extracted" in out.stdout
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    capped = [l for l in out.stderr.splitlines() if "decode workers" in l]
    want = (f"dabench: 4096 video decode workers asked for, but {cores} CPU "
            f"{'core is' if cores == 1 else 'cores are'} usable here; using {cores}")
    assert capped and set(capped) == {want}, out.stderr
    assert "UserWarning" not in out.stderr and "Traceback" not in out.stderr
    assert not re.search(r"worker processes in total", out.stderr)
