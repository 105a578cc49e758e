"""Readers for feature-vector files: svmlight (sparse), .npz, .csv and MATLAB .mat.

Each reader returns `(features, raw_labels)`: features a scipy CSR matrix (svmlight, sparse .mat
variables) or a dense float32 array (N, D); raw labels a float64 array (N,). Files may be
compressed (`.gz`, `.xz`, `.bz2` after the format's extension). A malformed file is a
DabenchError naming the file and the line, row or key; the slow line-by-line scan that names
the bad line only runs after the fast parser has failed.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import lzma
from pathlib import Path
from typing import Any, Optional

import numpy as np

from dabench.errors import DabenchError
from dabench.userfiles import limit_bytes, read_at_most, read_bounded

_OPENERS = {".gz": lambda f: gzip.GzipFile(fileobj=f), ".xz": lzma.LZMAFile, ".bz2": bz2.BZ2File}
MAX_FEATURE_MB = 4096  # a feature file (and what it decompresses to) is read whole into memory
FILE_FORMATS = ("svmlight", "npz", "csv", "mat")
_SUFFIXES = {".svmlight": "svmlight", ".svm": "svmlight", ".libsvm": "svmlight",
             ".npz": "npz", ".csv": "csv", ".mat": "mat"}


def file_format(path: Path) -> str:
    """The format named by the extension, ignoring a compression suffix."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _OPENERS:
        suffixes = suffixes[:-1]
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise DabenchError(f"{path}: unknown feature file type; use one of .svmlight, .npz, .csv "
                           "or .mat (optionally .gz/.xz/.bz2 compressed), or set the domain "
                           "option `format:`")
    return fmt


def read_bytes(path: Path) -> bytes:
    """The file's contents, decompressed by its last suffix; a regular file of at most
    MAX_FEATURE_MB, also once decompressed (dabench.userfiles)."""
    limit = limit_bytes(MAX_FEATURE_MB)
    try:
        raw = read_bounded(path, "feature file", limit)
    except FileNotFoundError:
        raise DabenchError(f"feature file {path} does not exist; check the domain's "
                           "`train:`/`test:` paths (relative paths start at the task file's "
                           "folder)") from None
    except OSError as exc:
        raise DabenchError(f"cannot read feature file {path} ({exc.strerror})") from None
    opener = _OPENERS.get(path.suffix.lower())
    if opener is None:
        return raw
    try:
        with opener(io.BytesIO(raw)) as stream:
            return read_at_most(stream, limit, f"feature file {path} (decompressed)")
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DabenchError(f"feature file {path} is not a valid {path.suffix} archive "
                           f"({exc}); copy it again") from None


def check_sha256(path: Path, data: bytes, expected: str) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != expected.lower():
        raise DabenchError(f"feature file {path} has sha256 {got[:16]}..., expected "
                           f"{expected[:16]}... (of the uncompressed original); the file is "
                           "damaged or not the published one: restore it")


def read(path: Path, data: bytes, fmt: str, spec: dict[str, Any],
         dim: Optional[int]) -> tuple[Any, np.ndarray]:
    """(features, raw labels) of one file; `spec` holds the format options (zero_based,
    x_key/y_key, header), `dim` the feature dimension when the task fixes it."""
    reader = {"svmlight": _svmlight, "npz": _npz, "csv": _csv, "mat": _mat}[fmt]
    if not data:
        raise DabenchError(f"feature file {path} is empty (0 bytes); copy it again or fix the "
                           "domain's `train:`/`test:` path")
    x, y = reader(path, data, spec, dim)
    if x.shape[0] == 0:
        raise DabenchError(f"feature file {path} holds no rows; a domain needs at least one "
                           "labelled example in each file")
    _check_finite(path, x, y)
    return x, y


# -- svmlight ----------------------------------------------------------------------------------

def _svmlight(path: Path, data: bytes, spec: dict, dim: Optional[int]):
    from sklearn.datasets import load_svmlight_file

    zero_based = spec.get("zero_based", False) is True
    try:
        x, y = load_svmlight_file(io.BytesIO(data), n_features=dim, zero_based=zero_based,
                                  dtype=np.float32)
    except ValueError:
        _scan_svmlight(path, data, zero_based, dim)  # raises, naming the line
        raise
    return x.tocsr(), np.asarray(y, dtype=np.float64)


def _scan_svmlight(path: Path, data: bytes, zero_based: bool, dim: Optional[int]) -> None:
    """Find the first bad line of an svmlight file and raise an error naming it."""
    first = 0 if zero_based else 1
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        where = f"feature file {path} line {number}"
        try:
            float(tokens[0])
        except ValueError:
            raise DabenchError(f"{where}: label '{tokens[0]}' is not a number") from None
        for token in tokens[1:]:
            if token.startswith("qid:"):
                continue
            index, sep, value = token.partition(":")
            try:
                i, _ = int(index), float(value)
                if not sep:
                    raise ValueError
            except ValueError:
                raise DabenchError(f"{where}: '{token}' is not index:value") from None
            if i < first:
                hint = "; set the domain option `zero_based: true`" if i == 0 else ""
                raise DabenchError(f"{where}: feature index {i} is below {first}{hint}")
            if dim is not None and i - first >= dim:
                raise DabenchError(f"{where}: feature index {i} is beyond the task's dimension "
                                   f"{dim} (domain option `dim:`)")
    raise DabenchError(f"feature file {path} is not valid svmlight (label index:value ...)")


# -- npz / mat ---------------------------------------------------------------------------------

def _keys(path: Path, spec: dict, available: list[str], defaults: tuple[str, str]) -> tuple[str, str]:
    keys = (spec.get("x_key", defaults[0]), spec.get("y_key", defaults[1]))
    for option, key in zip(("x_key", "y_key"), keys):
        if key is None:
            raise DabenchError(f"feature file {path}: name its {option} in the domain options "
                               f"(variables in the file: {', '.join(available)})")
        if key not in available:
            raise DabenchError(f"feature file {path}: no key '{key}' ({option}); the file holds "
                               f"{', '.join(available) or 'nothing'}")
    return keys


def _arrays(path: Path, x: Any, y: Any, keys: tuple[str, str]):
    import scipy.sparse as sp

    y = np.asarray(y)
    if y.ndim == 2 and 1 in y.shape:
        y = y.ravel()  # MATLAB stores vectors as (N, 1)
    if sp.issparse(x):
        x = sp.csr_matrix(x, dtype=np.float32)
    else:
        x = np.asarray(x)
        if x.ndim != 2:
            raise DabenchError(f"feature file {path}: '{keys[0]}' has shape {x.shape}; "
                               "features must be a 2-D (rows, features) array")
        try:
            x = x.astype(np.float32)
        except (TypeError, ValueError):
            raise DabenchError(f"feature file {path}: '{keys[0]}' is not numeric") from None
    if y.ndim != 1 or len(y) != x.shape[0]:
        raise DabenchError(f"feature file {path}: '{keys[1]}' has shape {y.shape} but "
                           f"'{keys[0]}' has {x.shape[0]} rows; give one label per row")
    try:
        return x, y.astype(np.float64)
    except (TypeError, ValueError):
        raise DabenchError(f"feature file {path}: labels '{keys[1]}' are not numbers") from None


def _npz(path: Path, data: bytes, spec: dict, dim: Optional[int]):
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        keys = _keys(path, spec, list(npz.files), ("x", "y"))
        return _arrays(path, npz[keys[0]], npz[keys[1]], keys)
    except (OSError, ValueError) as exc:
        if isinstance(exc, DabenchError):
            raise
        raise DabenchError(f"feature file {path} is not a readable .npz ({exc})") from None


def _mat(path: Path, data: bytes, spec: dict, dim: Optional[int]):
    import scipy.io

    try:
        mat = scipy.io.loadmat(io.BytesIO(data))
    except (ValueError, TypeError, NotImplementedError, scipy.io.matlab.MatReadError) as exc:
        raise DabenchError(f"feature file {path} is not a readable MATLAB v5 .mat file "
                           f"({exc}); save it with save(..., '-v7')") from None
    names = sorted(k for k in mat if not k.startswith("__"))
    keys = _keys(path, spec, names, (None, None))
    return _arrays(path, mat[keys[0]], mat[keys[1]], keys)


# -- csv ---------------------------------------------------------------------------------------

def _csv(path: Path, data: bytes, spec: dict, dim: Optional[int]):
    """Rows of `f1, ..., fD, label`; a first row that is not numeric is a header."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"))))
    start = 0
    header = spec.get("header")
    if header is None and rows:
        header = not _numeric(rows[0])
    if header:
        start = 1
    body = [(number, row) for number, row in enumerate(rows[start:], start=start + 1) if row]
    if not body:
        raise DabenchError(f"feature file {path} has no data rows")
    width = len(body[0][1])
    if width < 2:
        raise DabenchError(f"feature file {path} line {body[0][0]}: needs features then a label "
                           f"per row, found {width} field")
    for number, row in body:
        if len(row) != width:
            raise DabenchError(f"feature file {path} line {number}: {len(row)} fields, but the "
                               f"first data row has {width} (ragged rows)")
    try:
        table = np.array([row for _, row in body], dtype=np.float64)
    except ValueError:
        number = next(n for n, row in body if not _numeric(row))
        raise DabenchError(f"feature file {path} line {number}: a field is not a number") from None
    return table[:, :-1].astype(np.float32), table[:, -1]


def _numeric(row: list[str]) -> bool:
    try:
        [float(v) for v in row]
    except ValueError:
        return False
    return True


# -- checks ------------------------------------------------------------------------------------

def _check_finite(path: Path, x: Any, y: np.ndarray) -> None:
    import scipy.sparse as sp

    bad_y = ~np.isfinite(y)
    if sp.issparse(x):
        bad = np.flatnonzero(~np.isfinite(x.data))
        rows = np.searchsorted(x.indptr, bad, side="right") - 1
    else:
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
    rows = np.concatenate([rows, np.flatnonzero(bad_y)])
    if len(rows):
        raise DabenchError(f"feature file {path} row {int(rows.min()) + 1}: NaN or infinite "
                           "value; clean the file (every feature and label must be a finite "
                           "number)")
