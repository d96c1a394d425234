"""Host-side eigen pieces shared by the CPU backends' whitening: the sign convention, the
eigh-based decomposition the fast backends use instead of the reference's SVD, and W from (S, U).

Plain NumPy on small (D, D) matrices; each backend passes the eigh of the BLAS it already uses
(the covariance's syrk and the eigh should share one OpenBLAS thread pool: see _blas_clock.py).
"""

import numpy as np


def fix_signs(U):
    """Flip each column so its largest-magnitude entry is positive (deterministic across solvers)."""
    pivot = np.abs(U).argmax(axis=0)
    signs = np.sign(U[pivot, np.arange(U.shape[1])])
    signs[signs == 0] = 1
    return U * signs


def sorted_syevd(cov, eigh):
    """Eigenvalues descending and eigenvectors (columns, cov's dtype) of a symmetric cov.

    ``eigh(a)`` is a float64 symmetric eigensolver (syevd). Ordered and valued like the
    reference's singular values (|λ|, descending), which equal the eigenvalues for a PSD
    covariance; rounding can make tiny eigenvalues negative, where the SVD gives their absolute
    value, and so do we (sqrt(S + eps) stays real). In float64 whatever cov's dtype: NumPy's SVD
    (the reference) computes in float64, float32 syevd misses it by ~1e-5 on W for spectra with
    close eigenvalues.
    """
    lam, U = eigh(cov.astype(np.float64))
    order = np.argsort(-np.abs(lam), kind="stable")
    # back in cov's dtype before fixing signs, as the reference does (ties in |.| then agree)
    return np.abs(lam[order]).astype(cov.dtype), fix_signs(U[:, order].astype(cov.dtype))


def whitening_from(S, U, dtype, method="zca", eps=1e-5, n_components=None):
    """W, S_k, U_k (in ``dtype``) from eigenvalues S (descending) and eigenvectors U (columns).

    "pca": W = U_k / sqrt(S_k + eps) (D, k) (rotate, reduce, scale); "zca": W = U_k / sqrt(S_k +
    eps) @ U_kᵀ (D, D) (rotated back to the input space); "rotate": W = U_k, no scaling.
    """
    k = U.shape[0] if n_components is None else n_components
    S, U = S[:k], U[:, :k]
    if method == "rotate":
        W = U
    elif method == "pca":
        W = U / np.sqrt(S + eps)
    elif method == "zca":
        W = (U / np.sqrt(S + eps)) @ U.T
    else:
        raise ValueError(f"unknown whitening method {method!r}")
    return W.astype(dtype, copy=False), S.astype(dtype, copy=False), U.astype(dtype, copy=False)
