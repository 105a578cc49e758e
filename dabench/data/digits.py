"""The embedded digits domains, built offline from data inside PyPI wheels.

- `mnist5k`: 5,000 real MNIST digits shipped inside this package (`data/embedded/mnist5k.u8.gz`,
  provenance and licence in `data/embedded/README.md`; 500 per class, sorted by class in the
  file, so shuffled before the train/test split).
- `mnistm5k`: MNIST-M made by the recipe of Ganin & Lempitsky 2015
  (https://arxiv.org/abs/1409.7495, section 5.1): each image is |digit - patch| per channel, the
  patch a random crop of a natural colour photo (BSDS500 in the paper; the photos shipped in
  scikit-image's and scikit-learn's wheels here). Train and test images come from the train and
  held-out digits respectively, with patches drawn independently.
- `sklearn-digits`: the 1,797 UCI 8x8 handwritten digits shipped with scikit-learn, upsampled to
  a 20x20 digit centred in 28x28 like MNIST's.

Every domain is a TensorDataset of (N, 3, 28, 28) float32 images in [0, 1] minus the domain's
per-channel training mean, and (N,) int64 labels. The data is a function of the task options
only (`data_seed`), never of the run seed, so every run of a task sees the same images.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from dabench.data import LOADERS, normalises
from dabench.errors import DabenchError

DEFAULT_PHOTOS = (
    "skimage:astronaut.png", "skimage:chelsea.png", "skimage:coffee.png", "skimage:rocket.jpg",
    "skimage:motorcycle_left.png", "skimage:motorcycle_right.png", "skimage:hubble_deep_field.jpg",
    "skimage:ihc.png", "sklearn:china.jpg", "sklearn:flower.jpg",
)


def _package_dir(package: str, hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise DabenchError(f"the embedded digits task needs the '{hint}' package, which is not "
                           f"installed; run: pip install {hint}")
    return Path(spec.origin).parent


MNIST5K = Path(__file__).resolve().parent / "embedded" / "mnist5k.u8.gz"
MNIST5K_SHA256 = "ea228863bba95e61f5ac83cf9dcdde84961e96dd5b1fdca4162508eba39c6cf1"


@lru_cache(maxsize=1)
def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """(5000, 28, 28) uint8 digits and (5000,) int64 labels, in the file's (class) order."""
    try:
        packed = MNIST5K.read_bytes()
    except OSError as exc:
        raise DabenchError(f"cannot read the embedded digits {MNIST5K} ({exc.strerror}); "
                           "reinstall dabench: pip install --force-reinstall dabench") from None
    if hashlib.sha256(packed).hexdigest() != MNIST5K_SHA256:
        raise DabenchError(f"the embedded digits {MNIST5K} are damaged (sha256 mismatch); "
                           "reinstall dabench: pip install --force-reinstall dabench")
    raw = np.frombuffer(gzip.decompress(packed), dtype=np.uint8)
    n = 5000
    return raw[:n * 784].reshape(n, 28, 28).copy(), raw[n * 784:].astype(np.int64)


def split_indices(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle of range(n), cut into (train, test) with n_test held out."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def load_photo(ref: str) -> np.ndarray:
    """'skimage:name.png' or 'sklearn:name.jpg' -> (H, W, 3) uint8."""
    from PIL import Image

    package, _, name = ref.partition(":")
    folders = {"skimage": ("skimage", ("data",)), "sklearn": ("sklearn", ("datasets", "images"))}
    if package not in folders:
        raise DabenchError(f"photo '{ref}': use 'skimage:<file>' or 'sklearn:<file>'")
    pkg, sub = folders[package]
    path = _package_dir(pkg, "scikit-image" if pkg == "skimage" else "scikit-learn").joinpath(*sub, name)
    if not path.is_file():
        raise DabenchError(f"photo '{ref}' not found at {path}; pick another in the task file")
    return np.asarray(Image.open(path).convert("RGB"))


def blend_mnistm(digits: np.ndarray, photos: list[np.ndarray], seed: int) -> np.ndarray:
    """MNIST-M: |digit - patch| per channel. (N, 28, 28) uint8 -> (N, 28, 28, 3) uint8."""
    rng = np.random.default_rng(seed)
    out = np.empty((*digits.shape, 3), dtype=np.uint8)
    which = rng.integers(len(photos), size=len(digits))
    for i, (digit, p) in enumerate(zip(digits, which)):
        photo = photos[p]
        top = rng.integers(photo.shape[0] - 28 + 1)
        left = rng.integers(photo.shape[1] - 28 + 1)
        patch = photo[top:top + 28, left:left + 28].astype(np.int16)  # (28, 28, 3)
        out[i] = np.abs(digit[:, :, None].astype(np.int16) - patch).astype(np.uint8)
    return out


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 28, 28) uint8: 8x8 digits (0..16) upsampled to 20x20 and centred like MNIST."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DabenchError("the mnist-to-digits task needs scikit-learn; run: "
                           "pip install scikit-learn") from None
    data = load_digits()
    small = torch.from_numpy(data.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    big = torch.nn.functional.interpolate(small, size=(20, 20), mode="bilinear",
                                          align_corners=False)
    out = torch.zeros(len(small), 28, 28)
    out[:, 4:24, 4:24] = big[:, 0].clamp(0, 1)
    return (out.numpy() * 255).round().astype(np.uint8), data.target.astype(np.int64)


def to_dataset(images: np.ndarray, labels: np.ndarray, mean: np.ndarray) -> TensorDataset:
    """uint8 (N, 28, 28[, 3]) -> float (N, 3, 28, 28) in [0, 1] minus the per-channel mean."""
    x = torch.from_numpy(images).float().div_(255.0)
    x = x[:, None].expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    x = x - torch.from_numpy(mean).view(1, 3, 1, 1)
    return TensorDataset(x.contiguous(), torch.from_numpy(labels).long())


def channel_mean(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float64) / 255.0
    return (np.full(3, x.mean()) if x.ndim == 3 else x.mean(axis=(0, 1, 2))).astype(np.float32)


@lru_cache(maxsize=8)
def _build(kind: str, n_test: int, data_seed: int, photos: tuple[str, ...],
           copies: int = 1) -> dict[str, tuple]:
    """Both splits of one domain as uint8 arrays (cached: each is built once per process).

    For MNIST-M, `copies` > 1 blends every training digit with that many independent patches
    (the test split keeps one per digit)."""
    if kind == "sklearn-digits":
        images, labels = sklearn_digits()
        train, test = split_indices(len(images), n_test, data_seed)
        return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}
    images, labels = mnist5k()
    train, test = split_indices(len(images), n_test, data_seed)
    splits = {"train": (images[train], labels[train]), "test": (images[test], labels[test])}
    if kind == "mnistm5k":
        pics = [load_photo(ref) for ref in photos]
        (x_tr, y_tr), (x_te, y_te) = splits["train"], splits["test"]
        # (copies * N, 28, 28): digit i appears at i, N + i, 2N + i, ...
        x_tr, y_tr = np.concatenate([x_tr] * copies), np.concatenate([y_tr] * copies)
        splits = {"train": (blend_mnistm(x_tr, pics, data_seed * 1000 + 1), y_tr),
                  "test": (blend_mnistm(x_te, pics, data_seed * 1000 + 2), y_te)}
    return splits


def _load(kind: str, domain, task, split: str) -> TensorDataset:
    """One split of an embedded digits domain, after checking the domain's options."""
    opts = dict(domain.options)
    photos = tuple(opts.pop("photos", DEFAULT_PHOTOS))
    n_test = int(opts.pop("test_size", 1000))
    seed = int(opts.pop("data_seed", 0))
    copies = int(opts.pop("copies", 1)) if kind == "mnistm5k" else 1
    train_size = opts.pop("train_size", None)
    if copies < 1:
        raise DabenchError(f"task file {task.file}: domain '{domain.key}' option copies "
                           f"must be >= 1, got {copies}")
    if opts:
        raise DabenchError(f"task file {task.file}: domain '{domain.key}' has unknown "
                           f"option(s) {', '.join(opts)}; known: photos, test_size, data_seed, train_size"
                           + (", copies" if kind == "mnistm5k" else ""))
    splits = _build(kind, n_test, seed, photos, copies)
    if train_size is not None:  # a seeded subset of the training digits (ADDA's 2,000 MNIST)
        x, y = splits["train"]
        if not isinstance(train_size, int) or isinstance(train_size, bool) or \
                not 0 < train_size <= len(y):
            raise DabenchError(f"task file {task.file}: domain '{domain.key}' option train_size "
                               f"must be an integer in 1..{len(y)}, got {train_size!r}")
        keep = np.sort(np.random.default_rng([seed, 2]).permutation(len(y))[:train_size])
        splits = {**splits, "train": (x[keep], y[keep])}
    mean = channel_mean(splits["train"][0])
    return to_dataset(*splits[split], mean)


MEAN_SUBTRACTION = "mean subtraction: pixels in [0, 1] minus the domain's own per-channel training mean"


@LOADERS.register("mnist5k")
@normalises(MEAN_SUBTRACTION)
def load_mnist5k(domain, task, data_root, split: str, config=None) -> TensorDataset:
    return _load("mnist5k", domain, task, split)


@LOADERS.register("mnistm5k")
@normalises(MEAN_SUBTRACTION)
def load_mnistm5k(domain, task, data_root, split: str, config=None) -> TensorDataset:
    return _load("mnistm5k", domain, task, split)


@LOADERS.register("sklearn-digits")
@normalises(MEAN_SUBTRACTION)
def load_sklearn_digits(domain, task, data_root, split: str, config=None) -> TensorDataset:
    return _load("sklearn-digits", domain, task, split)
