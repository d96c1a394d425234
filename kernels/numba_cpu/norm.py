"""Batch normalization over the batch axis: column statistics with per-chunk partials, fused passes.

Forward (training): one sweep per chunk of rows computes the chunk's mean and centred sum of
squares in float64 (the second sweep re-reads the chunk from cache); chunks are merged with
Chan's formula (no atomics, fixed chunking, so any thread count gives the same bits), then one
pass writes y. Backward: one pass for the four column sums, one pass for dx.
The (D,) steps (running statistics, inv_std) round exactly as the reference's NumPy expressions.
"""

import numpy as np
from numba import njit, prange

from ._common import ERROR_MODEL, like, n_chunks, parallel_kernel, span


@njit(cache=True, error_model=ERROR_MODEL)
def _stats_rows(x, mean, m2, lo, hi):
    """mean, m2 (D,) float64 <- mean of rows lo..hi-1 of x and Σ (x - mean)² about it."""
    mean[:] = 0.0
    m2[:] = 0.0
    for i in range(lo, hi):
        row = x[i]
        for j in range(row.shape[0]):
            mean[j] += row[j]
    inv = 1.0 / max(1, hi - lo)
    for j in range(mean.shape[0]):
        mean[j] *= inv
    for i in range(lo, hi):
        row = x[i]
        for j in range(row.shape[0]):
            dv = row[j] - mean[j]
            m2[j] += dv * dv


@parallel_kernel
def _stats_parallel(x, means, m2s, nch):
    """_stats_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, x.shape[0], nch, 1)
        _stats_rows(x, means[c], m2s[c], lo, hi)


@njit(cache=True, error_model=ERROR_MODEL)
def _apply_rows(x, mean, inv_std, gamma, beta, y, lo, hi):
    """Rows lo..hi-1: y <- gamma · ((x − mean) · inv_std) + beta."""
    for i in range(lo, hi):
        xr = x[i]
        yr = y[i]
        for j in range(xr.shape[0]):
            yr[j] = gamma[j] * ((xr[j] - mean[j]) * inv_std[j]) + beta[j]


@parallel_kernel
def _apply_parallel(x, mean, inv_std, gamma, beta, y, nch):
    """_apply_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, x.shape[0], nch, 1)
        _apply_rows(x, mean, inv_std, gamma, beta, y, lo, hi)


@njit(cache=True, error_model=ERROR_MODEL)
def _grad_sums_rows(dy, x, mean, inv_std, gamma, acc, lo, hi):
    """acc (4, D) float64 <- Σ dy, Σ dy·xhat, Σ dxhat, Σ dxhat·xhat over rows lo..hi-1 (dxhat = dy·gamma)."""
    acc[:, :] = 0.0
    s_dy, s_dyx, s_dxh, s_dxhx = acc[0], acc[1], acc[2], acc[3]
    for i in range(lo, hi):
        dr = dy[i]
        xr = x[i]
        for j in range(xr.shape[0]):
            xhat = (xr[j] - mean[j]) * inv_std[j]
            dxhat = dr[j] * gamma[j]
            s_dy[j] += dr[j]
            s_dyx[j] += dr[j] * xhat
            s_dxh[j] += dxhat
            s_dxhx[j] += dxhat * xhat


@njit(cache=True, error_model=ERROR_MODEL)
def _dx_rows(dy, x, mean, inv_std, gamma, c1, c2, scale, n, training, dx, lo, hi):
    """Rows lo..hi-1 of dx: training (inv_std/N)(N dxhat − c1 − xhat c2), else dy·gamma·inv_std."""
    nf = like(n, dx)
    for i in range(lo, hi):
        dr = dy[i]
        xr = x[i]
        out = dx[i]
        if training:
            for j in range(xr.shape[0]):
                xhat = (xr[j] - mean[j]) * inv_std[j]
                out[j] = scale[j] * (nf * (dr[j] * gamma[j]) - c1[j] - xhat * c2[j])
        else:
            for j in range(xr.shape[0]):
                out[j] = dr[j] * gamma[j] * inv_std[j]


@parallel_kernel
def _backward_parallel(dy, x, mean, inv_std, gamma, partial, c1, c2, scale, n, training, dx, sums, nch):
    """sums=True: _grad_sums_rows into partial (nch, 4, D); else _dx_rows, over nch row chunks."""
    for c in prange(nch):
        lo, hi = span(c, x.shape[0], nch, 1)
        if sums:
            _grad_sums_rows(dy, x, mean, inv_std, gamma, partial[c], lo, hi)
        else:
            _dx_rows(dy, x, mean, inv_std, gamma, c1, c2, scale, n, training, dx, lo, hi)


@njit(cache=True, error_model=ERROR_MODEL)
def _finish(mean64, var64, running_mean, running_var, training, momentum, eps, mean, inv_std):
    """(D,) vectors, in the dtype with the reference's roundings: training updates the running
    statistics in place (r = r·dt(μ) + dt(1−μ)·batch); mean <- the mean used; inv_std <- 1/√(var+eps)."""
    mom, rest, eps = like(momentum, mean), like(1.0 - momentum, mean), like(eps, mean)
    one = like(1.0, mean)
    for j in range(mean.shape[0]):
        if training:
            m = like(mean64[j], mean)
            v = like(var64[j], mean)
            running_mean[j] = running_mean[j] * mom + rest * m
            running_var[j] = running_var[j] * mom + rest * v
        else:
            m = running_mean[j]
            v = running_var[j]
        mean[j] = m
        inv_std[j] = one / np.sqrt(v + eps)


_UNUSED = np.zeros(0)  # the float64 batch statistics' stand-in in evaluation mode


def _batch_stats(x):
    """Batch mean and biased variance (D,) in float64, Chan-merged from per-chunk statistics."""
    n, d = x.shape
    nch = n_chunks(n, d)
    means = np.empty((nch, d), np.float64)
    m2s = np.empty((nch, d), np.float64)
    if nch == 1:
        _stats_rows(x, means[0], m2s[0], 0, n)
        m2s[0] /= n
        return means[0], m2s[0]
    _stats_parallel(x, means, m2s, nch)
    counts = np.array([getattr(span, "py_func", span)(c, n, nch, 1) for c in range(nch)], dtype=np.float64)
    counts = (counts[:, 1] - counts[:, 0])[:, None]
    mean = (counts * means).sum(axis=0) / n
    m2 = (m2s + counts * (means - mean) ** 2).sum(axis=0)
    return mean, m2 / n


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.9, eps=1e-5):
    """y = gamma · (x − mean) / sqrt(var + eps) + beta, per feature; returns (y, mean, inv_std).

    Training uses the batch statistics and updates running_mean / running_var in place
    (running = momentum · running + (1 − momentum) · batch); evaluation uses the running ones.
    """
    n, d = x.shape
    mean = np.empty(d, dtype=x.dtype)
    inv_std = np.empty(d, dtype=x.dtype)
    mean64, var64 = _batch_stats(x) if training else (_UNUSED, _UNUSED)
    _finish(mean64, var64, running_mean, running_var, bool(training), float(momentum), float(eps), mean, inv_std)
    y = np.empty_like(x)
    nch = n_chunks(n, d)
    if nch == 1:
        _apply_rows(x, mean, inv_std, gamma, beta, y, 0, n)
    else:
        _apply_parallel(x, mean, inv_std, gamma, beta, y, nch)
    return y, mean, inv_std


def batchnorm_backward(dy, x, gamma, mean, inv_std, training=True):
    """Gradients dx, dgamma, dbeta; training mode back-propagates through the batch statistics."""
    n, d = x.shape
    nch = n_chunks(n, d)
    partial = np.empty((nch, 4, d), np.float64)
    dx = np.empty_like(x)
    if nch == 1:
        _grad_sums_rows(dy, x, mean, inv_std, gamma, partial[0], 0, n)
    else:
        _backward_parallel(dy, x, mean, inv_std, gamma, partial, gamma, gamma, gamma, n, training, dx, True, nch)
    sums = partial.sum(axis=0).astype(x.dtype)
    dbeta, dgamma, c1, c2 = sums[0], sums[1], sums[2], sums[3]
    scale = (inv_std / n).astype(x.dtype, copy=False)
    if nch == 1:
        _dx_rows(dy, x, mean, inv_std, gamma, c1, c2, scale, n, training, dx, 0, n)
    else:
        _backward_parallel(dy, x, mean, inv_std, gamma, partial, c1, c2, scale, n, training, dx, False, nch)
    return dx, dgamma, dbeta
