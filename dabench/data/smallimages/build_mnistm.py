"""`dabench data build mnistm`: regenerate MNIST-M from MNIST and BSDS500 photos (no torch).

MNIST-M (Ganin & Lempitsky, ICML 2015, https://arxiv.org/abs/1409.7495, Section 5.1; JMLR 2016
Section 5.2.2): each digit is blended over a patch randomly cut from a BSDS500 colour photo,
output = |digit - patch| per channel (`dabench.data.digits.blend_mnistm`, shared with the
embedded demo). The result is written in the original archive's layout (mnist_m_train/*.png,
mnist_m_train_labels.txt, the same for test) with a `DABENCH_REGENERATED.json` marker: every run
on it records that its data was regenerated, and `dabench report` never puts a published value
or a Δ beside it. Differences from the original: all 60,000 / 10,000 MNIST digits are used (the
original has 59,001 / 9,001; which digits it left out is not published), and the patches are
other random draws.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from dabench.data.smallimages.arrays import REGENERATED
from dabench.data.smallimages.formats import read_idx
from dabench.data.smallimages.layouts import LAYOUTS, resolve_file
from dabench.errors import DabenchError
from dabench.runs.store import write_atomic

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def load_photos(folder: Path) -> list[np.ndarray]:
    """Every photo under `folder` (BSDS500: BSDS500/data/images/{train,val,test}/*.jpg) as RGB."""
    from PIL import Image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    if not files:
        raise DabenchError(f"no .jpg/.png photos under {folder}; fix: pass the extracted BSDS500 "
                           "folder (e.g. BSR/BSDS500/data/images) with --photos")
    photos = []
    for path in files:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        if min(rgb.shape[:2]) >= 28:
            photos.append(rgb)
    return photos


def build_mnistm(mnist_dir: Path, photos_dir: Path, out_dir: Path, seed: int = 0,
                 limit: int = 0, say: Callable[[str], None] = print) -> dict:
    """Write a regenerated MNIST-M into `out_dir`; returns the marker's contents."""
    from PIL import Image

    from dabench.data.digits import blend_mnistm

    if out_dir.exists() and any(out_dir.iterdir()):
        raise DabenchError(f"{out_dir} exists and is not empty; fix: move it away or choose "
                           "another --data-root")
    photos = load_photos(photos_dir)
    layout = LAYOUTS["mnist"]
    counts = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, salt in (("train", 1), ("test", 2)):
        images_file, labels_file = (layout.train if split == "train" else layout.test)["idx"]
        x = read_idx(resolve_file(mnist_dir, images_file, f"MNIST ({split})"))
        y = read_idx(resolve_file(mnist_dir, labels_file, f"MNIST ({split})"))
        if limit:
            x, y = x[:limit], y[:limit]
        say(f"blending {len(x)} {split} digits over patches of {len(photos)} photos")
        blended = blend_mnistm(x, photos, seed * 1000 + salt)  # (N, 28, 28, 3) uint8
        folder = out_dir / f"mnist_m_{split}"
        folder.mkdir()
        lines = []
        for i, (image, label) in enumerate(zip(blended, y)):
            name = f"{i:08d}.png"
            Image.fromarray(image).save(folder / name)
            lines.append(f"{name} {int(label)}\n")
        write_atomic(out_dir / f"mnist_m_{split}_labels.txt", "".join(lines))
        counts[split] = len(lines)
    marker = {"regenerated": True, "dataset": "MNIST-M", "by": "dabench data build mnistm",
              "digits": str(mnist_dir), "photos": str(photos_dir), "n_photos": len(photos),
              "seed": seed, "counts": counts,
              "note": "not the original MNIST-M: never compared with published values"}
    write_atomic(out_dir / REGENERATED, json.dumps(marker, indent=1))
    return marker
