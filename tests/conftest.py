"""Shared fixtures."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled handwritten digits (1797 x 64, 10 classes), scaled to [0, 1], split 75/25."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order], y[order]
    cut = int(0.75 * len(y))
    return X[:cut], y[:cut], X[cut:], y[cut:]
