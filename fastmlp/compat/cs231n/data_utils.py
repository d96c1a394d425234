"""``cs231n/data_utils.py``: CIFAR-10 from a local folder, without unpickling anything.

The assignments read CIFAR-10's "python version", which is pickled; fastmlp never unpickles a
file, so it reads the "binary version" (``cifar-10-binary.tar.gz`` from the CIFAR-10 page,
unpacked to ``cifar-10-batches-bin/``): ``data_batch_1.bin`` … ``data_batch_5.bin`` and
``test_batch.bin``, each a run of 3073-byte records (a label byte, then the 32×32 red, green and
blue planes). The results are what the assignments' loaders return.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
RECORD_BYTES = 1 + 3 * 32 * 32
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
DEFAULT_DIR = os.path.join("cs231n", "datasets", "cifar-10-batches-bin")


def load_CIFAR_batch(filename: Any) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: X (N, 32, 32, 3) float64 pixel values 0..255, y (N,) int64 labels 0..9."""
    filename = os.fspath(filename)
    size = os.path.getsize(filename)
    if size == 0 or size % RECORD_BYTES:
        raise ValueError(
            f"{filename}: {size} bytes is not a whole number of CIFAR-10 records of {RECORD_BYTES} bytes "
            "(is this the binary version?)"
        )
    raw = np.fromfile(filename, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    y = raw[:, 0].astype(np.int64)
    if y.max() >= len(CLASSES):
        raise ValueError(f"{filename}: label {int(y.max())} is not a CIFAR-10 class (0..9)")
    X = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float64)
    return X, y


def _batches_dir(root: str) -> str:
    for candidate in (root, os.path.join(root, "cifar-10-batches-bin")):
        if os.path.isfile(os.path.join(candidate, TRAIN_FILES[0])):
            return candidate
    if os.path.isfile(os.path.join(root, "data_batch_1")):
        raise ValueError(
            f"{root} holds CIFAR-10's python version, which is pickled, and fastmlp does not unpickle "
            "files; download the binary version (cifar-10-binary.tar.gz) and unpack it (cifar-10-batches-bin)"
        )
    raise FileNotFoundError(f"no CIFAR-10 binary batches ({TRAIN_FILES[0]} ...) in {root}")


def load_CIFAR10(ROOT: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Xtr (50000, 32, 32, 3), Ytr, Xte (10000, 32, 32, 3), Yte from the binary batches in ROOT
    (or in ROOT/cifar-10-batches-bin)."""
    folder = _batches_dir(os.fspath(ROOT))
    parts = [load_CIFAR_batch(os.path.join(folder, name)) for name in TRAIN_FILES]
    Xtr = np.concatenate([X for X, _ in parts])
    Ytr = np.concatenate([y for _, y in parts])
    Xte, Yte = load_CIFAR_batch(os.path.join(folder, TEST_FILE))
    return Xtr, Ytr, Xte, Yte


def get_CIFAR10_data(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    cifar10_dir: Any = None,
) -> dict[str, np.ndarray]:
    """The assignments' split of CIFAR-10, mean-subtracted and channels first.

    Parameters
    ----------
    num_training, num_validation : int
        The first ``num_training`` training images train; the next ``num_validation`` validate.
    num_test : int
        The first ``num_test`` test images.
    subtract_mean : bool
        Subtract the training images' mean image from every split.
    cifar10_dir : str or os.PathLike, optional
        The binary batches' folder; default ``$CIFAR10_DIR``, else
        ``cs231n/datasets/cifar-10-batches-bin`` under the working directory.

    Returns
    -------
    dict
        ``X_train, y_train, X_val, y_val, X_test, y_test``; X (N, 3, 32, 32) float64, y int64.
    """
    folder = cifar10_dir or os.environ.get("CIFAR10_DIR") or DEFAULT_DIR
    X_train, y_train, X_test, y_test = load_CIFAR10(folder)
    if num_training + num_validation > X_train.shape[0] or num_test > X_test.shape[0]:
        raise ValueError(
            f"asked for {num_training} + {num_validation} training and {num_test} test images; "
            f"the data has {X_train.shape[0]} and {X_test.shape[0]}"
        )
    val = slice(num_training, num_training + num_validation)
    X_val, y_val = X_train[val], y_train[val]
    X_train, y_train = X_train[:num_training], y_train[:num_training]
    X_test, y_test = X_test[:num_test], y_test[:num_test]
    if subtract_mean:
        mean_image = X_train.mean(axis=0)
        X_train, X_val, X_test = X_train - mean_image, X_val - mean_image, X_test - mean_image
    return {
        "X_train": X_train.transpose(0, 3, 1, 2).copy(),
        "y_train": y_train,
        "X_val": X_val.transpose(0, 3, 1, 2).copy(),
        "y_val": y_val,
        "X_test": X_test.transpose(0, 3, 1, 2).copy(),
        "y_test": y_test,
    }
