"""Where the small-image datasets live and how their splits are stored (no torch here).

A domain's data is `<data root>/<first existing folder of the layout's dirs>` (or the `path`
option) and, per split, one of these specs (a task file may give its own as the domain's
`train:` / `test:` options; the `labelled-images` loader needs them):

  {idx: [images file, labels file]}     MNIST IDX files (`.gz` optional)
  {mat: file}                           SVHN-format .mat (X [H, W, 3, N], y with 10 = digit 0)
  {libsvm: file}                        USPS libsvm text (`.bz2` optional)
  {labels: file, images: folder}        a flat folder with a `<file> <label> [extra]` list;
                                        paths relative to `images` (default: the list's folder)
  {csv: glob, images: folder}           semicolon CSVs with a region of interest (GTSRB);
                                        filenames relative to `images` (default: each CSV's
                                        folder); a list of globs: the first that matches

A layout without a test spec has one split: "train" and "test" are the same images, unless the
domain's `holdout: N` carves a seeded test set of N images out of them (GTSRB in the DANN paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from dabench.errors import DabenchError

SPEC_KINDS = ("idx", "mat", "libsvm", "labels", "csv")


@dataclass(frozen=True)
class Layout:
    loader: str
    display: str
    dirs: tuple[str, ...]  # accepted folder names under the data root, in search order
    train: dict[str, Any]
    test: Optional[dict[str, Any]]
    expected: dict[str, int]  # split -> image count of the complete dataset
    size: int  # the side the images are stored at
    download: str  # the `dabench data download` name
    buildable: bool = False  # `dabench data build NAME` can regenerate it


LAYOUTS: dict[str, Layout] = {
    "mnist": Layout(
        "mnist", "MNIST", ("mnist", "MNIST", "MNIST/raw"),
        {"idx": ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]},
        {"idx": ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]},
        {"train": 60000, "test": 10000}, 28, "mnist"),
    "usps": Layout(
        "usps", "USPS", ("usps", "USPS"), {"libsvm": "usps.bz2"}, {"libsvm": "usps.t.bz2"},
        {"train": 7291, "test": 2007}, 16, "usps"),
    "svhn": Layout(
        "svhn", "SVHN", ("svhn", "SVHN"), {"mat": "train_32x32.mat"}, {"mat": "test_32x32.mat"},
        {"train": 73257, "test": 26032}, 32, "svhn"),
    "syndigits": Layout(
        "syndigits", "Syn Numbers (SynDigits)", ("syndigits", "SynDigits", "SynthDigits"),
        {"mat": "synth_train_32x32.mat"}, {"mat": "synth_test_32x32.mat"},
        {"train": 479400, "test": 9553}, 32, "syndigits"),
    "mnistm": Layout(
        "mnistm", "MNIST-M", ("mnistm", "mnist_m", "MNIST-M"),
        {"labels": "mnist_m_train_labels.txt", "images": "mnist_m_train"},
        {"labels": "mnist_m_test_labels.txt", "images": "mnist_m_test"},
        {"train": 59001, "test": 9001}, 28, "mnistm", buildable=True),
    "synsigns": Layout(
        "synsigns", "Syn Signs", ("synsigns", "SynSigns", "synthetic_data"),
        {"labels": "train_labelling.txt"}, None, {"train": 100000}, 40, "synsigns"),
    "gtsrb": Layout(
        "gtsrb", "GTSRB", ("gtsrb", "GTSRB", "GTSRB/GTSRB"),
        # the official Final_Training archive's layout, or GTSRB-Training_fixed.zip's
        {"csv": ["Final_Training/Images/*/GT-*.csv", "Training/*/GT-*.csv",
                 "GTSRB/Final_Training/Images/*/GT-*.csv", "GTSRB/Training/*/GT-*.csv"]},
        None, {"train": 39209}, 0, "gtsrb"),
}
GENERIC = "labelled-images"  # the loader whose splits the task file gives


def check_spec(spec: Any, where: str) -> dict[str, Any]:
    """A split spec from a task file, checked: exactly one of SPEC_KINDS (plus `images`)."""
    if not isinstance(spec, dict):
        raise DabenchError(f"{where}: expected a mapping such as {{labels: train.txt}} or "
                           f"{{csv: 'Images/*/GT-*.csv'}}, got {spec!r}")
    kinds = [k for k in spec if k in SPEC_KINDS]
    extra = [k for k in spec if k not in (*SPEC_KINDS, "images")]
    if len(kinds) != 1 or extra:
        raise DabenchError(f"{where}: give exactly one of {', '.join(SPEC_KINDS)} (and "
                           f"optionally `images`), got {', '.join(spec) or 'nothing'}")
    if "images" in spec and not isinstance(spec["images"], str):
        raise DabenchError(f"{where}.images: expected a folder name")
    if kinds[0] == "idx":
        files = spec["idx"]
        if not (isinstance(files, list) and len(files) == 2 and all(isinstance(f, str)
                                                                    for f in files)):
            raise DabenchError(f"{where}.idx: expected [images file, labels file]")
    elif kinds[0] == "csv" and isinstance(spec["csv"], list):
        if not (spec["csv"] and all(isinstance(p, str) for p in spec["csv"])):
            raise DabenchError(f"{where}.csv: expected a glob or a list of globs")
    elif not isinstance(spec[kinds[0]], str):
        raise DabenchError(f"{where}.{kinds[0]}: expected a file name or pattern")
    return dict(spec)


def resolve_file(folder: Path, name: str, where: str) -> Path:
    """`folder/name`, else the same with `.gz` added or removed; a DabenchError if neither."""
    candidates = [folder / name]
    candidates.append(folder / name[:-3] if name.endswith(".gz") else folder / f"{name}.gz")
    if name.endswith(".bz2"):
        candidates.append(folder / name[:-4])
    for path in candidates:
        if path.is_file():
            return path
    raise DabenchError(f"{where}: {folder / name} does not exist; fix: download or extract the "
                       "dataset into that folder (see `dabench data download --help`)")
