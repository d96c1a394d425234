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


def _read(tmp_path, content, label_column=-1, name="d.csv"):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return datasets.read_labelled_file(str(path), label_column)


def test_csv_text_labels_become_sorted_classes(tmp_path):
    data = _read(tmp_path, "a,species,b\n1,virginica,2\n3,setosa,4\n5,versicolor,6\n7,setosa,8\n", "species")
    assert data.classes == ["setosa", "versicolor", "virginica"]
    assert data.y.tolist() == [2, 0, 1, 0] and data.y.dtype == np.int64
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4], [5, 6], [7, 8]])
    assert data.X.dtype == np.float32
    assert datasets.read_labelled_file(str(tmp_path / "d.csv"), 1).classes == data.classes  # by index
    X, y = datasets.load_file(str(tmp_path / "d.csv"), "species")  # the (X, y) form takes names too
    np.testing.assert_array_equal(X, data.X)
    np.testing.assert_array_equal(y, data.y)


def test_csv_numeric_labels_sort_as_numbers(tmp_path):
    data = _read(tmp_path, "x,label\n1,10\n2,9\n3,100\n4,9\n")
    assert data.classes == [9, 10, 100] and data.y.tolist() == [1, 0, 2, 0]  # as text, "10" < "9"


@pytest.mark.parametrize(
    "content,rows",
    [
        ("1,2,0\n3,4,1\n", 2),  # no header
        ("x,y,label\n1,2,0\n3,4,1\n", 2),
        ("0,1,target\n1,2,0\n3,4,1\n", 2),  # pandas' header of unnamed columns: numbers, text label
        ("# x,y,label\n\n1,2,0\n  3 , 4 , 1 \n", 2),  # np.savetxt's commented header, a blank line, spaces
        ("\ufeffx,y,label\n1,2,0\n3,4,1\n", 2),  # a byte-order mark (Excel's "CSV UTF-8")
    ],
)
def test_csv_header_is_told_from_data(tmp_path, content, rows):
    data = _read(tmp_path, content)
    assert data.X.tolist() == [[1, 2], [3, 4]][:rows] and data.classes == [0, 1]


def test_csv_label_name_after_a_byte_order_mark(tmp_path):
    assert _read(tmp_path, "\ufefflabel,x\na,1\nb,2\n", "label").classes == ["a", "b"]


@pytest.mark.parametrize(
    "content,label_column,message",
    [
        ("", -1, "the file is empty"),
        ("a,b,c\n", -1, "a header row but no data rows"),
        ("a,b,c\n1,2,x\n3,4\n", -1, "line 3 has 2 fields, line 1 has 3"),
        ("a,b,c\n1,2,x\n3,4,y,5\n", -1, "line 3 has 4 fields, line 1 has 3"),
        ("a,b,c\n1,2,x\n3,-,y\n", -1, "line 3, column 2 ('b'): '-' is not a number"),
        ("1,2,x\n3,,y\n", -1, "line 2, column 2: '' is not a number"),
        ("a,b,c\n1,2,x\n", "d", "no column named 'd'; the columns are: 'a', 'b', 'c'"),
        ("a,b,a\n1,2,x\n", "a", "the header names 2 columns 'a'"),
        ("1,2,x\n3,4,y\n", "c", "no header row to find the label column 'c' in"),
        ("1,2,x\n3,4,y\n", 3, "label column 3 is out of range: the file has 3 columns"),
        ("label\n1\n2\n", -1, "need a feature column and a label column; line 1 has one column"),
        ("1,2,1.5\n3,4,0\n", -1, "labels must be integers"),
        ("1,2,1e300\n3,4,0\n", -1, "labels must be integers"),  # beyond exact integers in float64
        ("1,2,x\n3,4,x\n", -1, "at least two classes"),
        ("1e39,2,x\n3,4,y\n", -1, "X holds 1e+39 (data row 1, feature column 1)"),  # inf as float32
    ],
)
def test_bad_csv_files_say_where(tmp_path, content, label_column, message):
    with pytest.raises(DataFileError) as exc:
        _read(tmp_path, content, label_column)
    assert message in str(exc.value)


def test_csv_errors_stay_one_short_line(tmp_path):
    huge_cell = "z" * 100_000
    with pytest.raises(DataFileError) as exc:
        _read(tmp_path, f"a,b,c\n1,{huge_cell},x\n")
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 300 + len(str(tmp_path))
    names = ",".join(f"f{i}" for i in range(1000))
    with pytest.raises(DataFileError) as exc:
        _read(tmp_path, f"{names}\n" + ",".join(["1"] * 1000) + "\n", "label")
    assert str(exc.value).endswith("'f19', ... (1000 columns)")


def test_csv_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(DataFileError, match="not a UTF-8 text file"):
        datasets.read_labelled_file(str(path))
    path.write_bytes(b"a,b\n1\x00,1\n")
    with pytest.raises(DataFileError, match="line 2"):
        datasets.read_labelled_file(str(path))


def test_npz_text_labels_and_names(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.arange(8.0).reshape(4, 2), y=np.array(["b", "a", "b", "c"]))
    data = datasets.read_labelled_file(str(tmp_path / "d.npz"))
    assert data.classes == ["a", "b", "c"] and data.y.tolist() == [1, 0, 1, 2]
    with pytest.raises(DataFileError, match="a label column by name is for .csv files"):
        datasets.read_labelled_file(str(tmp_path / "d.npz"), "species")
