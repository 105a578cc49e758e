"""Readers for the native file formats of the small-image datasets (no torch here).

- IDX (MNIST): `train-images-idx3-ubyte[.gz]`, `*-labels-idx1-ubyte[.gz]` (LeCun's format: a
  big-endian magic number whose third byte is the element type and fourth the number of
  dimensions, then one big-endian uint32 per dimension, then the data).
- MATLAB .mat (SVHN, SynDigits): `X` [H, W, 3, N] uint8 and `y` [N, 1] with label 10 = digit 0.
- libsvm text (USPS, `usps.bz2` / `usps.t.bz2`): `label idx:value ...` per line, labels 1..10 for
  digits 0..9, 256 pixel values in [-1, 1], indices 1-based; absent indices are 0 (mid-grey).
- a label file next to a flat folder (MNIST-M `<file> <label>`, Syn Signs `<path> <class>
  <extra>`): the first two whitespace-separated fields are used.
- semicolon CSVs with a region of interest (GTSRB: `Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;
  Roi.Y2;ClassId`, one per class folder for training, one for the test set).

Each reader returns arrays or a list of `Listed` files; a missing or malformed file becomes a
DabenchError naming it.
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from dabench.errors import DabenchError

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_NAMED = 3  # missing files named in one error line


@dataclass(frozen=True)
class Listed:
    """One image file named by a list, its label, and an optional (x1, y1, x2, y2) crop."""

    path: Path
    label: int
    roi: Optional[tuple[int, int, int, int]] = None


def _open(path: Path):
    """Binary file object, transparently decompressing `.gz` and `.bz2`."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) -> ndarray of its shape and type."""
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DabenchError(f"cannot read IDX file {path} ({exc}); fix: download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DabenchError(f"{path} is not an IDX file (bad magic number); fix: download it again")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)) * dtype.itemsize:
        raise DabenchError(f"IDX file {path} is truncated: {len(body)} data bytes for shape "
                           f"{dims}; fix: download it again")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def read_digit_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """SVHN-style .mat -> (N, H, W, 3) uint8 images and (N,) int64 labels 0..9 (10 -> 0)."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), variable_names=["X", "y"])
    except (OSError, ValueError, TypeError) as exc:
        raise DabenchError(f"cannot read MATLAB file {path} ({exc}); fix: download it "
                           "again") from None
    if "X" not in mat or "y" not in mat:
        raise DabenchError(f"{path} lacks the variables X and y of the SVHN format; fix: use "
                           "the *_32x32.mat files")
    x, y = mat["X"], mat["y"].reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != len(y):
        raise DabenchError(f"{path}: X has shape {x.shape}, expected [H, W, 3, {len(y)}]")
    y[y == 10] = 0  # SVHN writes digit 0 as label 10
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2)), y


def read_libsvm_images(path: Path, side: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """libsvm text (USPS) -> (N, side, side) uint8 (value v in [-1, 1] -> round((v+1)*127.5))
    and (N,) int64 labels 0..9 (the file's 1..10 minus one)."""
    images, labels = [], []
    try:
        with _open(path) as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                row = np.zeros(side * side, dtype=np.float32)  # absent indices are 0
                try:
                    labels.append(int(float(fields[0])) - 1)
                    for pair in fields[1:]:
                        index, _, value = pair.partition(b":")
                        row[int(index) - 1] = float(value)
                except (ValueError, IndexError):
                    raise DabenchError(f"{path}:{number}: not a libsvm line of {side * side} "
                                       f"pixels ('label idx:value ...'); fix: download the file "
                                       "again") from None
                images.append(row)
    except (OSError, EOFError) as exc:
        raise DabenchError(f"cannot read {path} ({exc}); fix: download it again") from None
    if not images:
        raise DabenchError(f"{path} holds no images; fix: download it again")
    x = np.clip(np.round((np.stack(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    y = np.asarray(labels, dtype=np.int64)
    if y.min() < 0 or y.max() > 9:
        raise DabenchError(f"{path}: labels must be 1..10 (digits 0..9), found "
                           f"{y.min() + 1}..{y.max() + 1}")
    return x.reshape(-1, side, side), y


def write_libsvm_images(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """The inverse of `read_libsvm_images` (uint8 (N, side, side), labels 0..9), bz2-compressed
    when `path` ends in .bz2; every pixel is written, as in the published usps files."""
    lines = []
    for image, label in zip(images.reshape(len(images), -1), labels):
        values = image.astype(np.float64) / 127.5 - 1.0
        pixels = " ".join(f"{i + 1}:{v:.6f}" for i, v in enumerate(values))
        lines.append(f"{int(label) + 1} {pixels}\n")
    data = "".join(lines).encode()
    opener = bz2.open if str(path).endswith(".bz2") else open
    with opener(path, "wb") as f:
        f.write(data)


def read_label_file(list_file: Path, images_dir: Path,
                    num_classes: int) -> tuple[list[Listed], int]:
    """(items, duplicates): `<path> <label> [anything]` per line, paths relative to
    `images_dir`; a file listed again with the same label is kept once and counted in
    `duplicates` (the Syn Signs subset here lists 18 files twice), with another label an error."""
    items: list[Listed] = []
    seen: dict[str, int] = {}
    duplicates = 0
    try:
        text = list_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DabenchError(f"cannot read label file {list_file} ({exc}); fix: check the "
                           "dataset folder") from None
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            label = int(fields[1])
        except (IndexError, ValueError):
            raise DabenchError(f"{list_file}:{number}: expected '<file> <label>', got "
                               f"{line.strip()[:60]!r}") from None
        if not 0 <= label < num_classes:
            raise DabenchError(f"{list_file}:{number}: label {label} is outside 0..{num_classes - 1}"
                               " (the task's classes)")
        if fields[0] in seen:
            if seen[fields[0]] != label:
                raise DabenchError(f"{list_file}:{number}: {fields[0]} is listed again with "
                                   f"label {label} (before: {seen[fields[0]]}); fix: correct the "
                                   "label file")
            duplicates += 1
            continue
        seen[fields[0]] = label
        items.append(Listed(images_dir / fields[0], label))
    return items, duplicates


def read_roi_csvs(pattern, root: Path, num_classes: int,
                  images: Optional[Path] = None) -> list[Listed]:
    """Every semicolon CSV matching `pattern` (a glob relative to `root`, or a list of globs of
    which the first that matches is used), in sorted order: columns Filename, Roi.X1, Roi.Y1,
    Roi.X2, Roi.Y2, ClassId; filenames relative to `images`, else to each CSV's folder."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    files: list[str] = []
    for each in patterns:
        files = sorted(glob.glob(os.path.join(glob.escape(str(root)), each)))
        if files:
            break
    if not files:
        raise DabenchError(f"no CSV file matches {' or '.join(str(root / p) for p in patterns)};"
                           " fix: extract the dataset there or correct the task's csv pattern")
    items = []
    for name in files:
        csv_file = Path(name)
        with open(csv_file, newline="", encoding="utf-8") as f:
            rows = csv.DictReader(f, delimiter=";")
            need = {"Filename", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"}
            if not need <= set(rows.fieldnames or ()):
                raise DabenchError(f"{csv_file}: expected the columns {', '.join(sorted(need))}"
                                   f" (semicolon separated), got {rows.fieldnames}")
            for number, row in enumerate(rows, 2):
                try:
                    roi = tuple(int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
                    label = int(row["ClassId"])
                except (TypeError, ValueError):
                    raise DabenchError(f"{csv_file}:{number}: not integers in the Roi/ClassId "
                                       "columns") from None
                if not 0 <= label < num_classes:
                    raise DabenchError(f"{csv_file}:{number}: ClassId {label} is outside "
                                       f"0..{num_classes - 1} (the task's classes)")
                base = images if images is not None else csv_file.parent
                items.append(Listed(base / row["Filename"], label, roi))  # type: ignore[arg-type]
    return items


def drop_missing(items: list[Listed], where: str, skip: bool) -> tuple[list[Listed], int]:
    """(present items, number missing). Missing files are an error naming the first few and
    the count, unless `skip` (the task file's `skip_missing: true`)."""
    present = [it for it in items if it.path.is_file()]
    gone = len(items) - len(present)
    if gone and not skip:
        absent = [str(it.path) for it in items if not it.path.is_file()]
        shown = ", ".join(absent[:_NAMED])
        raise DabenchError(f"{gone} of {len(items)} files listed by {where} are missing (e.g. "
                           f"{shown}); fix: re-extract the dataset, or set `skip_missing: true` "
                           "in the domain's options to train without them")
    return present, gone
