"""The `vectors` loader: domains given as feature-vector files + labels.

A domain's options in the task file:

    loader: vectors
    options:
      train: books_train.svmlight.xz      # a path, relative to the task file's folder
                                          # ("package:data/..." : inside the installed dabench), or
      test: {file: feats.mat, x_key: Xt, y_key: yt}   # a mapping with per-file options
      sha256: {train: 317f..., test: fe46...}          # of the uncompressed originals (optional)
      labels: [-1, 1]      # the raw label of each class, in the order of `classes`
      dim: 5000            # feature dimension (optional; else checked between the files)
      zero_based: true     # svmlight indices start at 0 (default 1, as in SVMlight)
      x_key: X             # .npz default x / y; .mat: required
      y_key: y
      format: csv          # only when the extension does not say it

Every file of a task must have the same feature dimension (sparse files are widened to the
largest index seen when no `dim` is given). Files are read once per process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from dabench.data import LOADERS, normalises
from dabench.data.vectors import formats
from dabench.data.vectors.dataset import VectorDataset
from dabench.data.vectors.options import FILE_KEYS, SPLITS
from dabench.errors import DabenchError

_CACHE: dict[tuple, tuple[Any, np.ndarray]] = {}
_SPLITS = SPLITS
_FILE_KEYS = set(FILE_KEYS)


PACKAGE_PREFIX = "package:"  # a path inside the dabench package, the same in a checkout and a wheel


def _file_spec(domain, task, split: str) -> tuple[Path, dict[str, Any]]:
    """The file of `split` of a vectors domain and its options (domain options <- file's own)."""
    opts = domain.options
    entry = opts.get(split)
    where = f"task file {task.file}: domains.{domain.key}.options.{split}"
    if entry is None:
        raise DabenchError(f"{where} is missing; a vectors domain names its `train:` and `test:` "
                           "feature files")
    spec = {k: v for k, v in opts.items() if k in _FILE_KEYS - {"sha256"}}
    sha = opts.get("sha256", {})
    if isinstance(sha, dict) and split in sha:
        spec["sha256"] = sha[split]
    if isinstance(entry, dict):
        unknown = sorted(set(entry) - _FILE_KEYS)
        if unknown or "file" not in entry:
            raise DabenchError(f"{where}: give `file:` and optionally {', '.join(sorted(_FILE_KEYS - {'file'}))}"
                               f"{'; unknown: ' + ', '.join(unknown) if unknown else ''}")
        spec.update(entry)
        entry = entry["file"]
    if str(entry).startswith(PACKAGE_PREFIX):  # files shipped in the package (the Amazon reviews)
        return Path(__file__).resolve().parents[2] / str(entry)[len(PACKAGE_PREFIX):], spec
    path = Path(os.path.expandvars(str(entry))).expanduser()
    if not path.is_absolute():
        path = Path(task.file).resolve().parent / path
    return path, spec


def _read(path: Path, spec: dict[str, Any], dim: Optional[int]) -> tuple[Any, np.ndarray]:
    """Read (and cache) one file: features and raw labels, sha256 checked when given."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    key = (str(path), stamp, tuple(sorted((k, str(v)) for k, v in spec.items())), dim)
    if key not in _CACHE:
        fmt = spec.get("format") or formats.file_format(path)
        if fmt not in formats.FILE_FORMATS:
            raise DabenchError(f"{path}: format '{fmt}' is not one of "
                               f"{', '.join(formats.FILE_FORMATS)}")
        data = formats.read_bytes(path)
        if spec.get("sha256"):
            formats.check_sha256(path, data, str(spec["sha256"]))
        if len(_CACHE) >= 32:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = formats.read(path, data, fmt, spec, dim)
    return _CACHE[key]


def _labels(path: Path, raw: np.ndarray, domain, task) -> torch.Tensor:
    """Raw labels -> class indices by the domain's `labels:` list (default 0..C-1)."""
    values = domain.options.get("labels", list(range(task.num_classes)))
    if len(values) != task.num_classes:
        raise DabenchError(f"task file {task.file}: domains.{domain.key}.options.labels has "
                           f"{len(values)} values but the task has {task.num_classes} classes")
    lookup = {float(v): i for i, v in enumerate(values)}
    out = np.array([lookup.get(float(v), -1) for v in raw], dtype=np.int64)
    bad = np.flatnonzero(out < 0)
    if len(bad):
        row = int(bad[0])
        raise DabenchError(f"feature file {path} row {row + 1}: label {raw[row]:g} is not one of "
                           f"the task's classes (raw labels {', '.join(map(str, values))}); fix "
                           "the file or the domain's `labels:` option")
    return torch.from_numpy(out)


def _task_files(task) -> list[tuple[Any, str]]:
    domains = {d.key: d for d in (task.source, *task.targets)}.values()
    return [(d, s) for d in domains for s in _SPLITS if d.loader == "vectors"]


def _declared_dim(task) -> Optional[int]:
    declared = {d.options["dim"] for d, _ in _task_files(task) if "dim" in d.options}
    if len(declared) > 1:
        raise DabenchError(f"task file {task.file}: domains declare different `dim:` values "
                           f"({', '.join(map(str, sorted(declared)))}); all domains of a task "
                           "share one feature space")
    return int(declared.pop()) if declared else None


def _task_dim(task) -> int:
    """The feature dimension every file of the task must have; errors name a file that differs."""
    declared = _declared_dim(task)
    shapes = []
    for d, split in _task_files(task):
        path, spec = _file_spec(d, task, split)
        x, _ = _read(path, spec, declared)
        shapes.append((path, int(x.shape[1]), hasattr(x, "indptr")))
    if declared is not None:
        for path, dim, _ in shapes:
            if dim != declared:
                raise DabenchError(f"feature file {path} has {dim} features per row but the "
                                   f"task declares `dim: {declared}`; all domains of a task "
                                   "share one feature space")
        return declared
    if all(sparse for *_, sparse in shapes):
        return max(dim for _, dim, _ in shapes)  # svmlight: trailing zero features are implicit
    ref_path, ref_dim, _ = shapes[0]
    for path, dim, _ in shapes[1:]:
        if dim != ref_dim:
            raise DabenchError(f"feature file {path} has {dim} features per row but {ref_path} "
                               f"has {ref_dim}; all domains of a task must share one feature "
                               "space (same dimension)")
    return ref_dim


@LOADERS.register("vectors")
@normalises("none: the file's feature values as they are")
def load_vectors(domain, task, data_root: Optional[Path], split: str,
                 config=None) -> VectorDataset:
    """One split of a feature-vector domain (sparse input stays a scipy CSR matrix)."""
    dim = _task_dim(task)
    path, spec = _file_spec(domain, task, split)
    x, raw = _read(path, spec, _declared_dim(task))
    if x.shape[1] < dim:  # only sparse files get here: widen (the missing features are zeros)
        x = x.copy()
        x.resize((x.shape[0], dim))
    return VectorDataset(x, _labels(path, raw, domain, task))
