# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Covariance and whitening: fused centring, half-flop covariance, symmetric eigensolver.

covariance: column means from per-chunk float64 partials, one centring pass, then Xcᵀ Xc as one
symmetric rank-k update (syrk from scipy.linalg.cython_blas, on Xc as it lies: no transposed
copy), then one pass that divides by N and mirrors. whitening_matrix: scipy.linalg.eigh (divide
and conquer) instead of the reference's SVD, with the reference's ordering and sign convention.
"""

import numpy as np
import scipy.linalg

from fastmlp.kernels._eigen import sorted_syevd, whitening_from

from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport dsyrk, ssyrk

from _common cimport chunk_len, colsum_rows, floating, n_chunks, team

include "_chunking.pxi"

cdef enum:
    # Tile edge of the mirror pass (a transpose): 64 x 64 float64 = 32 KiB per tile pair, L1-sized.
    MIRROR_TILE = 64


cdef void _centre_rows(const floating[:, ::1] x, const floating[::1] mean, floating[:, ::1] xc, double *acc,
                       Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1: xc <- x − mean (acc NULL), or acc (D,) float64 <- Σ_rows x (the first pass)."""
    cdef Py_ssize_t i, j, d = x.shape[1]
    cdef const floating *xr
    cdef floating *cr
    if acc != NULL:
        colsum_rows(&x[0, 0], d, lo, hi, acc)
        return
    for i in range(lo, hi):
        xr = &x[i, 0]
        cr = &xc[i, 0]
        for j in range(d):
            cr[j] = xr[j] - mean[j]


cdef void _rows(const floating[:, ::1] x, const floating[::1] mean, floating[:, ::1] xc,
                double[:, ::1] partial) noexcept:
    """_centre_rows over row chunks: column sums into partial (mean None), else the centring."""
    cdef Py_ssize_t n = x.shape[0], nch = partial.shape[0], per = chunk_len(n, nch, 1), c, lo
    cdef bint sums = mean is None
    with nogil:
        if nch == 1:
            _centre_rows(x, mean, xc, &partial[0, 0] if sums else NULL, 0, n)
            return
        for c in prange(nch, schedule='static', num_threads=team(nch)):
            lo = min(n, c * per)
            _centre_rows(x, mean, xc, &partial[c, 0] if sums else NULL, lo, min(n, lo + per))


cdef void _mirror_tiles(floating[:, ::1] cov, floating nf, Py_ssize_t first, Py_ssize_t step) noexcept nogil:
    """Tile rows first, first+step, ... of cov (D, D): upper triangle /= nf, copied to the lower one.

    Tile row t writes only its own upper part and the lower part of its columns, so interleaved
    tile rows never touch the same entries; interleaving balances the triangle's work.
    """
    cdef Py_ssize_t d = cov.shape[0], i0 = first * MIRROR_TILE, i1, j0, j1, i, j
    while i0 < d:
        i1 = min(d, i0 + MIRROR_TILE)
        j0 = i0
        while j0 < d:
            j1 = min(d, j0 + MIRROR_TILE)
            for i in range(i0, i1):
                for j in range(max(i, j0), j1):
                    cov[i, j] = cov[i, j] / nf
            for j in range(j0, j1):
                for i in range(i0, min(i1, j)):
                    cov[j, i] = cov[i, j]
            j0 += MIRROR_TILE
        i0 += step * MIRROR_TILE


cdef void _gram(floating[:, ::1] xc, floating[:, ::1] cov) noexcept:
    """cov <- xcᵀ xc / N: one symmetric rank-k update (half a GEMM's flops), then divide and mirror.

    Row-major xc (N, D) is the column-major (D, N) matrix A, so xcᵀ xc = A Aᵀ is syrk with
    trans 'N'; its column-major lower triangle is the row-major upper one. syrk is faster than
    block-row GEMMs over the upper triangle (each block re-packs its panels) and about as fast as
    NumPy's full Xcᵀ Xc (benches/NOTES.md, 'Measurements behind code comments': cython _gram).
    """
    cdef Py_ssize_t n = xc.shape[0], d = xc.shape[1], nt, c
    cdef char uplo = b'L', trans = b'N'
    cdef int di = <int>d, ni = <int>n
    cdef floating one = 1, zero = 0
    with nogil:
        if floating is float:
            ssyrk(&uplo, &trans, &di, &ni, &one, &xc[0, 0], &di, &zero, &cov[0, 0], &di)
        else:
            dsyrk(&uplo, &trans, &di, &ni, &one, &xc[0, 0], &di, &zero, &cov[0, 0], &di)
        nt = min((d + MIRROR_TILE - 1) // MIRROR_TILE, n_chunks(d, d))
        if nt == 1:
            _mirror_tiles(cov, <floating>n, 0, 1)
            return
        for c in prange(nt, schedule='static', num_threads=team(nt)):
            _mirror_tiles(cov, <floating>n, c, nt)


def covariance(X):
    """mean (D,) and cov = Xcᵀ Xc / N (D, D) of the centred rows Xc = X − mean."""
    n, d = X.shape
    partial = np.empty((n_chunks(n, d), d))
    xc = np.empty_like(X)
    cov = np.empty((d, d), dtype=X.dtype)
    f32 = X.dtype == np.float32
    if f32:
        _rows[float](X, None, xc, partial)
    else:
        _rows[double](X, None, xc, partial)
    # accumulated in float64 (a float32 sum of large values can overflow), rounded once
    mean = (partial.sum(axis=0) / n).astype(X.dtype)
    if f32:
        _rows[float](X, mean, xc, partial)
        _gram[float](xc, cov)
    else:
        _rows[double](X, mean, xc, partial)
        _gram[double](xc, cov)
    return mean, cov


def _eigh(a):
    # SciPy's syevd: the same OpenBLAS as this module's syrk (one thread pool); a is a copy
    return scipy.linalg.eigh(a, driver="evd", check_finite=False, overwrite_a=True)


def whitening_matrix(cov, method="zca", eps=1e-5, n_components=None):
    """Matrix W so that (X − mean) @ W is white; also returns eigenvalues (k,) and vectors (D, k).

    "pca": W = U_k / sqrt(S_k + eps) (D, k); "zca": W = U_k / sqrt(S_k + eps) @ U_kᵀ (D, D);
    "rotate": W = U_k.
    """
    S, U = sorted_syevd(cov, _eigh)
    return whitening_from(S, U, cov.dtype, method, eps, n_components)
