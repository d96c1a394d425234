"""Bundled and generated data sets, and loading the user's own files (no network access)."""

from __future__ import annotations

import os
import warnings
from importlib import resources
from typing import Any

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


def load_file(path: str, label_column: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Features and integer labels from ``.npz`` (arrays ``X`` and ``y``) or ``.csv`` (numbers,
    one row per sample, an optional header, the label in ``label_column``).

    Parameters
    ----------
    path : str
        A ``.npz`` file with arrays ``X`` (N, D) and ``y`` (N,), or a comma-separated ``.csv`` file.
    label_column : int, default -1
        CSV only: the column holding the labels (negative counts from the end); the other
        columns are the features.

    Returns
    -------
    X : ndarray (N, D), float32
    y : ndarray (N,), int64
        The labels renumbered 0..K-1 in sorted order of the original values (K >= 2 classes).

    Raises
    ------
    DataFileError
        Missing/unreadable file, wrong format, non-numeric values, non-integer labels, fewer
        than two classes. A subclass of ValueError.
    """
    if not os.path.isfile(path):
        raise DataFileError(f"data file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                if "X" not in npz.files or "y" not in npz.files:
                    raise DataFileError(f"{path}: an .npz data file needs arrays 'X' and 'y', found {npz.files}")
                X, y = npz["X"], npz["y"]
        except DataFileError:
            raise
        except Exception as exc:  # zip errors, pickled arrays, truncation: all mean "not readable"
            raise DataFileError(f"{path}: not a readable .npz file ({exc})") from None
    elif ext == ".csv":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "empty input file": reported below
                table = np.genfromtxt(path, delimiter=",", dtype=np.float64, invalid_raise=True)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataFileError(f"{path}: not a numeric CSV file ({exc})") from None
        table = np.atleast_2d(table)
        if table.size and np.isnan(table[0]).all():  # a header row
            table = table[1:]
        if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] < 2:
            raise DataFileError(f"{path}: need at least one row with a feature and a label column")
        if np.isnan(table).any():
            row = int(np.argwhere(np.isnan(table))[0][0]) + 1
            raise DataFileError(f"{path}: non-numeric or missing value in data row {row}")
        if not -table.shape[1] <= label_column < table.shape[1]:
            raise DataFileError(
                f"{path}: label column {label_column} is out of range: the file has {table.shape[1]} columns"
            )
        y = table[:, label_column]
        X = np.delete(table, label_column % table.shape[1], axis=1)
    else:
        raise DataFileError(f"{path}: unsupported data file type {ext!r} (use .npz or .csv)")
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(X) == 0:
        raise DataFileError(f"{path}: X must be (N, D) and y (N,), got {X.shape} and {y.shape}")
    if X.dtype.kind not in "iuf":
        raise DataFileError(f"{path}: X must be numeric, got dtype {X.dtype}")
    bad = ~np.isfinite(X) if X.dtype.kind == "f" else None
    if bad is not None and bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataFileError(
            f"{path}: X holds {X[row, col]} (data row {row + 1}, feature column {col + 1}); need finite numbers"
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataFileError(f"{path}: labels must be integers")
    elif y.dtype.kind not in "iu":
        raise DataFileError(f"{path}: labels must be integers, got dtype {y.dtype}")
    classes, y_index = np.unique(y.astype(np.int64), return_inverse=True)
    if len(classes) < 2:
        raise DataFileError(f"{path}: labels must have at least two classes")
    return X.astype(np.float32), y_index.astype(np.int64)
