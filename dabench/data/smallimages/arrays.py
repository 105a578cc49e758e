"""One split of a small-image domain as uint8 pixel arrays (no torch here).

Domain options (every small-image loader: mnist, usps, svhn, syndigits, mnistm, synsigns,
gtsrb, labelled-images):
  path          the dataset folder (absolute, `~/...`, or relative to the data root)
                [the first of the layout's folder names that exists under the data root]
  train, test   split specs (see `layouts`), replacing the layout's [labelled-images: required
                train; no test = one split]
  image_size    side of the square images fed to the network [the stored size; GTSRB 40]
  train_size    use a seeded random subset of this many training images (ADDA's protocol:
                2,000 MNIST, 1,800 USPS) [all]
  holdout       one-split domains: hold out a seeded random test set of this many images and
                train on the rest (DANN JMLR 5.2.3: GTSRB's 39,209 -> 31,367 + 7,842) [0: the
                test split is the training images]
  data_seed     seed of train_size and holdout draws [0]
  skip_missing  train without the listed files that are missing (named once on stderr) [false:
                one error line naming the first few and the count]
  roi           crop images to their CSV's region of interest [true]
  missing_hint  a sentence appended to the "dataset not found" error (e.g. where an older task
                of the same name went)

Grey images are replicated to three channels, every image resized (bilinear) to image_size; the
data is a function of the options only (never of the run seed).
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np

from dabench.data.options import domain_options
from dabench.data.paths import DATA_ENV, data_root_or_env
from dabench.data.smallimages.formats import (
    Listed,
    drop_missing,
    read_digit_mat,
    read_idx,
    read_label_file,
    read_libsvm_images,
    read_roi_csvs,
)
from dabench.data.smallimages.layouts import GENERIC, LAYOUTS, check_spec, resolve_file
from dabench.errors import DabenchError

OPTION_KEYS = ("path", "train", "test", "image_size", "train_size", "holdout", "data_seed",
               "skip_missing", "roi", "missing_hint")
REGENERATED = "DABENCH_REGENERATED.json"  # written by `dabench data build` into its output
GTSRB_SIZE = 40


def check_options(domain, task) -> dict[str, Any]:
    opts, where = domain_options(domain, task, OPTION_KEYS)
    for key in ("image_size", "train_size", "holdout"):
        value = opts.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < (0 if key == "holdout" else 1)):
            raise DabenchError(f"{where}.{key}: expected a positive integer, got {value!r}")
    for key in ("skip_missing", "roi"):
        if not isinstance(opts.get(key, False), bool):
            raise DabenchError(f"{where}.{key}: expected true or false, got {opts[key]!r}")
    for split in ("train", "test"):
        if opts.get(split) is not None:
            opts[split] = check_spec(opts[split], f"{where}.{split}")
    if domain.loader == GENERIC and not opts.get("path"):
        raise DabenchError(f"{where}: the {GENERIC} loader needs `path` (the dataset folder) and "
                           "`train` (e.g. {labels: train_labels.txt, images: train})")
    if domain.loader == GENERIC and not opts.get("train"):
        raise DabenchError(f"{where}: the {GENERIC} loader needs a `train` split spec, e.g. "
                           "{labels: train_labels.txt, images: train} or {csv: '*/GT-*.csv'}")
    return opts


def dataset_folder(domain, task, data_root: Optional[Path], opts: dict[str, Any]) -> Path:
    """The folder holding the domain's files; a DabenchError with the fix if it is absent."""
    layout = LAYOUTS.get(domain.loader)
    display = layout.display if layout else domain.name
    hint = f" {opts['missing_hint']}" if opts.get("missing_hint") else ""
    fetch = (f"run `dabench data download {layout.download} --data-root DATA`" if layout else
             "put the files there")
    if layout and layout.buildable:
        fetch += f" (or regenerate it: `dabench data build {layout.loader} --data-root DATA`)"
    root = data_root_or_env(data_root)
    if opts.get("path"):
        path = Path(opts["path"]).expanduser()
        if not path.is_absolute():
            if root is None:
                raise DabenchError(f"{display}: path '{opts['path']}' is relative and no data "
                                   f"folder was given; fix: pass --data-root DATA or set "
                                   f"{DATA_ENV}.{hint}")
            path = root / path
        if not path.is_dir():
            raise DabenchError(f"{display} folder {path} does not exist; fix: {fetch}, or "
                               f"correct `path` in {task.file}.{hint}")
        return path
    assert layout is not None
    if root is None:
        raise DabenchError(f"{display} needs its files on disk and no data folder was given; "
                           f"fix: {fetch}, then pass --data-root DATA or set {DATA_ENV}=DATA."
                           f"{hint}")
    for name in layout.dirs:
        if (root / name).is_dir():
            return root / name
    raise DabenchError(f"{display} not found in data folder {root} (looked for "
                       f"{', '.join(layout.dirs)}); fix: {fetch.replace('DATA', str(root))}.{hint}")


def split_spec(domain, opts: dict[str, Any], split: str) -> Optional[dict[str, Any]]:
    """The spec of `split`, or None when the domain has one split (test = train)."""
    layout = LAYOUTS.get(domain.loader)
    if split == "train":
        return opts.get("train") or (layout.train if layout else None)
    if "test" in opts:
        return opts["test"]
    return layout.test if layout else None


def read_split(folder: Path, spec: dict[str, Any], num_classes: int, opts: dict[str, Any],
               where: str, warn: bool = True) -> tuple[Any, np.ndarray, int, int]:
    """(images, labels, missing, duplicates): images a uint8 array (N, H, W[, 3]) for array
    formats, else a list of Listed files (present ones; `missing` counts the absent,
    `duplicates` the label-file lines that repeat a file)."""
    if "idx" in spec:
        x = read_idx(resolve_file(folder, spec["idx"][0], where))
        y = read_idx(resolve_file(folder, spec["idx"][1], where)).astype(np.int64)
        if x.ndim != 3 or len(x) != len(y):
            raise DabenchError(f"{where}: IDX images {x.shape} and labels {y.shape} disagree")
        return x.astype(np.uint8), y, 0, 0
    if "mat" in spec:
        x, y = read_digit_mat(resolve_file(folder, spec["mat"], where))
        return x, y, 0, 0
    if "libsvm" in spec:
        x, y = read_libsvm_images(resolve_file(folder, spec["libsvm"], where))
        return x, y, 0, 0
    duplicates = 0
    if "labels" in spec:
        list_file = resolve_file(folder, spec["labels"], where)
        images = folder / spec["images"] if spec.get("images") else list_file.parent
        items, duplicates = read_label_file(list_file, images, num_classes)
        source = str(list_file)
    else:
        images = folder / spec["images"] if spec.get("images") else None
        items = read_roi_csvs(spec["csv"], folder, num_classes, images)
        source = f"the CSV files {spec['csv']} in {folder}"
        if not opts.get("roi", True):
            items = [Listed(it.path, it.label) for it in items]
    present, missing = drop_missing(items, source, opts.get("skip_missing", False))
    if missing and warn:
        print(f"dabench: warning: {missing} of {len(items)} files listed by {source} are "
              "missing; training without them (skip_missing: true)", file=sys.stderr)
    return present, np.asarray([it.label for it in present], dtype=np.int64), missing, duplicates


def decode_files(items: list[Listed], size: int) -> np.ndarray:
    """Listed image files -> (N, size, size, 3) uint8: RGB, cropped to the ROI, resized."""
    from PIL import Image

    from dabench.data.images.size_limit import quiet_bomb_warnings, too_large

    quiet_bomb_warnings()
    out = np.empty((len(items), size, size, 3), dtype=np.uint8)
    for i, item in enumerate(items):
        try:
            with Image.open(item.path) as image:
                problem = too_large(image)
                if problem:
                    raise DabenchError(f"image {item.path} is {problem}")
                rgb = image.convert("RGB")
        except DabenchError:
            raise
        except Exception as exc:  # OSError, SyntaxError, ...
            raise DabenchError(f"cannot decode image {item.path} ({type(exc).__name__}: {exc});"
                               " fix: re-extract the dataset or set skip_missing after deleting"
                               " it") from None
        if item.roi is not None:  # GTSRB's Roi.X2 / Roi.Y2 are the last pixel inside the sign
            x1, y1, x2, y2 = item.roi
            rgb = rgb.crop((x1, y1, x2 + 1, y2 + 1))
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(rgb)
    return out


def to_rgb_size(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, 3) -> (N, size, size, 3) (grey replicated, bilinear)."""
    if x.ndim == 3:
        x = np.repeat(x[..., None], 3, axis=3)
    if x.shape[1:3] == (size, size):
        return np.ascontiguousarray(x)
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR))
                     for im in x])


def _draw(n: int, k: int, seed: int, salt: int) -> np.ndarray:
    """A seeded random choice of k of range(n), sorted."""
    return np.sort(np.random.default_rng([seed, salt]).permutation(n)[:k])


@lru_cache(maxsize=8)
def _load(loader: str, folder: str, opts_json: str, num_classes: int,
          where: str) -> dict[str, Any]:
    """Both splits of one domain: {"train": (x, y), "test": (x, y), "missing": n, ...}."""
    from types import SimpleNamespace

    opts = json.loads(opts_json)
    layout = LAYOUTS.get(loader)
    size = opts.get("image_size") or (layout.size if layout and layout.size else GTSRB_SIZE)
    dom = SimpleNamespace(loader=loader)
    out: dict[str, Any] = {"missing": 0}
    for split in ("train", "test"):
        spec = split_spec(dom, opts, split)
        if spec is None:
            continue
        x, y, missing, _ = read_split(Path(folder), spec, num_classes, opts,
                                      f"{where} ({split})")
        x = decode_files(x, size) if isinstance(x, list) else to_rgb_size(x, size)
        out[split] = (x, y)
        out["missing"] += missing
    seed = int(opts.get("data_seed", 0))
    x, y = out["train"]
    if "test" not in out:
        held = int(opts.get("holdout", 0))
        if held >= len(y):
            raise DabenchError(f"{where}: holdout {held} leaves no training images of {len(y)}")
        if held:
            test = _draw(len(y), held, seed, 1)
            train = np.setdiff1d(np.arange(len(y)), test)
            out["test"] = (x[test], y[test])
            x, y = x[train], y[train]
        out["one_split"] = not held
    n = opts.get("train_size")
    if n:
        if n > len(y):
            raise DabenchError(f"{where}: train_size {n} is more than the {len(y)} training "
                               "images")
        keep = _draw(len(y), n, seed, 2)
        x, y = x[keep], y[keep]
    out["train"] = (x, y)
    if out.get("one_split"):
        out["test"] = out["train"]
    marker = Path(folder) / REGENERATED
    if marker.is_file():
        out["provenance"] = json.loads(marker.read_text(encoding="utf-8"))
    return out


def load_splits(domain, task, data_root: Optional[Path]) -> dict[str, Any]:
    """The domain's decoded splits (cached per process for unchanged options)."""
    opts = check_options(domain, task)
    folder = dataset_folder(domain, task, data_root, opts)
    key = {k: v for k, v in opts.items() if k != "missing_hint"}
    where = f"domain '{domain.key}' of {task.file}"
    return _load(domain.loader, str(folder), json.dumps(key, sort_keys=True), len(task.classes),
                 where)
