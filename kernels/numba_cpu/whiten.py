"""Covariance, PCA and whitening: fused centring, half-flop covariance, symmetric eigensolver.

covariance: column means (per-chunk float64 partials), one centring pass, then Xcᵀ Xc by BLAS
syrk (half the flops of a GEMM; NumPy mirrors the triangle), divided by N in place.
whitening_matrix: scipy.linalg.eigh (divide and conquer) instead of the reference's SVD.
"""

import numpy as np
from numba import njit, prange

from .._eigen import sorted_syevd, whitening_from
from ._common import ERROR_MODEL, blas_called, n_chunks, parallel_kernel, span
from ._rowops import col_sums

# The product Xcᵀ Xc goes to np.dot, which hands a matrix times its own transpose to BLAS syrk
# (half the flops of a GEMM, in one call) and mirrors the triangle: faster than block-row GEMMs
# over the upper triangle (this file's earlier method) and than a full GEMM (benches/NOTES.md
# change 9).


@njit(cache=True, error_model=ERROR_MODEL)
def _centre_rows(x, mean, xc, lo, hi):
    """Rows lo..hi-1: xc <- x − mean."""
    for i in range(lo, hi):
        xr = x[i]
        cr = xc[i]
        for j in range(xr.shape[0]):
            cr[j] = xr[j] - mean[j]


@parallel_kernel
def _centre_parallel(x, mean, xc, nch):
    """_centre_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, x.shape[0], nch, 1)
        _centre_rows(x, mean, xc, lo, hi)


def covariance(X):
    """mean (D,) and cov = Xcᵀ Xc / N (D, D) of the centred rows Xc = X − mean."""
    n, d = X.shape
    nch = n_chunks(n, d)
    mean = (col_sums(X, np.float64) / n).astype(X.dtype)
    Xc = np.empty_like(X)
    if nch == 1:
        _centre_rows(X, mean, Xc, 0, n)
    else:
        _centre_parallel(X, mean, Xc, nch)
    cov = np.dot(Xc.T, Xc)  # syrk: Xc.T and Xc are one buffer
    blas_called()
    np.divide(cov, X.dtype.type(n), out=cov)  # the reference's rounding: (Xcᵀ Xc) / N
    return mean, cov


def sorted_eigh(cov):
    """Eigenvalues descending and eigenvectors of cov by NumPy's syevd (kernels/_eigen.py)."""
    # NumPy's eigh rather than SciPy's: it runs on the same OpenBLAS as the covariance's syrk,
    # whose workers are still spinning; SciPy's OpenBLAS is a second thread pool that fights them
    # and slows the eigh right after the syrk (benches/NOTES.md change 11)
    result = sorted_syevd(cov, np.linalg.eigh)
    blas_called()
    return result


def whitening_matrix(cov, method="zca", eps=1e-5, n_components=None):
    """Matrix W so that (X − mean) @ W is white; also returns eigenvalues (k,) and vectors (D, k).

    "pca": W = U_k / sqrt(S_k + eps) (D, k); "zca": W = U / sqrt(S + eps) @ Uᵀ (D, D);
    "rotate": W = U_k.
    """
    S, U = sorted_eigh(cov)
    return whitening_from(S, U, cov.dtype, method, eps, n_components)
