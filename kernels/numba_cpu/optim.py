"""Parameter updates, in place, each ONE fused pass over w, dw and the optimizer state.

Same formulas and operation order as ``kernels/reference/optim.py`` with every scalar cast to the
array dtype first, so float32 results round like the reference (no fast-math here: FMA
contraction would change the rounding). weight_decay is the L2 strength: g = dw + λ·w.
The NumPy reference makes 3-6 passes with temporaries; one fused pass reads and writes each
array once (BENCH.md's figures: benches/NOTES.md change 1).
"""

import numpy as np
from numba import njit, prange

from .._norms import column_scale
from ._common import ERROR_MODEL, like, n_chunks, parallel_kernel, span

SGD, MOMENTUM, NESTEROV, ADAM, RMSPROP, ADAGRAD = range(6)


@njit(cache=True, error_model=ERROR_MODEL)
def _update(code, w, dw, s1, s2, wd, lr, h1, h2, h3, h4, h5, h6, eps, lo, hi):
    """Elements lo..hi-1 of flat w and states s1, s2 <- one step of optimizer ``code``.

    g = dw + wd·w. SGD: w -= lr g. MOMENTUM: s1 = h1 s1 − lr g; w += s1. NESTEROV: the same s1,
    w += h2 s1_prev + h3 s1 (h2 = −μ, h3 = 1 + μ). ADAM: s1 = h1 s1 + h3 g, s2 = h2 s2 + h4 g²,
    w −= lr (s1 / h5) / (sqrt(s2 / h6) + eps). RMSPROP: s1 = h1 s1 + h2 g²; ADAGRAD: s1 += g²;
    both w −= lr g / (sqrt(s1) + eps). One loop per code keeps every loop branch-free. Scalars
    arrive as Python floats and are rounded to w's dtype here, as the reference's dt(...) does.
    """
    use_wd = wd != 0.0  # the reference skips the decay term entirely when it is 0
    wd, lr, eps = like(wd, w), like(lr, w), like(eps, w)
    h1, h2, h3, h4, h5, h6 = like(h1, w), like(h2, w), like(h3, w), like(h4, w), like(h5, w), like(h6, w)
    ws = w[lo:hi]
    gs = dw[lo:hi]
    a = s1[lo:hi]
    b = s2[lo:hi]
    if code == SGD:
        for j in range(ws.shape[0]):
            g = gs[j] + wd * ws[j] if use_wd else gs[j]
            ws[j] = ws[j] - lr * g
    elif code == MOMENTUM:
        for j in range(ws.shape[0]):
            g = gs[j] + wd * ws[j] if use_wd else gs[j]
            v = a[j] * h1 - lr * g
            a[j] = v
            ws[j] = ws[j] + v
    elif code == NESTEROV:
        for j in range(ws.shape[0]):
            g = gs[j] + wd * ws[j] if use_wd else gs[j]
            v_prev = a[j]
            v = v_prev * h1 - lr * g
            a[j] = v
            ws[j] = ws[j] + (h2 * v_prev + h3 * v)
    elif code == ADAM:
        for j in range(ws.shape[0]):
            g = gs[j] + wd * ws[j] if use_wd else gs[j]
            m = a[j] * h1 + h3 * g
            v = b[j] * h2 + h4 * (g * g)
            a[j] = m
            b[j] = v
            ws[j] = ws[j] - lr * (m / h5) / (np.sqrt(v / h6) + eps)
    elif code == RMSPROP:
        for j in range(ws.shape[0]):
            g = gs[j] + wd * ws[j] if use_wd else gs[j]
            c = a[j] * h1 + h2 * (g * g)
            a[j] = c
            ws[j] = ws[j] - lr * g / (np.sqrt(c) + eps)
    else:
        for j in range(ws.shape[0]):
            g = gs[j] + wd * ws[j] if use_wd else gs[j]
            c = a[j] + g * g
            a[j] = c
            ws[j] = ws[j] - lr * g / (np.sqrt(c) + eps)


@parallel_kernel
def _update_parallel(code, w, dw, s1, s2, wd, lr, h1, h2, h3, h4, h5, h6, eps, nch):
    """_update over nch flat chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, w.shape[0], nch, 64)
        _update(code, w, dw, s1, s2, wd, lr, h1, h2, h3, h4, h5, h6, eps, lo, hi)


def _step(code, w, dw, s1, s2, lr, weight_decay, h1=0.0, h2=0.0, h3=0.0, h4=0.0, h5=0.0, h6=0.0, eps=0.0):
    """One update of w (any shape, C-contiguous) in place; scalars go as Python floats (the kernel
    rounds them to w's dtype: NumPy scalars built here would each add to every call). Written flat,
    no argument tuples: a small layer's whole update is short enough that Python overhead here is a
    real share of it (benches/NOTES.md change 12, and 'Measurements behind code comments': _step)."""
    flat = w.reshape(-1)
    s1 = flat if s1 is None else s1.reshape(-1)  # unused states: any array of the right type
    s2 = flat if s2 is None else s2.reshape(-1)
    n = flat.shape[0]
    nch = n_chunks(n)
    h1, h2, h3, h4, h5, h6 = float(h1), float(h2), float(h3), float(h4), float(h5), float(h6)
    wd, lr, eps = float(weight_decay), float(lr), float(eps)
    if nch == 1:
        _update(code, flat, dw.reshape(-1), s1, s2, wd, lr, h1, h2, h3, h4, h5, h6, eps, 0, n)
    else:
        _update_parallel(code, flat, dw.reshape(-1), s1, s2, wd, lr, h1, h2, h3, h4, h5, h6, eps, nch)


def sgd_update(w, dw, lr, weight_decay=0.0):
    """w −= lr · g."""
    _step(SGD, w, dw, None, None, lr, weight_decay)


def momentum_update(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    """v = μ v − lr g; w += v, or for Nesterov (the notes' form) w += −μ v_prev + (1 + μ) v."""
    if nesterov:  # -momentum rounds to minus the rounded momentum: the reference's -dt(momentum)
        _step(NESTEROV, w, dw, velocity, None, lr, weight_decay, momentum, -momentum, 1 + momentum)
    else:
        _step(MOMENTUM, w, dw, velocity, None, lr, weight_decay, momentum)


def adam_update(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam with bias correction; t is the 1-based step number of this update."""
    _step(ADAM, w, dw, m, v, lr, weight_decay, beta1, beta2, 1 - beta1, 1 - beta2, 1 - beta1**t, 1 - beta2**t, eps)


def rmsprop_update(w, dw, cache, lr=1e-2, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
    """cache = ρ cache + (1 − ρ) g²; w −= lr g / (sqrt(cache) + eps)."""
    _step(RMSPROP, w, dw, cache, None, lr, weight_decay, decay_rate, 1 - decay_rate, eps=eps)


def adagrad_update(w, dw, cache, lr=1e-2, eps=1e-8, weight_decay=0.0):
    """cache += g²; w −= lr g / (sqrt(cache) + eps)."""
    _step(ADAGRAD, w, dw, cache, None, lr, weight_decay, eps=eps)


@njit(cache=True, error_model=ERROR_MODEL)
def _sumsq_rows(w, acc, lo, hi):
    """acc (M,) float64 <- Σ w² over rows lo..hi-1 of w (D, M)."""
    acc[:] = 0.0
    for i in range(lo, hi):
        row = w[i]
        for j in range(row.shape[0]):
            v = float(row[j])  # squared in float64: a float32 weight of 3e38 must not overflow
            acc[j] += v * v


@njit(cache=True, error_model=ERROR_MODEL)
def _scale_rows(w, scale, lo, hi):
    """Rows lo..hi-1 of w (D, M) *= scale (M,)."""
    for i in range(lo, hi):
        row = w[i]
        for j in range(row.shape[0]):
            row[j] = row[j] * scale[j]


@parallel_kernel
def _max_norm_parallel(w, partial, scale, sums, nch):
    """sums=True: _sumsq_rows into partial (nch, M); else _scale_rows; over nch row chunks."""
    for c in prange(nch):
        lo, hi = span(c, w.shape[0], nch, 1)
        if sums:
            _sumsq_rows(w, partial[c], lo, hi)
        else:
            _scale_rows(w, scale, lo, hi)


def max_norm_(w, max_norm):
    """Project each column of w (D_in, D_out) onto ‖w_j‖₂ ≤ max_norm, in place (w·1 is skipped)."""
    n, m = w.shape
    nch = n_chunks(n, m)
    partial = np.empty((nch, m), np.float64)
    if nch == 1:
        _sumsq_rows(w, partial[0], 0, n)
    else:
        _max_norm_parallel(w, partial, w[0], True, nch)
    scale = column_scale(partial.sum(axis=0), w, max_norm)
    if not (scale < 1).any():  # w * 1 == w bit for bit: the common case needs no second pass
        return
    if nch == 1:
        _scale_rows(w, scale, 0, n)
    else:
        _max_norm_parallel(w, partial, scale, False, nch)
