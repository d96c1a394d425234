"""Whitening fit: fastmlp vs the notes' recipe vs scikit-learn, side by side in one run.

Quick sizes by default; ``FASTMLP_BENCH_FULL=1`` (or ``fastmlp bench --full``) uses BENCH.md's
(20000, 1024) and (50000, 3072).
"""

import os

import numpy as np
import pytest

from fastmlp.benchmarks.harness import BENCH_BACKENDS, contenders
from fastmlp.preprocessing import Whitening

FULL = os.environ.get("FASTMLP_BENCH_FULL") == "1"
SIZES = [(20000, 1024), (50000, 3072)] if FULL else [(4000, 256)]


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def data(request):
    n, d = request.param
    rng = np.random.default_rng(0)
    # correlated features with a decaying spectrum, like natural images
    X = rng.standard_normal((n, d), dtype=np.float32) * np.linspace(3, 0.1, d, dtype=np.float32)
    return X @ np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32)


def _group(benchmark, data, impl):
    benchmark.group = f"whitening fit {data.shape[0]}x{data.shape[1]}"
    benchmark.extra_info.update(backend=impl, rows=data.shape[0], cols=data.shape[1])


def notes_recipe(X, eps=1e-5):
    """The notes' code: centre, cov = X.T @ X / N, SVD, rotate, divide by sqrt(S + eps)."""
    Xc = X - X.mean(axis=0)
    cov = np.dot(Xc.T, Xc) / Xc.shape[0]
    U, S, _ = np.linalg.svd(cov)
    return U / np.sqrt(S + eps)


@pytest.mark.parametrize("backend", contenders(BENCH_BACKENDS))
def bench_whitening_fastmlp(benchmark, data, backend):
    _group(benchmark, data, backend)
    white = Whitening("pca", eps=1e-5, backend=backend)
    white.fit(data[:64])  # compile outside the timing
    benchmark.pedantic(white.fit, args=(data,), rounds=3, iterations=1)
    # against float64 NumPy on the same data: the spectrum, and W whitens (Wᵀ C W = S / (S + eps))
    cov = np.cov(data.astype(np.float64), rowvar=False, bias=True)
    spectrum = np.linalg.eigvalsh(cov)[::-1]
    W = white.whitening_matrix_.astype(np.float64)
    np.testing.assert_allclose(white.explained_variance_, spectrum, rtol=1e-3, atol=1e-5 * spectrum[0])
    np.testing.assert_allclose(W.T @ cov @ W, np.diag(spectrum / (spectrum + 1e-5)), atol=2e-3)


@pytest.mark.contender("notes-recipe")
def bench_whitening_notes_recipe(benchmark, data):
    _group(benchmark, data, "notes-recipe")
    W = benchmark.pedantic(notes_recipe, args=(data,), rounds=3, iterations=1)
    assert np.all(np.isfinite(W))


@pytest.mark.contender("sklearn")
def bench_whitening_sklearn(benchmark, data):
    decomposition = pytest.importorskip("sklearn.decomposition")
    _group(benchmark, data, "sklearn")
    pca = decomposition.PCA(whiten=True, svd_solver="covariance_eigh")
    benchmark.pedantic(pca.fit, args=(data,), rounds=3, iterations=1)
    assert np.all(np.isfinite(pca.components_))
