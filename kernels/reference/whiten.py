"""Covariance, PCA and whitening following the notes' recipe, in plain NumPy."""

import numpy as np

from .._eigen import fix_signs, whitening_from

# shared with other kernels, not ops (kernels/_exports.py)
HELPERS = ("sorted_eigh",)


def covariance(X):
    """mean (D,) and cov = Xcᵀ Xc / N (D, D) of the centred rows Xc = X − mean."""
    # accumulate in float64: a float32 sum of large finite values can overflow to inf
    mean = X.mean(axis=0, dtype=np.float64).astype(X.dtype)
    Xc = X - mean
    return mean, (Xc.T @ Xc) / X.shape[0]


def sorted_eigh(cov):
    """Eigenvalues descending and eigenvectors (D, D) columns of a covariance, via the notes' SVD.

    Signs are fixed so that the largest-|.| entry of each eigenvector is positive, making the
    decomposition deterministic across solvers and backends.
    """
    U, S, _ = np.linalg.svd(cov)
    return S, fix_signs(U)


def whitening_matrix(cov, method="zca", eps=1e-5, n_components=None):
    """Matrix W so that (X − mean) @ W is white; also returns eigenvalues (k,) and vectors (D, k).

    method "pca": W = U_k / sqrt(S_k + eps), shape (D, k) (rotate, reduce, scale);
    "zca": W = U_k / sqrt(S_k + eps) @ U_kᵀ, shape (D, D) (rotated back to the input space);
    "rotate": W = U_k, plain PCA projection without scaling.
    """
    S, U = sorted_eigh(cov)
    return whitening_from(S, U, cov.dtype, method, eps, n_components)
