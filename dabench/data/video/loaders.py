"""Video domains (UCF101, HMDB51, Olympic Sports) as cached frame features.

A loader reads the dataset's OFFICIAL split files, keeps the classes of the benchmark through the
domain's `class_map` (shared class -> dataset folder names), checks the split sizes against
`expected`, and returns a TensorDataset of (features (T, D) float32, label) per video, extracting
the features of videos not yet cached (see `dabench.data.video.frame_features`).

Data root layout (`--data-root DIR` or `DABENCH_DATA=DIR`), the defaults of the domain options:

    DIR/ucf101/UCF-101/<Class>/v_<Class>_gXX_cYY.avi     UCF101.rar
    DIR/ucf101/ucfTrainTestlist/trainlist01.txt ...      UCF101TrainTestSplits-RecognitionTask.zip
    DIR/hmdb51/<class>/<name>.avi                        hmdb51_org.rar (one .rar per class inside)
    DIR/hmdb51/testTrainMulti_7030_splits/<class>_test_split1.txt    test_train_splits.rar
    DIR/olympic_sports/<class>/<id>.seq                  Olympic Sports archive
    DIR/olympic_sports/train_test_split/{train,test}/<class>.txt
    DIR/features/                                        the feature cache (video.cache_dir)

Domain options (task YAML): class_map (required), expected {train: N, test: N}, split (1-3,
UCF101/HMDB51), dir (dataset folder under the data root), videos (video folder under it),
splits (split folder under it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from dabench.data import LOADERS, normalises
from dabench.data.video.splits import (
    VideoItem,
    apply_class_map,
    read_hmdb51_split,
    read_olympic_split,
    read_ucf101_split,
)
from dabench.data.paths import DATA_ENV, data_root_or_env
from dabench.errors import DabenchError

DOCS = "docs/video.md"


@dataclass(frozen=True)
class Layout:
    display: str
    dir: str  # dataset folder under the data root
    videos: str  # video folder under the dataset folder
    splits: str  # split folder under the dataset folder
    where: str  # how the videos are laid out, for error messages
    read: Callable[[Path, dict], tuple[list, list]]


LAYOUTS = {
    "ucf101": Layout("UCF101", "ucf101", "UCF-101", "ucfTrainTestlist",
                     "<Class>/v_<Class>_gXX_cYY.avi",
                     lambda d, o: read_ucf101_split(d, int(o.get("split", 1)))),
    "hmdb51": Layout("HMDB51", "hmdb51", ".", "testTrainMulti_7030_splits",
                     "<class>/<name>.avi",
                     lambda d, o: read_hmdb51_split(d, int(o.get("split", 1)))),
    "olympic-sports": Layout("Olympic Sports", "olympic_sports", ".", "train_test_split",
                             "<class>/<id>.seq", lambda d, o: read_olympic_split(d)),
}
OPTIONS = {"class_map", "expected", "split", "dir", "videos", "splits"}


@dataclass
class VideoSplit:
    """One split of one video domain, resolved: where its videos are and where its cache is."""

    dataset: str  # loader name, e.g. "ucf101"
    display: str
    split: str
    video_dir: Path
    items: list[VideoItem]
    store_dir: Path
    spec: Any  # features.FeatureSpec


def run_config(task, config=None):
    """The run's config, or (when a caller passes none) the task's defaults."""
    if config is not None:
        return config
    from dabench.config import resolve

    return resolve(task, task.methods[0] if task.methods else "revgrad", 0, {})


def _options(domain, task) -> dict:
    opts = dict(domain.options)
    unknown = sorted(set(opts) - OPTIONS)
    if unknown:
        raise DabenchError(f"task file {task.file}: domain '{domain.key}' has unknown option(s) "
                           f"{', '.join(unknown)}; known: {', '.join(sorted(OPTIONS))}")
    if not isinstance(opts.get("class_map"), dict):
        raise DabenchError(f"task file {task.file}: domain '{domain.key}' needs a class_map "
                           "option (shared class -> list of dataset folder names)")
    return opts


def video_split(domain, task, data_root: Optional[Path], split: str, config=None) -> VideoSplit:
    """Read the official split of `domain`, map its classes, check its size; no decoding."""
    from dabench.data.video.frame_features import FeatureSpec
    from dabench.models.temporal import feature_dim

    layout = LAYOUTS[domain.loader]
    video_dir, items = split_items(domain, task, data_root, split)
    root = data_root_or_env(data_root)
    cfg = run_config(task, config)
    feature_dim(cfg.backbone.name)  # fail early on a backbone that cannot extract features
    spec = FeatureSpec(cfg.backbone.name, cfg.backbone.weights, cfg.video.segments,
                       cfg.video.frame_size)
    cache_root = Path(cfg.video.cache_dir).expanduser() if cfg.video.cache_dir \
        else root / "features"
    return VideoSplit(domain.loader, layout.display, split, video_dir, items,
                      cache_root / spec.tag() / domain.loader, spec)


def split_items(domain, task, data_root: Optional[Path], split: str
                ) -> tuple[Path, list[VideoItem]]:
    """(video folder, items) of one split: official split files through the class map, size
    checked against `expected`. No torch, no decoding (`dabench data check` uses it too)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    layout = LAYOUTS[domain.loader]
    opts = _options(domain, task)
    root = data_root_or_env(data_root)
    dataset_dir = _dataset_dir(layout, opts, root, task)
    splits_dir = dataset_dir / opts.get("splits", layout.splits)
    # the readers accept the dataset folder (and find the official folder name in it) or the
    # split folder itself; pass the parent for the default name so errors show the full path
    pairs = layout.read(dataset_dir if splits_dir.name == layout.splits else splits_dir, opts)
    part = pairs[0] if split == "train" else pairs[1]
    items = apply_class_map(part, opts["class_map"], list(task.classes))
    expected = opts.get("expected", {}).get(split)
    if expected is not None and len(items) != int(expected):
        raise DabenchError(
            f"{layout.display} {split} split of task '{task.name}' has {len(items)} videos, "
            f"expected {expected}: the split files in {splits_dir} or the class map in "
            f"{task.file} do not match the benchmark (use the official split files)")
    return dataset_dir / opts.get("videos", layout.videos), items


def domain_loader(layout: Layout) -> str:
    """The loader (and `data download`) name of a layout."""
    return next(name for name, lay in LAYOUTS.items() if lay is layout)


def _dataset_dir(layout: Layout, opts: dict, root: Optional[Path], task) -> Path:
    folder = opts.get("dir", layout.dir)
    splits = opts.get("splits", layout.splits)
    videos = opts.get("videos", layout.videos)
    shape = (f"DIR/{folder}/{layout.where}" if videos == "." else
             f"DIR/{folder}/{videos}/{layout.where}") + f" and DIR/{folder}/{splits}/"
    if root is None:
        raise DabenchError(f"task '{task.name}' needs the {layout.display} videos and no data "
                           f"folder was given; put them as {shape} (see {DOCS}), then pass "
                           f"--data-root DIR or set {DATA_ENV}=DIR")
    if not root.is_dir():
        raise DabenchError(f"data folder {root} (from --data-root or {DATA_ENV}) does not exist; "
                           f"create it with the {layout.display} videos as {shape}")
    dataset_dir = root / folder
    if not dataset_dir.is_dir():
        raise DabenchError(f"{layout.display} not found: {dataset_dir} does not exist; put the "
                           f"videos as {shape.replace('DIR', str(root))} (see {DOCS}), e.g. "
                           f"with `dabench data download {domain_loader(layout)} --data-root "
                           f"{root}`")
    return dataset_dir


def _stderr_progress(label: str) -> Callable[[int, int], None]:
    """A line on stderr at the start, every 10% and at the end of an extraction."""
    state = {"last": -1}

    def report(done: int, total: int) -> None:
        tenth = 10 * done // max(1, total)
        if tenth != state["last"]:
            state["last"] = tenth
            print(f"dabench: extracting frame features of {label}: {done}/{total} videos "
                  "(`dabench extract-features` does this ahead of time)", file=sys.stderr)

    return report


@normalises("frame features of the ImageNet-normalised frames (video.* settings)")
def load_video_features(domain, task, data_root, split: str, config=None, on_progress=None):
    """The loader: TensorDataset of (features (T, D) float32, label) in split-file order."""
    import torch
    from torch.utils.data import TensorDataset

    from dabench.data.video.frame_features import load_features

    vs = video_split(domain, task, data_root, split, config)
    cfg = run_config(task, config)
    result = load_features(
        vs.video_dir, [it.relpath for it in vs.items], vs.spec, vs.store_dir,
        device=cfg.device, batch_size=cfg.video.extract_batch_size,
        num_workers=cfg.video.decode_workers,
        on_progress=on_progress or _stderr_progress(f"{vs.display} ({split})"),
        what=f"{vs.display} {split} videos")
    labels = torch.tensor([it.label for it in vs.items], dtype=torch.long)
    return TensorDataset(result.features, labels)  # (N, T, D), (N,)


for _name in LAYOUTS:
    LOADERS.add(_name, load_video_features)
