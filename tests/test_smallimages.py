"""The small-image loaders (dabench.data.smallimages) on real files from ../shared/data (skipped
when absent) and on files written in each dataset's exact format; the DANN paper's CNNs."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from dabench.data.smallimages.formats import (
    read_digit_mat,
    read_idx,
    read_label_file,
    read_libsvm_images,
    read_roi_csvs,
    write_libsvm_images,
)
from dabench.errors import DabenchError
from dabench.tasks.catalog import build_catalog, load_catalog

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (REPO.parent / "shared", REPO.parents[1] / "shared")
               if (p / "data").is_dir()), REPO.parent / "shared") / "data"
SIGNS = SHARED / "signs-real"
USPS_MAT = SHARED / "usps" / "usps_all.mat"
needs_signs = pytest.mark.skipif(not SIGNS.is_dir(), reason=f"{SIGNS} absent (real GTSRB / Syn "
                                 "Signs subsets; see the shared data README)")
needs_usps = pytest.mark.skipif(not USPS_MAT.is_file(), reason=f"{USPS_MAT} absent")


# -- exact-format writers for the tests ------------------------------------------------------------

def write_idx(path: Path, array: np.ndarray) -> None:
    """LeCun's IDX: 0, 0, type 0x08 (uint8), ndim, big-endian dims, data; gzipped."""
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(head + array.astype(np.uint8).tobytes()))


def write_svhn_mat(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """SVHN's layout: X [32, 32, 3, N] uint8, y [N, 1] with digit 0 stored as 10."""
    import scipy.io

    y = labels.copy()
    y[y == 0] = 10
    scipy.io.savemat(str(path), {"X": images.transpose(1, 2, 3, 0), "y": y.reshape(-1, 1)})


def digits(n: int, side: int, seed: int = 0, rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (n, side, side, 3) if rgb else (n, side, side)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 10, n)


def task_file(tmp_path: Path, domains: dict, classes: int = 10, **defaults) -> Path:
    body = {"family": "t", "dataset": "T", "version": 1, "modality": "image",
            "classes": [str(i) for i in range(classes)], "domains": domains,
            "defaults": {"backbone.name": "dann-mnist", "steps": 4, "batch_size": 8,
                         "eval_every": 2, "log_every": 2, **defaults},
            "tasks": {"a-to-b": {"title": "A-to-B", "source": "a", "targets": ["b"]}}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def load(path: Path, data_root: Path, split: str = "train", key: str = "a"):
    from dabench.data import get_loader

    spec = build_catalog([path]).task("a-to-b")
    domain = spec.source if key == "a" else spec.targets[0]
    return get_loader(domain.loader)(domain, spec, data_root, split)


# -- readers ----------------------------------------------------------------------------------------

def test_idx_roundtrip_and_truncation(tmp_path):
    x, y = digits(7, 28)
    write_idx(tmp_path / "img.gz", x)
    assert (read_idx(tmp_path / "img.gz") == x).all()
    (tmp_path / "bad").write_bytes(gzip.decompress((tmp_path / "img.gz").read_bytes())[:-5])
    with pytest.raises(DabenchError, match="truncated"):
        read_idx(tmp_path / "bad")


def test_svhn_mat_label_10_is_zero(tmp_path):
    x, y = digits(5, 32, rgb=True)
    y[:2] = 0
    write_svhn_mat(tmp_path / "train_32x32.mat", x, y)
    got_x, got_y = read_digit_mat(tmp_path / "train_32x32.mat")
    assert got_x.shape == (5, 32, 32, 3) and (got_x == x).all() and (got_y == y).all()


@needs_usps
def test_usps_libsvm_from_the_real_digits(tmp_path):
    """All 9,298 real USPS digits written as libsvm .bz2 and read back exactly; rows 0-7,290
    carry the official training set's class counts."""
    import scipy.io

    raw = scipy.io.loadmat(str(USPS_MAT))["usps_all"]
    x, y = raw[:, :256].reshape(-1, 16, 16), raw[:, 256].astype(np.int64) - 1
    assert np.bincount(y[:7291]).tolist() == [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
    write_libsvm_images(tmp_path / "usps.t.bz2", x[7291:], y[7291:])
    got_x, got_y = read_libsvm_images(tmp_path / "usps.t.bz2")
    assert got_x.shape == (2007, 16, 16) and (got_x == x[7291:]).all() and (got_y == y[7291:]).all()


def test_libsvm_sparse_line_and_bad_label(tmp_path):
    (tmp_path / "f").write_text("3 1:1 256:-1\n")  # absent indices are 0 (mid-grey)
    x, y = read_libsvm_images(tmp_path / "f")
    assert y.tolist() == [2] and x[0, 0, 0] == 255 and x[0, 15, 15] == 0 and x[0, 5, 5] == 128
    (tmp_path / "g").write_text("11 1:0\n")
    with pytest.raises(DabenchError, match="labels must be 1..10"):
        read_libsvm_images(tmp_path / "g")


def test_mnistm_label_file_flat_folder(tmp_path):
    """MNIST-M's layout: mnist_m_train/<file>.png and mnist_m_train_labels.txt '<file> <label>'."""
    (tmp_path / "mnist_m_train").mkdir()
    for i in range(4):
        Image.new("RGB", (28, 28), (i * 40, 0, 0)).save(tmp_path / "mnist_m_train" / f"{i:08d}.png")
    (tmp_path / "mnist_m_train_labels.txt").write_text(
        "".join(f"{i:08d}.png {i + 3}\n" for i in range(4)))
    items, dups = read_label_file(tmp_path / "mnist_m_train_labels.txt",
                                  tmp_path / "mnist_m_train", 10)
    assert [it.label for it in items] == [3, 4, 5, 6] and dups == 0
    assert items[2].path == tmp_path / "mnist_m_train" / "00000002.png"


# -- loaders through a task file --------------------------------------------------------------------

def _mnist_folder(root: Path, n_train: int = 30, n_test: int = 10) -> None:
    (root / "mnist").mkdir(parents=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        x, y = digits(n, 28, seed)
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", y.astype(np.uint8))


def test_mnist_and_svhn_loaders_sizes_grey_and_mean(tmp_path):
    _mnist_folder(tmp_path)
    (tmp_path / "svhn").mkdir()
    for split, n in (("train", 12), ("test", 6)):
        write_svhn_mat(tmp_path / "svhn" / f"{split}_32x32.mat", *digits(n, 32, rgb=True))
    path = task_file(tmp_path, {"a": {"name": "SVHN", "loader": "svhn"},
                                "b": {"name": "MNIST", "loader": "mnist",
                                      "options": {"image_size": 32, "train_size": 20}}})
    svhn_train, svhn_test = load(path, tmp_path), load(path, tmp_path, "test")
    assert (len(svhn_train), len(svhn_test)) == (12, 6)
    x, _ = svhn_train.take(np.arange(12))
    assert x.shape == (12, 3, 32, 32) and abs(float(x.mean())) < 1e-5  # minus the train mean
    mnist = load(path, tmp_path, key="b")
    x, _ = mnist.take(np.arange(3))
    assert len(mnist) == 20 and x.shape == (3, 3, 32, 32)
    assert (x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all()  # grey replicated
    assert len(load(path, tmp_path, "test", key="b")) == 10


def test_missing_folder_names_the_download_and_hint(tmp_path):
    path = task_file(tmp_path, {"a": {"name": "MNIST", "loader": "mnist",
                                      "options": {"missing_hint": "(see X)"}},
                                "b": {"name": "MNIST-M", "loader": "mnistm"}})
    with pytest.raises(DabenchError, match=r"dabench data download mnist .*\(see X\)"):
        load(path, tmp_path)


def test_generic_loader_with_missing_files(tmp_path):
    """A flat folder + label file: missing listed files are one error line naming the first
    three and the count, or skipped with skip_missing."""
    (tmp_path / "d" / "imgs").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (40, 40), (0, i * 50, 0)).save(tmp_path / "d" / "imgs" / f"{i}.png")
    (tmp_path / "d" / "labels.txt").write_text("".join(f"{i}.png {i % 2} 0.5\n" for i in range(8)))
    spec = {"labels": "labels.txt", "images": "imgs"}
    path = task_file(tmp_path, {"a": {"name": "A", "loader": "labelled-images",
                                      "options": {"path": "d", "train": spec}},
                                "b": {"name": "B", "loader": "labelled-images",
                                      "options": {"path": "d", "train": spec, "image_size": 28,
                                                  "skip_missing": True}}})
    with pytest.raises(DabenchError) as info:
        load(path, tmp_path)
    message = str(info.value)
    assert "5 of 8 files listed" in message and "3.png, " in message and "7.png" not in message
    assert "skip_missing: true" in message
    ds = load(path, tmp_path, key="b")
    assert len(ds) == 3 and load(path, tmp_path, "test", key="b") is ds  # one split


@needs_signs
def test_real_synsigns_and_gtsrb_roi(tmp_path):
    """The real subsets: Syn Signs' labelling file lists 2,000 lines for 1,982 files (18 lines
    repeat a file); GTSRB's per-class CSVs give 2,000 images cropped to their ROI."""
    from dabench.data.smallimages.formats import Listed
    from dabench.data.smallimages.arrays import decode_files

    items, dups = read_label_file(SIGNS / "synsigns" / "train_labelling.txt", SIGNS / "synsigns", 43)
    assert (len(items), dups) == (1982, 18)
    rows = read_roi_csvs("Final_Training/Images/*/GT-*.csv", SIGNS / "GTSRB", 43)
    assert len(rows) == 2000 and len({r.label for r in rows}) == 43
    first = rows[0]
    x1, y1, x2, y2 = first.roi
    with Image.open(first.path) as im:
        want = np.asarray(im.convert("RGB").crop((x1, y1, x2 + 1, y2 + 1)).resize((40, 40),
                                                                                  Image.BILINEAR))
        full = np.asarray(im.convert("RGB").resize((40, 40), Image.BILINEAR))
    got = decode_files([first], 40)[0]
    assert (got == want).all() and not (got == full).all()
    assert (decode_files([Listed(first.path, first.label)], 40)[0] == full).all()


@needs_signs
def test_data_check_counts_the_real_signs(tmp_path):
    from typer.testing import CliRunner

    from dabench.cli.app import app

    out = CliRunner().invoke(app, ["data", "check", "synsigns-to-gtsrb", "--data-root",
                                   str(SIGNS), "--no-verify"])
    assert out.exit_code == 1, out.output
    assert "train: 1982 images (expected 100000)" in out.output
    assert "18 lines list a file again" in out.output
    assert "train: 2000 images (expected 39209)" in out.output


@needs_signs
def test_gtsrb_holdout_is_disjoint_and_seeded(tmp_path):
    opts = {"image_size": 40, "holdout": 400, "data_seed": 0}
    path = task_file(tmp_path, {"a": {"name": "S", "loader": "synsigns"},
                                "b": {"name": "G", "loader": "gtsrb", "options": opts}},
                     classes=43)
    train, test = load(path, SIGNS, key="b"), load(path, SIGNS, "test", key="b")
    assert (len(train), len(test)) == (1600, 400)
    a = {bytes(p) for p in train.pixels.numpy().reshape(1600, -1)}
    b = {bytes(p) for p in test.pixels.numpy().reshape(400, -1)}
    assert not a & b


# -- the paper's networks ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,side,dim", [("dann-mnist", 28, 768), ("dann-svhn", 32, 6272),
                                           ("dann-gtsrb", 40, 1024)])
def test_paper_cnns(name, side, dim):
    import torch

    from dabench.models.backbones import build_backbone

    net, out = build_backbone(name, "none")
    assert out == dim and net(torch.zeros(2, 3, side, side)).shape == (2, dim)
    with pytest.raises(DabenchError, match=f"image_size: {side}"):
        net(torch.zeros(2, 3, side + 4, side + 4))


def test_table2_tasks_recipe_and_heads():
    from dabench.config import resolve
    from dabench.models.build import build_network

    catalog = load_catalog()
    assert [t.name for t in catalog.expand(["dann-table2"])] == [
        "mnist-to-mnistm", "syndigits-to-svhn", "svhn-to-mnist", "synsigns-to-gtsrb"]
    svhn = resolve(catalog.task("svhn-to-mnist"), "revgrad", 0, {})
    assert svhn.optim.lr_schedule == "constant" and svhn.optim.lr == 0.01
    assert (svhn.optim.momentum, svhn.batch_size) == (0.9, 64)
    assert resolve(catalog.task("mnist-to-mnistm"), "revgrad", 0, {}).optim.lr_schedule == "dann"
    net = build_network(10, svhn)
    widths = [m.out_features for m in net.classifier if hasattr(m, "out_features")]
    dom = [m.out_features for m in net.domain_heads["feature"] if hasattr(m, "out_features")]
    assert widths == [3072, 2048, 10] and dom == [1024, 1024, 1]
    signs = build_network(43, resolve(catalog.task("synsigns-to-gtsrb"), "revgrad", 0, {}))
    assert [m.out_features for m in signs.classifier if hasattr(m, "out_features")] == [512, 43]
    published = {p.method: p.value for p in catalog.task("synsigns-to-gtsrb").published}
    assert published == {"source-only": 79.0, "revgrad": 88.65, "target-only": 99.8}


def test_embedded_demo_renamed_and_old_name_points_to_it(tmp_path):
    from typer.testing import CliRunner

    from dabench.cli.app import app

    catalog = load_catalog()
    assert catalog.task("mnist5k-to-mnistm5k").source.loader == "mnist5k"
    assert catalog.task("mnist-to-mnistm").source.loader == "mnist"
    out = CliRunner().invoke(app, ["run", "mnist-to-mnistm", "--runs-dir", str(tmp_path)])
    assert out.exit_code != 0 and "mnist5k-to-mnistm5k" in out.output
    assert out.output.count("\n") <= 2 and "Traceback" not in out.output


def test_build_mnistm_is_marked_and_never_compared(tmp_path):
    """`dabench data build mnistm` writes MNIST-M's layout with a marker; a run on it records
    the regeneration and the report shows no published value or delta for it."""
    from typer.testing import CliRunner

    from dabench.cli.app import app
    from dabench.reporting.aggregate import aggregate, regenerated_note

    _mnist_folder(tmp_path / "data", n_train=40, n_test=20)
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(
        tmp_path / "photos" / "p.jpg")
    out = CliRunner().invoke(app, ["data", "build", "mnistm", "--data-root",
                                   str(tmp_path / "data"), "--photos", str(tmp_path / "photos")])
    assert out.exit_code == 0, out.output
    mnistm = tmp_path / "data" / "mnistm"
    lines = (mnistm / "mnist_m_train_labels.txt").read_text().splitlines()
    assert len(lines) == 40 and lines[0].split()[0] == "00000000.png"
    assert json.loads((mnistm / "DABENCH_REGENERATED.json").read_text())["regenerated"] is True
    runs = tmp_path / "runs"
    out = CliRunner().invoke(app, ["run", "mnist-to-mnistm", "-m", "revgrad", "--data-root",
                                   str(tmp_path / "data"), "--runs-dir", str(runs), "--set",
                                   "steps=2", "--set", "eval_every=2", "--set", "batch_size=8"])
    assert out.exit_code == 0, out.output
    record = json.loads(next(runs.rglob("result.json")).read_text())
    assert record["data_regenerated"][0]["dataset"] == "MNIST-M"
    assert "no published value" in out.output  # the report printed after the run says so
    [row] = [r for r in aggregate([{**record, "model": "RevGrad"}], load_catalog())
             if r.metric == "Accuracy (%)"]
    assert row.published is None and row.delta is None
    assert regenerated_note([record]) and not regenerated_note([{**record, "data_regenerated": []}])


def test_download_places_single_data_files(tmp_path):
    """`format: file` sources (USPS's .bz2) are placed as they are; `data check` then counts."""
    from typer.testing import CliRunner

    from dabench.cli.app import app

    x, y = digits(7291 + 2007, 16)
    write_libsvm_images(tmp_path / "usps.bz2", x[:7291], y[:7291])
    write_libsvm_images(tmp_path / "usps.t.bz2", x[7291:], y[7291:])
    out = CliRunner().invoke(app, ["data", "download", "usps", "--data-root", str(tmp_path / "d"),
                                   "--from-file", str(tmp_path / "usps.bz2"), "--from-file",
                                   str(tmp_path / "usps.t.bz2"), "--no-verify"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "d" / "usps" / "usps.t.bz2").read_bytes() == \
        (tmp_path / "usps.t.bz2").read_bytes()
    assert "train: 7291 images (expected 7291)" in out.output and "complete" in out.output
