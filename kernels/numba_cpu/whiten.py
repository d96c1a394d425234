"""Covariance, PCA and whitening: fused centring, half-flop covariance, symmetric eigensolver.

covariance: column means (per-chunk float64 partials), one centring pass, then Xcᵀ Xc from
block-row GEMMs that compute only the blocks on and above the diagonal (half the flops of a
GEMM), then one pass that scales by 1/N and mirrors.
whitening_matrix: scipy.linalg.eigh (divide and conquer) instead of the reference's SVD.
"""

import numpy as np
import scipy.linalg
from numba import njit, prange

from ._common import ERROR_MODEL, blas_called, like, n_chunks, parallel_kernel, span
from ._rowops import col_sums

# Block rows of the covariance's upper triangle: flops = (1/2 + B/(2D)) of a full GEMM, so small
# B halves the work, but narrow GEMMs run below peak. Measured at (20000, 1024) float32, 2 threads
# (min of 5): B=128 164 ms, B=256 161 ms (medians 173 / 191), full GEMM Xcᵀ Y 272 ms. NumPy's
# np.dot(X.T, X) already dispatches to OpenBLAS syrk, which runs at GEMM rate here (174 ms), so
# these panels only match it; what they add is the fused centring, 1/N and exact symmetry.
COV_BLOCK = 128
# Tile edge of the mirror pass (a transpose): a 64 x 64 tile and its mirror image stay in L1/L2.
MIRROR_TILE = 64


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


@njit(cache=True, error_model=ERROR_MODEL)
def _mirror_tiles(cov, n, tile, first, step):
    """Tile rows first, first+step, ... of cov (D, D): upper triangle /= nf, copied to the lower one.

    Tile row t writes only its own upper part and the lower part of columns t (rows below), so
    interleaved tile rows never touch the same entries; interleaving balances the triangle.
    """
    d = cov.shape[0]
    nf = like(n, cov)
    for ti in range(first, (d + tile - 1) // tile, step):
        i0 = ti * tile
        i1 = min(d, i0 + tile)
        for j0 in range(i0, d, tile):
            j1 = min(d, j0 + tile)
            for i in range(i0, i1):
                row = cov[i]
                for j in range(max(i, j0), j1):
                    row[j] = row[j] / nf
            if j0 > i0:
                for j in range(j0, j1):
                    for i in range(i0, i1):
                        cov[j, i] = cov[i, j]
            else:
                for i in range(i0, i1):
                    for j in range(i + 1, i1):
                        cov[j, i] = cov[i, j]


@parallel_kernel
def _mirror_parallel(cov, n, tile, nch):
    """_mirror_tiles with tile rows dealt round-robin to nch chunks, in parallel."""
    for c in prange(nch):
        _mirror_tiles(cov, n, tile, c, nch)


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
    cov = np.empty((d, d), dtype=X.dtype)
    for i0 in range(0, d, COV_BLOCK):
        i1 = min(d, i0 + COV_BLOCK)
        np.matmul(Xc[:, i0:i1].T, Xc[:, i0:], out=cov[i0:i1, i0:])
    blas_called()
    nch = min((d + MIRROR_TILE - 1) // MIRROR_TILE, n_chunks(d, d))
    if nch == 1:
        _mirror_tiles(cov, n, MIRROR_TILE, 0, 1)
    else:
        _mirror_parallel(cov, n, MIRROR_TILE, nch)
    return mean, cov


def fix_signs(U):
    """Flip each column so its largest-magnitude entry is positive (the reference's convention)."""
    pivot = np.abs(U).argmax(axis=0)
    signs = np.sign(U[pivot, np.arange(U.shape[1])])
    signs[signs == 0] = 1
    return U * signs


def sorted_eigh(cov):
    """Eigenvalues descending and eigenvectors (columns, cov's dtype) of a symmetric cov, via syevd.

    Ordered and valued like the reference's singular values (|λ|, descending), which equal the
    eigenvalues for a PSD covariance; rounding can make tiny eigenvalues negative, where the
    SVD gives their absolute value, and so do we (sqrt(S + eps) stays real).
    """
    # In float64 whatever cov's dtype: NumPy's float32 SVD (the reference) is float64-accurate
    # (its eigenvectors agree with float64 ones to ~1e-8), which float32 syevd is not (~1e-5
    # on W for spectra with close eigenvalues).
    lam, U = scipy.linalg.eigh(cov.astype(np.float64), driver="evd", check_finite=False, overwrite_a=True)
    order = np.argsort(-np.abs(lam), kind="stable")
    # back in cov's dtype before fixing signs, as the reference does (ties in |.| then agree)
    return np.abs(lam[order]).astype(cov.dtype), fix_signs(U[:, order].astype(cov.dtype))


def whitening_matrix(cov, method="zca", eps=1e-5, n_components=None):
    """Matrix W so that (X − mean) @ W is white; also returns eigenvalues (k,) and vectors (D, k).

    "pca": W = U_k / sqrt(S_k + eps) (D, k); "zca": W = U / sqrt(S + eps) @ Uᵀ (D, D);
    "rotate": W = U_k.
    """
    S, U = sorted_eigh(cov)
    k = cov.shape[0] if n_components is None else n_components
    S, U = S[:k], U[:, :k]
    if method == "rotate":
        W = U
    elif method == "pca":
        W = U / np.sqrt(S + eps)
    elif method == "zca":
        W = (U / np.sqrt(S + eps)) @ U.T
    else:
        raise ValueError(f"unknown whitening method {method!r}")
    dt = cov.dtype
    return W.astype(dt, copy=False), S.astype(dt, copy=False), U.astype(dt, copy=False)
