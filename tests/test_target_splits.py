"""Held-out target splits: the digits validation split for screening (disjoint from the test
set) and the seeded per-class split behind them."""

from __future__ import annotations

import numpy as np
import pytest

from dabench.config import resolve
from dabench.data import load_task_data
from dabench.data.target_splits import stratified_split
from dabench.errors import DabenchError
from dabench.tasks.catalog import load_catalog


def test_stratified_split_is_disjoint_per_class_and_seeded():
    labels = np.repeat(np.arange(4), [10, 20, 3, 1])
    kept, held = stratified_split(labels, 0.25, seed=0)
    assert not set(kept) & set(held) and len(kept) + len(held) == len(labels)
    assert [int((labels[held] == c).sum()) for c in range(4)] == [2, 5, 1, 0]  # round, >= 1
    again, _ = stratified_split(labels, 0.25, seed=0)
    other, _ = stratified_split(labels, 0.25, seed=1)
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)
    with pytest.raises(DabenchError, match="between 0 and 1"):
        stratified_split(labels, 1.0)


def _rows(x) -> set[bytes]:
    return {row.numpy().tobytes() for row in x}


def test_digits_validation_split_comes_from_target_training_digits_not_the_test_set():
    task = load_catalog().task("mnist5k-to-mnistm5k")
    plain = load_task_data(task, None, resolve(task, "revgrad", 0, {}))
    screen = load_task_data(task, None, resolve(task, "revgrad", 0, {"target_val": 0.25}))
    assert (plain.target_eval, screen.target_eval) == ("test", "val")
    val, train = screen.target_test.tensors, screen.target_train.tensors
    assert len(val[0]) + len(train[0]) == 4000 and abs(len(val[0]) - 1000) <= 5
    per_class = np.bincount(plain.target_train.tensors[1].numpy())
    assert np.array_equal(np.bincount(val[1].numpy()), np.round(per_class * 0.25))  # per class
    everything = _rows(plain.target_train.tensors[0])
    assert _rows(val[0]) <= everything  # carved from the target training images ...
    assert not _rows(val[0]) & _rows(train[0])  # ... and no longer trained on
    assert not _rows(val[0]) & _rows(plain.target_test.tensors[0])  # disjoint from the test set
    assert screen.source_train is plain.source_train or len(screen.source_train) == 4000
