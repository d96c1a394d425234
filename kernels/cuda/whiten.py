"""Covariance, PCA and whitening on the GPU.

Covariance: column means (float64 sums), centring, then Xcᵀ Xc as a symmetric rank-k update
(cuBLAS syrk; one triangle of tiles in the Numba GEMM) mirrored and divided by N. The symmetric
eigensolver is CuPy's ``eigh`` on the device when CuPy is installed, else NumPy's on the host
(the one place device data visits the host); signs and scaling are then fixed on the device.
"""

import math

import numpy as np
from numba import cuda

from ._arrays import (
    _cupy,
    contiguous,
    cupy_view,
    deliver_all,
    empty,
    launch,
    result_kind,
    scalar_type,
    to_dev,
)
from ._gemm import covariance_product, gemm


@cuda.jit
def _center_kernel(x, mean, xc):
    """mean[j] = Σ_i x[i, j] / N (float64 sum, stored in x's dtype); xc = x − mean."""
    n = x.shape[0]
    for j in range(cuda.grid(1), x.shape[1], cuda.gridsize(1)):
        acc = 0.0
        for i in range(n):
            acc += x[i, j]
        mean[j] = acc / n
        mu = mean[j]
        for i in range(n):
            xc[i, j] = x[i, j] - mu


def covariance(X):
    """mean (D,) and cov = Xcᵀ Xc / N (D, D) of the centred rows Xc = X − mean."""
    kind = result_kind(X)
    x = to_dev(X)
    d = x.shape[1]
    mean = empty(d, x.dtype)
    xc = empty(x.shape, x.dtype)
    _center_kernel[launch(d)](x, mean, xc)
    cov = empty((d, d), x.dtype)
    covariance_product(xc, cov)
    return deliver_all(kind, mean, cov)


def _eigh_descending(cov):
    """Eigenvalues descending (k,) and eigenvectors (D, D) columns, as device arrays."""
    cp = _cupy()
    if cp is not None:
        s, u = cp.linalg.eigh(cupy_view(cov))
        return to_dev(cp.ascontiguousarray(s[::-1])), to_dev(cp.ascontiguousarray(u[:, ::-1]))
    s, u = np.linalg.eigh(cov.copy_to_host())
    return cuda.to_device(np.ascontiguousarray(s[::-1])), cuda.to_device(np.ascontiguousarray(u[:, ::-1]))


@cuda.jit
def _signs_kernel(u, zero, one):
    """Flip column j of u so its first largest-magnitude entry is positive (reference fix_signs)."""
    d = u.shape[0]
    for j in range(cuda.grid(1), u.shape[1], cuda.gridsize(1)):
        pivot = 0
        best = abs(u[0, j])
        for i in range(1, d):
            a = abs(u[i, j])
            if a > best:
                best = a
                pivot = i
        sign = -one if u[pivot, j] < zero else one
        for i in range(d):
            u[i, j] = u[i, j] * sign


@cuda.jit
def _scale_columns_kernel(u, s, w, eps, scaled):
    """w[:, j] = u[:, :k] column j divided by sqrt(s[j] + eps) (or copied when not ``scaled``)."""
    k = w.shape[1]
    for e in range(cuda.grid(1), w.shape[0] * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        w[i, j] = u[i, j] / math.sqrt(s[j] + eps) if scaled else u[i, j]


def whitening_matrix(cov, method="zca", eps=1e-5, n_components=None):
    """W so that (X − mean) @ W is white, with eigenvalues (k,) and eigenvectors (D, k).

    "pca": W = U_k / sqrt(S_k + eps) (D, k); "zca": W = U / sqrt(S + eps) @ Uᵀ (D, D);
    "rotate": W = U_k.
    """
    if method not in ("pca", "zca", "rotate"):
        raise ValueError(f"unknown whitening method {method!r}")
    kind = result_kind(cov)
    c = to_dev(cov)
    dt = scalar_type(c.dtype)
    d = c.shape[0]
    k = d if n_components is None else int(n_components)
    s, u = _eigh_descending(c)
    s, u = contiguous(s, c.dtype), contiguous(u, c.dtype)
    _signs_kernel[launch(d)](u, dt(0), dt(1))
    s_k = contiguous(s[:k])
    u_k = empty((d, k), c.dtype)
    _scale_columns_kernel[launch(d * k)](u, s, u_k, dt(eps), False)
    if method == "rotate":
        w = u_k
    else:
        scaled = empty((d, k), c.dtype)
        _scale_columns_kernel[launch(d * k)](u, s, scaled, dt(eps), True)
        if method == "pca":
            w = scaled
        else:
            w = empty((d, d), c.dtype)
            gemm(scaled, u_k, w, trans_b=True)
    return deliver_all(kind, w, s_k, u_k)
