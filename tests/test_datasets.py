"""Bundled digits, the spiral toy, the split, and user files."""

import numpy as np
import pytest

from fastmlp import datasets
from fastmlp.datasets import DataFileError


def test_bundled_digits():
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and X.min() >= 0 and X.max() == 1.0
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    raw, _ = datasets.load_digits(scale=False)
    assert raw.dtype == np.uint8 and raw.max() == 16
    np.testing.assert_array_equal(raw[0, :8], [0, 0, 5, 13, 9, 1, 0, 0])  # the first row of the UCI test set


def test_spiral_is_seeded_and_balanced():
    X, y = datasets.make_spiral(50, 4, seed=3)
    X2, _ = datasets.make_spiral(50, 4, seed=3)
    np.testing.assert_array_equal(X, X2)
    assert X.shape == (200, 2) and np.bincount(y).tolist() == [50] * 4
    assert np.abs(X).max() <= 1.0


def test_split_is_stratified_and_disjoint():
    X, y = datasets.load_digits()
    Xtr, _, Xte, yte = datasets.train_test_split(X, y, 0.2, seed=1)
    assert len(Xtr) + len(Xte) == len(X)
    assert np.all(np.abs(np.bincount(yte) / np.bincount(y) - 0.2) < 0.01)
    ids = np.arange(len(y))  # split row ids to see that every row lands in exactly one part
    _, id_tr, _, id_te = datasets.train_test_split(X, ids, 0.2, seed=1)
    assert sorted(np.concatenate([id_tr, id_te]).tolist()) == ids.tolist()
    Xr, yr = np.arange(20.0).reshape(10, 2), np.linspace(0, 1, 10)  # real targets: a plain split
    _, b, c, d = datasets.train_test_split(Xr, yr, 0.3)
    assert len(c) == 3 and sorted(np.concatenate([b, d]).tolist()) == sorted(yr.tolist())
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.train_test_split(X, y, 1.5)


def test_user_files(tmp_path):
    X, y = datasets.make_spiral(10, 3)
    np.savez(tmp_path / "d.npz", X=X, y=y + 7)
    X2, y2 = datasets.load_file(str(tmp_path / "d.npz"))
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)  # labels 7..9 become 0..2
    np.savetxt(tmp_path / "d.csv", np.column_stack([y, X]), delimiter=",")
    X3, y3 = datasets.load_file(str(tmp_path / "d.csv"), label_column=0)
    np.testing.assert_allclose(X3, X, rtol=1e-6)
    np.testing.assert_array_equal(y3, y)
    np.savez(tmp_path / "bad.npz", features=X)
    for path, message in [
        (tmp_path / "none.csv", "does not exist"),
        (tmp_path / "bad.npz", "'X' and 'y'"),
        (tmp_path / "d.txt", "unsupported"),
    ]:
        if path.suffix == ".txt":
            path.write_text("1,2")
        with pytest.raises(DataFileError, match=message):
            datasets.load_file(str(path))
    np.savez(tmp_path / "one.npz", X=X, y=np.zeros(len(X)))
    with pytest.raises(DataFileError, match="two classes"):
        datasets.load_file(str(tmp_path / "one.npz"))
