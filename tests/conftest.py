"""Shared fixtures."""

import numpy as np
import pytest


@pytest.fixture
def saved(tmp_path):
    """A small model saved to ``tmp_path``: (model, path)."""
    import fastmlp

    net = fastmlp.MLP([4, 3, 2], seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    return net, path


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


def pytest_terminal_summary(terminalreporter):
    """Say which ops each compiled backend leaves to the reference: those are not parity-tested
    (comparing the reference with itself proves nothing), so the run should not read as if they were."""
    from fastmlp import backends

    lines = [
        f"{name}: {', '.join(sorted(op for op, how in table.items() if how == 'reference'))}"
        for name, table in backends.coverage().items()
        if name != backends.REFERENCE and "reference" in table.values()
    ]
    if lines:
        terminalreporter.write_sep("-", "ops that fall back to the NumPy reference (not parity-tested)")
        for line in lines:
            terminalreporter.write_line(line)
