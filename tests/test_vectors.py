"""Feature-vector domains: every file format, each bad-file case, sparse input staying sparse."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from dabench.data import load_task_data
from dabench.data.batches import BatchStream, cat_rows
from dabench.data.vectors.dataset import VectorDataset
from dabench.errors import DabenchError
from dabench.models.shallow import ShallowFeatures
from dabench.tasks.catalog import parse_task_file

X = np.array([[0, 1.5, 0, 2], [3, 0, 0, 0], [0, 0, 0, 0.5], [1, 1, 1, 1], [0, 2, 0, 0]],
             dtype=np.float32)  # (5, 4)
Y = np.array([1, -1, -1, 1, 1])  # raw labels; class order [-1, 1]


def write(path: Path, fmt: str, x=X, y=Y, **keys) -> Path:
    if fmt == "svmlight":
        lines = [" ".join([f"{int(l)}"] + [f"{j + 1}:{v:g}" for j, v in enumerate(r) if v])
                 for r, l in zip(x, y)]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "csv":
        path.write_text("f1,f2,f3,f4,label\n" + "".join(
            ",".join(f"{v:g}" for v in r) + f",{l}\n" for r, l in zip(x, y)))
    elif fmt == "npz":
        np.savez(path, **{keys.get("x_key", "x"): x, keys.get("y_key", "y"): y})
    elif fmt == "mat":
        import scipy.io

        scipy.io.savemat(path, {keys.get("x_key", "X"): x, keys.get("y_key", "Y"): y[:, None]})
    return path


def task(tmp: Path, source: dict, target: dict, extra: str = ""):
    """A two-domain task file in `tmp` whose domains have the given options."""
    def dom(name, opts):
        body = "".join(f"      {k}: {v}\n" for k, v in opts.items())
        return f"  {name}:\n    name: {name}\n    loader: vectors\n    options:\n{body}"
    text = ("family: byo\ndataset: BYO\nversion: 1\nmodality: vectors\nclasses: [neg, pos]\n"
            "domains:\n" + dom("a", source) + dom("b", target) + extra +
            "tasks:\n  a-to-b: {title: A-to-B, source: a, targets: [b]}\n")
    (tmp / "byo.yaml").write_text(text)
    tasks, _ = parse_task_file(tmp / "byo.yaml")
    return tasks[0]


def opts(train, test, **more):
    return {"train": train, "test": test, "labels": "[-1, 1]", **more}


@pytest.mark.parametrize("fmt,more", [("svmlight", {}), ("csv", {}), ("npz", {}),
                                       ("mat", {"x_key": "X", "y_key": "Y"})])
def test_every_format_loads_the_same_rows_and_labels(tmp_path, fmt, more):
    names = [f"{d}.{fmt}" for d in ("a", "b")]
    for n in names:
        write(tmp_path / n, fmt)
    spec = task(tmp_path, opts(names[0], names[1], **more), opts(names[1], names[0], **more))
    data = load_task_data(spec, None)
    ds = data.source_train
    dense = ds.x.toarray() if ds.sparse else ds.x
    np.testing.assert_allclose(dense, X)
    assert ds.y.tolist() == [1, 0, 0, 1, 1]
    assert ds.sparse == (fmt == "svmlight") and ds.feature_dim == 4


def test_compressed_svmlight_and_sha256_checked(tmp_path):
    raw = write(tmp_path / "a.svmlight", "svmlight").read_bytes()
    (tmp_path / "a.svmlight.gz").write_bytes(gzip.compress(raw))
    good = hashlib.sha256(raw).hexdigest()
    spec = task(tmp_path, opts("a.svmlight.gz", "a.svmlight.gz", sha256=f"{{train: {good}}}"),
                opts("a.svmlight", "a.svmlight"))
    assert load_task_data(spec, None).source_train.y.tolist() == [1, 0, 0, 1, 1]
    spec = task(tmp_path, opts("a.svmlight.gz", "a.svmlight", sha256="{train: " + "ab" * 32 + "}"),
                opts("a.svmlight", "a.svmlight"))
    with pytest.raises(DabenchError, match=r"a\.svmlight\.gz has sha256 .*expected abab"):
        load_task_data(spec, None)


def load_error(tmp_path, source_file, target_file="ok.csv", **more) -> str:
    write(tmp_path / "ok.csv", "csv")
    spec = task(tmp_path, opts(source_file, source_file, **more), opts(target_file, target_file))
    with pytest.raises(DabenchError) as err:
        load_task_data(spec, None)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_ragged_csv_row_is_named(tmp_path):
    (tmp_path / "bad.csv").write_text("1,2,3,1\n4,5,1\n")
    assert "bad.csv line 2: 3 fields, but the first data row has 4" in load_error(tmp_path, "bad.csv")


def test_label_outside_the_classes_is_named(tmp_path):
    write(tmp_path / "bad.npz", "npz", y=np.array([1, -1, 2, 1, 1]))
    write(tmp_path / "ok.npz", "npz")
    msg = load_error(tmp_path, "bad.npz", "ok.npz")
    assert "bad.npz row 3: label 2 is not one of the task's classes" in msg


def test_nan_is_named_in_dense_and_sparse_files(tmp_path):
    x = X.copy()
    x[3, 1] = np.nan
    write(tmp_path / "bad.csv", "csv", x=x)
    assert "bad.csv row 4: NaN" in load_error(tmp_path, "bad.csv")
    (tmp_path / "bad.svmlight").write_text("1 1:2\n-1 2:nan\n")
    assert "bad.svmlight row 2: NaN" in load_error(tmp_path, "bad.svmlight")


def test_wrong_dimension_between_domains_is_named(tmp_path):
    write(tmp_path / "wide.npz", "npz", x=np.ones((5, 6), np.float32))
    msg = load_error(tmp_path, "ok.csv", "wide.npz")
    assert "wide.npz has 6 features per row but" in msg and "ok.csv has 4" in msg


def test_missing_mat_key_is_named(tmp_path):
    write(tmp_path / "f.mat", "mat")
    msg = load_error(tmp_path, "f.mat", x_key="feats", y_key="Y")
    assert "f.mat: no key 'feats' (x_key); the file holds X, Y" in msg


def test_bad_svmlight_line_is_named(tmp_path):
    (tmp_path / "bad.svmlight").write_text("1 1:2\n-1 3:1 oops\n")
    assert "bad.svmlight line 2: 'oops' is not index:value" in load_error(tmp_path, "bad.svmlight")
    (tmp_path / "zero.svmlight").write_text("1 0:2\n")
    assert "zero_based: true" in load_error(tmp_path, "zero.svmlight")


def test_sparse_input_stays_sparse_through_batches_and_the_network(tmp_path):
    write(tmp_path / "a.svmlight", "svmlight")
    spec = task(tmp_path, opts("a.svmlight", "a.svmlight"), opts("a.svmlight", "a.svmlight"))
    ds = load_task_data(spec, None).source_train
    import scipy.sparse as sp

    assert sp.isspmatrix_csr(ds.x) or sp.issparse(ds.x)
    xb, yb = next(BatchStream(ds, 2, seed=0))
    assert xb.layout == torch.sparse_csr and xb.shape == (2, 4)
    both = cat_rows([xb, xb])
    assert both.layout == torch.sparse_csr
    torch.testing.assert_close(both.to_dense(), torch.cat([xb.to_dense()] * 2))
    net = ShallowFeatures(4, 3)
    torch.testing.assert_close(net(both), net(both.to_dense()))  # (4, 3), same as dense
    net(both).sum().backward()
    assert net.weight.grad.shape == (4, 3)


def test_vector_dataset_subset_and_relabel():
    ds = VectorDataset(X, torch.tensor([1, 0, 0, 1, 1]))
    part = ds.subset([4, 0])
    np.testing.assert_array_equal(part.x, X[[4, 0]])
    assert part.with_labels(torch.tensor([0, 0])).y.tolist() == [0, 0]


def test_epoch_batches_are_the_batches_of_take():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    x = sp.random(50, 30, density=0.2, format="csr", dtype=np.float32, random_state=1)
    ds = VectorDataset(x, torch.from_numpy(rng.integers(0, 2, 50)))
    order = torch.from_numpy(rng.permutation(50)[:48])
    batches = list(ds.take_batches(order, 16))
    assert len(batches) == 3
    for chunk, (xb, yb) in zip(order.split(16), batches):
        want_x, want_y = ds.take(chunk)
        assert xb.layout == torch.sparse_csr and xb.shape == (16, 30)
        torch.testing.assert_close(xb.to_dense(), want_x.to_dense(), rtol=0, atol=0)
        assert torch.equal(yb, want_y)
    dense = VectorDataset(x.toarray(), ds.y)
    (xd, yd), = list(dense.take_batches(order[:5], 8))
    torch.testing.assert_close(xd, torch.from_numpy(x[order[:5].numpy()].toarray()))


def test_sparse_backward_gives_the_dense_gradient():
    import scipy.sparse as sp

    x = sp.random(40, 25, density=0.3, format="csr", dtype=np.float32, random_state=2)
    batch, _ = VectorDataset(x, torch.zeros(40, dtype=torch.int64)).take(torch.arange(40))
    net = ShallowFeatures(25, 6)
    grads = []
    for inputs in (batch, batch.to_dense()):  # the CPU sparse path (scipy x^T dz) and x @ W
        net.zero_grad()
        (net(inputs) ** 2).sum().backward()
        grads.append((net.weight.grad.clone(), net.bias.grad.clone()))
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0][0].abs().sum() > 0 and grads[0][0].layout == torch.strided
