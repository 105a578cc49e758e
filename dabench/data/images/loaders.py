"""Loaders for image-folder domains: `office31`, `officehome` and `imagefolder`.

Where the data must be (data root = `--data-root` or `$DABENCH_DATA`):

- `office31`:   `<data root>/office31`, else `<data root>/Office31`, else `<data root>/office-31`
- `officehome`: `<data root>/officehome`, else `<data root>/OfficeHome`, else
                `<data root>/OfficeHomeDataset_10072016` (the folder the official zip extracts to)
- `imagefolder`: the domain's `path` option (absolute, `~/...`, or relative to the data root)

Inside the dataset folder a domain is found by `image_layout.locate_domain`, trying each name of
the domain's `folders` option (e.g. `[Real_World, "Real World"]`) in the layouts
`<name>/images/<class>/` (original Office-31 archive extracted in place; Transfer-Learning-
Library), `<name>/<class>/` (Dassl, Office-Home), `domain_adaptation_images/<name>/images/<class>/`
and `OfficeHomeDataset_10072016/<name>/<class>/`.

Domain options (all optional):
  folders          alternative folder names of the domain, tried in order [default: the key]
  expected_images  the image count of the complete domain (`dabench data check` compares)
  image_list       a Transfer-Learning-Library list (`<path> <label>` per line), relative to the
                   dataset folder; its paths are relative to the dataset folder too. Labels
                   come from each image's folder name, never from the list's integers.
  image_size       crop side fed to the network [224]; resize: resize side before it [256]
  augment          `tllib` or `dann-paper`: train-time augmentation [the run's recipe]
  verify           decode every image before training [true]
  path             (`imagefolder` only, required) the folder holding `<class>/*.jpg`

Single-target protocol: the "train" and "test" splits of a domain are both ALL its images (train
with train-time augmentation, test with the centre crop). Every image is fully decoded once per
process before the first dataset is returned, so a corrupt file stops the run before training,
naming the file.

This module imports no torch at import time (`dabench data check` uses its lookups); the loaders
import the torch side (`dabench.data.images.dataset`) when they are called. One module past
~300 lines on purpose: the three loaders share the dataset lookup, the option checks and the
decode-once step, and `data check` reads the same lookups.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from dabench.data import LOADERS
from dabench.data.images.augment import (
    AUGMENTATIONS,
    DEFAULT_AUGMENT,
    RECIPE_AUGMENTATION,
)
from dabench.data.images.layout import (
    OFFICE31_URL,
    OFFICEHOME_URL,
    locate_domain,
    read_image_list,
    scan_domain,
    verify_images,
)
from dabench.data.paths import DATA_ENV, data_root_or_env
from dabench.errors import DabenchError
from dabench.registry import suggest

OPTION_KEYS = ("folders", "expected_images", "image_list", "image_size", "resize", "augment",
               "verify", "path")
_MAX_NAMED = 5  # unreadable files named in one error line


@dataclass(frozen=True)
class DatasetInfo:
    """Where one dataset family lives under the data root and where to download it."""

    loader: str
    display: str
    dir_names: tuple[str, ...]  # accepted folder names under the data root, in search order
    url: str
    archive: str
    example: str  # an example image path inside the dataset folder

    def download_hint(self, data_root: Optional[Path]) -> str:
        root = str(data_root) if data_root is not None else "DATA"
        return (f"run `dabench data download {self.loader} --data-root {root}`, or download "
                f"{self.archive} from {self.url} and extract it into "
                f"{Path(root) / self.dir_names[0]} (so that e.g. "
                f"{Path(root) / self.dir_names[0] / self.example} exists)")


DATASETS: dict[str, DatasetInfo] = {
    "office31": DatasetInfo(
        loader="office31", display="Office-31", dir_names=("office31", "Office31", "office-31"),
        url=OFFICE31_URL, archive="the 'Office' archive domain_adaptation_images.tar.gz",
        example="domain_adaptation_images/amazon/images/back_pack/frame_0001.jpg",
    ),
    "officehome": DatasetInfo(
        loader="officehome", display="Office-Home",
        dir_names=("officehome", "OfficeHome", "OfficeHomeDataset_10072016"),
        url=OFFICEHOME_URL, archive="the Office-Home zip OfficeHomeDataset_10072016.zip",
        example="OfficeHomeDataset_10072016/Art/Alarm_Clock/00001.jpg",
    ),
}


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


# -- where the data is ---------------------------------------------------------------------------

def find_dataset_dir(info: DatasetInfo, data_root: Optional[Path]) -> Path:
    """`<data root>/<first of info.dir_names that exists>`; a DabenchError with the fix if none."""
    root = data_root_or_env(data_root)
    if root is None:
        raise DabenchError(
            f"{info.display} needs its images on disk and no data folder was given; fix: "
            f"{info.download_hint(None)}, then pass --data-root DATA or set {DATA_ENV}=DATA")
    if not root.is_dir():
        raise DabenchError(
            f"data folder {root} (from --data-root or {DATA_ENV}) does not exist; fix: create it "
            f"and {info.download_hint(root)}")
    for name in info.dir_names:
        if (root / name).is_dir():
            return root / name
    wanted = {_squash(n) for n in info.dir_names}
    near = sorted(p.name for p in root.iterdir() if p.is_dir() and _squash(p.name) in wanted)
    found = (f"found wrong folder name '{near[0]}' (rename it to '{info.dir_names[0]}')" if near
             else "none of them exists")
    looked = ", ".join(info.dir_names)
    raise DabenchError(
        f"{info.display} not found in data folder {root} (looked for {looked}); {found}; fix: "
        f"{info.download_hint(root)}, or point --data-root / {DATA_ENV} at the folder that "
        f"holds {info.dir_names[0]}/")


def check_options(domain, task) -> dict[str, Any]:
    """The domain's options, with unknown keys and wrong types refused (naming the task file)."""
    opts = dict(domain.options)
    where = f"task file {task.file}: domains.{domain.key}.options"
    for key in opts:
        if key not in OPTION_KEYS:
            raise DabenchError(f"{where}: unknown option '{key}'.{suggest(key, list(OPTION_KEYS))}"
                               f" Known: {', '.join(OPTION_KEYS)}")
    folders = opts.get("folders", [domain.key])
    if isinstance(folders, str):
        folders = [folders]
    if not (isinstance(folders, list) and folders and all(isinstance(f, str) for f in folders)):
        raise DabenchError(f"{where}.folders: expected a list of folder names, got {folders!r}")
    opts["folders"] = folders
    for key in ("expected_images", "image_size", "resize"):
        value = opts.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value <= 0):
            raise DabenchError(f"{where}.{key}: expected a positive integer, got {value!r}")
    for key in ("image_list", "path"):
        value = opts.get(key)
        if value is not None and not isinstance(value, str):
            raise DabenchError(f"{where}.{key}: expected a path string, got {value!r}")
    if not isinstance(opts.get("verify", True), bool):
        raise DabenchError(f"{where}.verify: expected true or false, got {opts['verify']!r}")
    augment = opts.get("augment")
    if augment is not None and augment not in AUGMENTATIONS:
        hint = suggest(str(augment), list(AUGMENTATIONS))
        raise DabenchError(f"{where}.augment: '{augment}' is not one of "
                           f"{', '.join(AUGMENTATIONS)}.{hint}")
    return opts


def imagefolder_dir(domain, task, data_root: Optional[Path], opts: dict[str, Any]) -> Path:
    """The `path` option of an `imagefolder` domain, made absolute."""
    where = f"task file {task.file}: domains.{domain.key}.options"
    if not opts.get("path"):
        raise DabenchError(f"{where}: the imagefolder loader needs a 'path' option (the folder "
                           "holding <class>/*.jpg); fix: add `path: /data/mydomain`")
    path = Path(opts["path"]).expanduser()
    if not path.is_absolute():
        root = data_root_or_env(data_root)
        if root is None:
            raise DabenchError(f"{where}.path '{opts['path']}' is relative and no data folder was "
                               f"given; fix: pass --data-root (or set {DATA_ENV}), or make the "
                               "path absolute")
        path = root / path
    if not path.is_dir():
        raise DabenchError(f"domain '{domain.key}' of task '{task.name}': folder {path} does not "
                           f"exist; fix: correct `path` in {task.file} or create "
                           f"{path}/<class>/*.jpg")
    return path


@dataclass
class DomainFiles:
    """The images of one domain and where they came from."""

    items: list[tuple[Path, int]]
    root: Path  # the folder whose children are the class folders (or the list's root)
    layout: str  # locate_domain's layout name, "image-list" or "imagefolder"
    image_list: Optional[Path] = None


def domain_files(domain, task, data_root: Optional[Path]) -> DomainFiles:
    """Locate a domain and list its (image, label) pairs, labels by class-folder name."""
    opts = check_options(domain, task)
    classes = list(task.classes)
    if domain.loader == "imagefolder":
        dataset_dir = imagefolder_dir(domain, task, data_root, opts)
        domain_dir, layout = dataset_dir, "imagefolder"
        # links may not leave the data root, or the folder an absolute `path:` names
        boundary = dataset_dir if Path(opts["path"]).expanduser().is_absolute() else \
            data_root_or_env(data_root)
    else:
        if domain.loader not in DATASETS:
            raise DabenchError(f"loader '{domain.loader}' is not an image-folder loader "
                               f"({', '.join([*DATASETS, 'imagefolder'])})")
        dataset_dir = find_dataset_dir(DATASETS[domain.loader], data_root)
        domain_dir, boundary = None, data_root_or_env(data_root)
    if opts.get("image_list"):
        list_file = Path(opts["image_list"]).expanduser()
        if not list_file.is_absolute():
            list_file = dataset_dir / list_file
            if not Path(os.path.normpath(list_file)).is_relative_to(
                    os.path.normpath(os.path.abspath(dataset_dir))):  # read nothing outside it
                raise DabenchError(f"image list '{opts['image_list']}' (option image_list of "
                                   f"domain '{domain.key}' in {task.file}) points outside the "
                                   f"dataset folder {dataset_dir}; fix: put the list inside it "
                                   "or give its absolute path")
        if not list_file.is_file():
            raise DabenchError(f"image list {list_file} (option image_list of domain "
                               f"'{domain.key}' in {task.file}) does not exist; fix: put the list "
                               "there or remove the option to scan the class folders")
        items = read_image_list(list_file, dataset_dir, classes)
        return DomainFiles(items, dataset_dir, "image-list", list_file)
    if domain_dir is None:
        domain_dir, layout = locate_domain(dataset_dir, opts["folders"])
    return DomainFiles(scan_domain(domain_dir, classes, boundary), domain_dir, layout)


def missing_classes(items: list[tuple[Path, int]], classes: list[str]) -> list[str]:
    present = {label for _, label in items}
    return [name for i, name in enumerate(classes) if i not in present]


# -- verification, once per process per unchanged file set --------------------------------------

_VERIFIED: set[str] = set()


def _fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def ensure_readable(paths: list[Path], what: str, check_hint: str) -> None:
    """Decode every image (cached per process); a DabenchError naming the bad files if any."""
    key = _fingerprint(paths)
    if key in _VERIFIED:
        return
    bad = verify_images(paths, workers=min(16, (os.cpu_count() or 1) * 2))
    if bad:
        shown = "; ".join(f"{p} ({reason})" for p, reason in bad[:_MAX_NAMED])
        more = f"; and {len(bad) - _MAX_NAMED} more" if len(bad) > _MAX_NAMED else ""
        raise DabenchError(
            f"{len(bad)} unreadable image(s) in {what}: {shown}{more}; fix: re-extract the "
            f"dataset or delete these files, then run `{check_hint}`")
    _VERIFIED.add(key)


# -- the loaders ----------------------------------------------------------------------------------

def augmentation(opts: dict[str, Any], task, config=None) -> str:
    """Train-time augmentation: the `augment` option, else the run's recipe if it names one of
    AUGMENTATIONS, else dann-paper.

    `load_task_data(task, data_root, config=cfg)` passes the run config; called without it
    (fn(domain, task, data_root, split)), the recipe comes from the task's config (`recipe:` in
    the task YAML), so a `--set recipe=...` would not reach the augmentation.
    """
    if opts.get("augment"):
        return opts["augment"]
    recipe = getattr(config, "recipe", None) if config is not None else None
    if recipe is None:
        recipe = task.config.get("recipe", DEFAULT_AUGMENT)
    recipe = RECIPE_AUGMENTATION.get(recipe, recipe)
    return recipe if recipe in AUGMENTATIONS else DEFAULT_AUGMENT


def load_domain(domain, task, data_root: Optional[Path], split: str, config=None):
    """The shared loader: an ImageListDataset of every image of the domain (both splits)."""
    from dabench.data.images.dataset import ImageListDataset, build_transforms  # torch, lazily

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    opts = check_options(domain, task)
    files = domain_files(domain, task, data_root)
    check_hint = f"dabench data check {task.name}"
    if domain.loader in DATASETS:
        gone = missing_classes(files.items, list(task.classes))
        if gone:
            shown = ", ".join(gone[:8]) + (f" and {len(gone) - 8} more" if len(gone) > 8 else "")
            raise DabenchError(
                f"domain '{domain.name}' at {files.image_list or files.root} has no images for "
                f"{len(gone)} class(es): {shown}; fix: re-extract the dataset, then run "
                f"`{check_hint}`")
    if opts.get("verify", True):
        ensure_readable([p for p, _ in files.items],
                        f"domain '{domain.name}' ({files.image_list or files.root})", check_hint)
    size, crop = opts.get("resize", 256), opts.get("image_size", 224)
    if config is not None and config.image_cache:
        return _decoded(tuple(files.items), size, crop, augmentation(opts, task, config),
                        config.seed)
    transform = build_transforms(train=(split == "train"),
                                 augmentation=augmentation(opts, task, config),
                                 image_size=crop, resize=size)
    return ImageListDataset(files.items, transform)


@lru_cache(maxsize=16)
def _decoded(items: tuple, size: int, crop: int, augment: str, seed: int):
    """One decoded uint8 cache per domain, shared by its train and test splits (the loop asks
    for random crops with train=True, the evaluation for the centre crop with train=False)."""
    from dabench.data.images.cache import DecodedImages

    return DecodedImages(items, size, crop=crop, augment=augment, seed=seed)


@LOADERS.register("office31")
def office31(domain, task, data_root, split, config=None):
    """An Office-31 domain (amazon, dslr, webcam) from `<data root>/office31`."""
    return load_domain(domain, task, data_root, split, config)


@LOADERS.register("officehome")
def officehome(domain, task, data_root, split, config=None):
    """An Office-Home domain (Art, Clipart, Product, Real_World) from `<data root>/officehome`."""
    return load_domain(domain, task, data_root, split, config)


@LOADERS.register("imagefolder")
def imagefolder(domain, task, data_root, split, config=None):
    """Any `<path>/<class>/*.jpg` folder; classes from the task YAML, labels by folder name."""
    return load_domain(domain, task, data_root, split, config)
