"""Bundled and generated data sets, and loading the user's own files (no network access)."""

from __future__ import annotations

import csv
import itertools
import os
from array import array
from collections.abc import Iterator
from importlib import resources
from typing import Any, NamedTuple

import numpy as np


class DataFileError(ValueError):
    """A data file that cannot be read as features plus labels."""


def load_digits(return_X_y: bool = True, scale: bool = True) -> Any:
    """The bundled handwritten digits: 1797 × 64 (8x8 images), 10 classes (UCI, CC BY 4.0).

    Parameters
    ----------
    return_X_y : bool
        Return ``(X, y)`` (the only form; kept for scikit-learn familiarity).
    scale : bool
        Divide the pixels (0..16) by 16 to put them in [0, 1], as float32.

    Returns
    -------
    X : ndarray (1797, 64), float32 (or uint8 if not scaled)
    y : ndarray (1797,), int64
    """
    with resources.files("fastmlp").joinpath("data/digits.npz").open("rb") as fh, np.load(fh) as npz:
        X, y = npz["X"], npz["y"].astype(np.int64)
    return ((X / np.float32(16)).astype(np.float32) if scale else X), y


def make_spiral(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int | None = 0) -> tuple:
    """The CS231n toy: ``n_classes`` interleaved spiral arms in 2-D, not linearly separable.

    Returns
    -------
    X : ndarray (n_per_class * n_classes, 2), float32
    y : ndarray (n_per_class * n_classes,), int64
    """
    rng = np.random.default_rng(seed)
    X = np.zeros((n_per_class * n_classes, 2), dtype=np.float32)
    y = np.zeros(n_per_class * n_classes, dtype=np.int64)
    for c in range(n_classes):
        rows = slice(n_per_class * c, n_per_class * (c + 1))
        r = np.linspace(0.0, 1, n_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * noise
        X[rows] = np.column_stack([r * np.sin(t), r * np.cos(t)])
        y[rows] = c
    return X, y


def train_test_split(X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple:
    """Shuffled split into (X_train, y_train, X_test, y_test), stratified by class for labels.

    Parameters
    ----------
    X : ndarray (N, ...)
        Rows to split, N >= 2.
    y : ndarray (N,) or (N, K)
        Targets, one per row of X. A 1-D integer y is split per class (each class gives
        ``round(test_fraction * count)`` test rows); any other y is split over all rows.
    test_fraction : float in (0, 1), default 0.2
        Share of the rows held out for testing.
    seed : int, default 0
        Seed of the shuffling (``np.random.default_rng``).

    Returns
    -------
    X_train, y_train : ndarrays
        The training rows, in shuffled order.
    X_test, y_test : ndarrays
        The held-out rows, in their original order. Both parts always get at least one row.

    Raises
    ------
    ValueError
        test_fraction outside (0, 1); fewer than 2 rows.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    n = len(X)
    if n < 2:
        raise ValueError("need at least 2 rows to split into train and test")
    test = np.zeros(n, dtype=bool)
    if y.ndim == 1 and y.dtype.kind in "iu":
        for c in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == c))
            test[rows[: round(test_fraction * len(rows))]] = True
    else:
        test[rng.permutation(n)[: max(1, round(test_fraction * n))]] = True
    if test.all() or not test.any():
        test[:] = False
        test[rng.permutation(n)[: max(1, min(n - 1, round(test_fraction * n)))]] = True
    train_rows, test_rows = rng.permutation(np.flatnonzero(~test)), np.flatnonzero(test)
    return X[train_rows], y[train_rows], X[test_rows], y[test_rows]


class LabelledData(NamedTuple):
    """A data file read as features, integer classes, and the file's label of each class."""

    X: np.ndarray
    """(N, D) float32 features."""
    y: np.ndarray
    """(N,) int64 classes 0..K-1."""
    classes: list[Any]
    """The file's label of each class (``classes[k]`` is class k): ints, or str for text labels."""


def load_file(path: str, label_column: int | str = -1) -> tuple[np.ndarray, np.ndarray]:
    """Features and integer labels of a data file: :func:`read_labelled_file` less the class names.

    Returns
    -------
    X : ndarray (N, D), float32
    y : ndarray (N,), int64
    """
    data = read_labelled_file(path, label_column)
    return data.X, data.y


def read_labelled_file(path: str, label_column: int | str = -1) -> LabelledData:
    """Features, classes and class names from ``.npz`` (arrays ``X`` and ``y``) or ``.csv``.

    A CSV file has one row per sample, comma-separated (UTF-8, a byte-order mark allowed), with an
    optional header row; blank lines and lines starting with ``#`` are skipped. Every column but
    the label column must hold numbers. The labels are whole numbers, or text (``setosa``, ...).
    The first row is the header when the label column is given by name, when a feature column
    of it is not a number, or when its label alone is text above numeric labels (pandas names
    unnamed columns ``0,1,...``).

    Parameters
    ----------
    path : str
        A ``.npz`` file with arrays ``X`` (N, D) and ``y`` (N,), or a ``.csv`` file.
    label_column : int or str, default -1
        CSV only: the column holding the labels, by 0-based index (negative counts from the
        end) or by its name in the header row; the other columns are the features.

    Returns
    -------
    LabelledData
        ``X`` (N, D) float32; ``y`` (N,) int64, the labels renumbered 0..K-1 in sorted order of
        the original values (numbers numerically, text as text; K >= 2); ``classes``, the
        original label of each class.

    Raises
    ------
    DataFileError
        Missing/unreadable file, wrong format, an empty file or a header without data, rows of
        unequal length, an unknown column name, non-numeric features, non-integer numeric
        labels, fewer than two classes. A subclass of ValueError. Messages give the line and
        column of a bad CSV value.
    """
    if not os.path.isfile(path):
        raise DataFileError(f"data file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        if isinstance(label_column, str):
            raise DataFileError(f"{path}: a label column by name is for .csv files; an .npz file has arrays X and y")
        X, y = _read_npz(path)
        _check_shapes(path, X, y)
        classes, y = _classes_of_array(path, y)
    elif ext == ".csv":
        X, labels = _read_csv(path, label_column)
        classes, y = _classes_of_text(path, labels)
    else:
        raise DataFileError(f"{path}: unsupported data file type {ext!r} (use .npz or .csv)")
    X = _checked_features(path, X)
    if len(classes) < 2:
        raise DataFileError(f"{path}: labels must have at least two classes")
    return LabelledData(X, y, classes)


def _read_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "X" not in npz.files or "y" not in npz.files:
                raise DataFileError(f"{path}: an .npz data file needs arrays 'X' and 'y', found {npz.files}")
            return np.asarray(npz["X"]), np.asarray(npz["y"])
    except DataFileError:
        raise
    except Exception as exc:  # zip errors, pickled arrays, truncation: all mean "not readable"
        raise DataFileError(f"{path}: not a readable .npz file ({exc})") from None


def _check_shapes(path: str, X: np.ndarray, y: np.ndarray) -> None:
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(X) == 0:
        raise DataFileError(f"{path}: X must be (N, D) and y (N,), got {X.shape} and {y.shape}")


# Labels that are whole numbers must stay exact in float64 to be told apart (2**53 + 1 is not).
MAX_INTEGER_LABEL = 2**53


def _classes_of_array(path: str, y: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The sorted distinct labels of an array, and each row's index into them."""
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)) or np.abs(y).max() > MAX_INTEGER_LABEL:
            raise DataFileError(f"{path}: labels must be integers")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iuU":
        raise DataFileError(f"{path}: labels must be integers or text, got dtype {y.dtype}")
    classes, y_index = np.unique(y, return_inverse=True)
    return classes.tolist(), y_index.astype(np.int64)


def _classes_of_text(path: str, labels: list[str]) -> tuple[list[Any], np.ndarray]:
    """Labels read as text: numbers if every one is a number (then integers), else text."""
    numbers = _numbers_or_none(labels)
    if numbers is not None:
        return _classes_of_array(path, numbers)
    # sorted in Python, not np.unique: a NumPy string array would give every row the width of
    # the longest label, one long cell in a file could then claim rows x its length in memory
    classes = sorted(set(labels))
    index = {name: k for k, name in enumerate(classes)}
    return classes, np.fromiter((index[name] for name in labels), dtype=np.int64, count=len(labels))


def _numbers_or_none(cells: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(cell) for cell in cells], dtype=np.float64)
    except ValueError:
        return None


def _checked_features(path: str, X: np.ndarray) -> np.ndarray:
    """X as float32, refusing non-numbers and values float32 cannot hold (they would become inf)."""
    if X.dtype.kind not in "iuf":
        raise DataFileError(f"{path}: X must be numeric, got dtype {X.dtype}")
    if X.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~(np.abs(X) <= np.finfo(np.float32).max)  # also true for nan
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise DataFileError(
                f"{path}: X holds {X[row, col]} (data row {row + 1}, feature column {col + 1}); "
                "need finite numbers within float32's range"
            )
    return X.astype(np.float32)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _csv_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells stripped of spaces) of each CSV row; blank and ``#`` comment lines skipped."""
    line = 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                line = reader.line_num
                cells = [cell.strip() for cell in row]
                if any(cells) and not cells[0].startswith("#"):
                    yield line, cells
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as exc:  # a NUL byte, a field over csv's size limit
        raise DataFileError(f"{path}: line {line + 1}: {exc}") from None


def _label_index(path: str, label_column: int | str, first: list[str]) -> int:
    """The label column's index among the first row's cells (which may be the header)."""
    width = len(first)
    if isinstance(label_column, str):
        if first.count(label_column) == 1:
            return first.index(label_column)
        if first.count(label_column) > 1:
            raise DataFileError(f"{path}: the header names {first.count(label_column)} columns {label_column!r}")
        if sum(not _is_number(cell) for cell in first) <= 1:  # data, perhaps with a text label: no names
            raise DataFileError(f"{path}: no header row to find the label column {label_column!r} in")
        raise DataFileError(f"{path}: no column named {label_column!r}; the columns are: {_listed(first)}")
    if not -width <= label_column < width:
        raise DataFileError(f"{path}: label column {label_column} is out of range: the file has {width} columns")
    return label_column % width


def _column_name(j: int, header: list[str] | None) -> str:
    return f"column {j + 1} ({_shown(header[j])})" if header else f"column {j + 1}"


def _listed(names: list[str], limit: int = 20) -> str:
    """Column names for an error message, the first ``limit`` of them if there are more."""
    shown = ", ".join(_shown(name) for name in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} columns)"


def _shown(cell: str, limit: int = 40) -> str:
    """A cell for an error message: one line, however long the cell."""
    return repr(cell if len(cell) <= limit else cell[:limit] + "...")


def _read_csv(path: str, label_column: int | str) -> tuple[np.ndarray, list[str]]:
    """The features (float64) and the label cells of a CSV file, header excluded."""
    rows = _csv_rows(path)
    first_line, first = next(rows, (0, []))
    if not first:
        raise DataFileError(f"{path}: the file is empty")
    width = len(first)
    if width < 2:
        raise DataFileError(f"{path}: need a feature column and a label column; line {first_line} has one column")
    label = _label_index(path, label_column, first)
    is_header = isinstance(label_column, str) or any(not _is_number(c) for j, c in enumerate(first) if j != label)
    header = first if is_header else None
    # the values grow with the rows really read, never with a size the file states
    features: array[float] = array("d")
    labels: list[str] = []
    for line, cells in rows if is_header else itertools.chain([(first_line, first)], rows):
        if len(cells) != width:
            raise DataFileError(f"{path}: line {line} has {len(cells)} fields, line {first_line} has {width}")
        for j, cell in enumerate(cells):
            if j == label:
                continue
            try:
                features.append(float(cell))
            except ValueError:
                raise DataFileError(
                    f"{path}: line {line}, {_column_name(j, header)}: {_shown(cell)} is not a number"
                ) from None
        if not cells[label]:
            raise DataFileError(f"{path}: line {line}, {_column_name(label, header)}: the label is missing")
        labels.append(cells[label])
    if header is None and _is_header_of_numbers(labels):
        del features[: width - 1]
        labels = labels[1:]
    if not labels:
        raise DataFileError(f"{path}: a header row but no data rows")
    return np.frombuffer(features, dtype=np.float64).reshape(len(labels), width - 1), labels


def _is_header_of_numbers(labels: list[str]) -> bool:
    """A first row of numbers whose label alone is text, above numeric labels: a header naming
    its columns by number (``0,1,2,target``, as pandas writes unnamed columns)."""
    return len(labels) > 1 and not _is_number(labels[0]) and all(_is_number(cell) for cell in labels[1:])
