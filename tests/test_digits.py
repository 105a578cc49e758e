"""The embedded digits domains: real MNIST-5k, MNIST-M by the paper's recipe, UCI digits."""

from __future__ import annotations

import numpy as np
import pytest

from dabench.data import digits, load_task_data
from dabench.tasks.catalog import load_catalog


def test_mnist5k_is_the_real_file():
    images, labels = digits.mnist5k()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert 0 < images.mean() < 60 and images.max() == 255


def test_split_is_seeded_disjoint_and_shuffled():
    train, test = digits.split_indices(5000, 1000, seed=0)
    assert len(train) == 4000 and len(test) == 1000 and not set(train) & set(test)
    again, _ = digits.split_indices(5000, 1000, seed=0)
    assert np.array_equal(train, again)
    # the file is sorted by class; the held-out digits must cover every class
    assert len(set(digits.mnist5k()[1][test])) == 10


def test_mnistm_is_absolute_difference_with_a_photo_patch():
    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 10:18, 10:18] = 255
    photo = np.random.default_rng(0).integers(0, 256, (40, 50, 3)).astype(np.uint8)
    out = digits.blend_mnistm(digit, [photo], seed=3)[0].astype(int)  # (28, 28, 3)
    # where the digit is 0 the output is the patch; where it is 255 it is 255 - patch
    patch_part = out[0:10, 0:10]
    assert np.array_equal(out[10:18, 10:18], 255 - _find_patch(photo, out)[10:18, 10:18])
    assert patch_part.std() > 0


def _find_patch(photo, out):
    for top in range(photo.shape[0] - 27):
        for left in range(photo.shape[1] - 27):
            cand = photo[top:top + 28, left:left + 28].astype(int)
            if np.array_equal(cand[:10, :10], out[:10, :10]):
                return cand
    raise AssertionError("output is not |digit - crop of the photo|")


def test_task_data_shapes_and_determinism():
    spec = load_catalog().task("mnist5k-to-mnistm5k")
    data = load_task_data(spec, None)
    x, y = data.target_train.tensors
    assert x.shape == (4000, 3, 28, 28) and len(data.target_test) == 1000
    assert len(data.source_train) == 4000 and len(data.source_test) == 1000
    # source and target train come from the same digits (same labels, same order)
    assert np.array_equal(y.numpy(), data.source_train.tensors[1].numpy())
    # per-domain channel mean subtracted on the training split
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    again = load_task_data(spec, None)
    assert (again.target_test.tensors[0] == data.target_test.tensors[0]).all()


def test_sklearn_digits_look_like_mnist():
    images, labels = digits.sklearn_digits()
    assert images.shape == (1797, 28, 28) and set(labels) == set(range(10))
    assert images[:, :4].max() == 0 and images[:, :, 24:].max() == 0  # 4-pixel border like MNIST
    spec = load_catalog().task("mnist-to-digits")
    data = load_task_data(spec, None)
    assert len(data.target_train) == 1297 and len(data.target_test) == 500


def test_unknown_domain_option(tmp_path):
    from dabench.errors import DabenchError
    from dabench.tasks.catalog import Domain

    spec = load_catalog().task("mnist5k-to-mnistm5k")
    bad = Domain("mnistm", "MNIST-M", "mnistm5k", {"colour": 1})
    with pytest.raises(DabenchError, match="unknown option"):
        digits.LOADERS.get("mnistm5k")(bad, spec, None, "train")


def test_mnistm_copies_blend_each_training_digit_with_new_patches():
    one = digits._build("mnistm5k", 1000, 0, digits.DEFAULT_PHOTOS, 1)
    three = digits._build("mnistm5k", 1000, 0, digits.DEFAULT_PHOTOS, 3)
    (x1, y1), (x3, y3) = one["train"], three["train"]
    assert x3.shape == (3 * len(x1), 28, 28, 3) and np.array_equal(y3, np.tile(y1, 3))
    # each copy of a digit is a different blend: other photos and crops behind the same strokes
    n = len(x1)
    assert (x3[:n] != x3[n:2 * n]).mean() > 0.5 and (x3[n:2 * n] != x3[2 * n:]).mean() > 0.5
    # the held-out split is unchanged: one blend per held-out digit
    assert np.array_equal(one["test"][0], three["test"][0])


def test_copies_must_be_positive():
    from dabench.errors import DabenchError
    from dabench.tasks.catalog import Domain

    spec = load_catalog().task("mnist5k-to-mnistm5k")
    bad = Domain("mnistm", "MNIST-M", "mnistm5k", {"copies": 0})
    with pytest.raises(DabenchError, match="copies must be >= 1"):
        digits.LOADERS.get("mnistm5k")(bad, spec, None, "train")


def test_embedded_digits_are_checked_against_their_sha256(monkeypatch, tmp_path):
    import dabench.data.digits as digits
    from dabench.errors import DabenchError

    images, labels = digits.mnist5k()
    assert images.shape == (5000, 28, 28) and np.bincount(labels).tolist() == [500] * 10
    damaged = tmp_path / "mnist5k.u8.gz"
    damaged.write_bytes(digits.MNIST5K.read_bytes()[:-1] + b"x")
    monkeypatch.setattr(digits, "MNIST5K", damaged)
    digits.mnist5k.cache_clear()
    try:
        with pytest.raises(DabenchError, match="damaged \\(sha256 mismatch\\); reinstall dabench"):
            digits.mnist5k()
    finally:
        digits.mnist5k.cache_clear()
