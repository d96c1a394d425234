"""Losses, each fused into one trip through memory: returns (mean loss over the N rows as a
Python float, gradient wrt the scores).

A row (or flat segment) is read once; the few sweeps over it (max, exp, sum, scale) hit L1.
Losses accumulate in float64, per chunk of rows into a partial buffer summed in chunk order (the
same bits on any thread count). Gradients are written in the scores' dtype with the reference's
formulas; the softmax gradient is scaled in float64 and rounded once.
"""

import math

import numpy as np
from numba import njit, prange

from .._scratch import scratch
from ._common import ERROR_MODEL, EXP_FASTMATH, FASTMATH, exp_neg, like, n_chunks, parallel_kernel, span


@njit(cache=True, fastmath=FASTMATH, error_model=ERROR_MODEL)
def _sum64(a):
    """Σ a in float64 ("reassoc" lets this reduction vectorise)."""
    tot = 0.0
    for j in range(a.shape[0]):
        tot += a[j]
    return tot


@njit(cache=True, fastmath=FASTMATH, error_model=ERROR_MODEL)
def _sumsq64(a):
    """Σ a² in float64 (vectorised by "reassoc")."""
    tot = 0.0
    for j in range(a.shape[0]):
        v = float(a[j])
        tot += v * v
    return tot


@njit(cache=True, error_model=ERROR_MODEL)
def _rowmax(row):
    """max of a 1-d array, ignoring NaNs after the first entry. Eight running maxima break the
    serial compare chain, so the loop vectorises: faster than one running max (even with fast-math)
    and than np.max in Numba (benches/NOTES.md, 'Measurements behind code comments': _rowmax)."""
    n = row.shape[0]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = row[0]
    j = 0
    while j + 8 <= n:
        v0, v1, v2, v3 = row[j], row[j + 1], row[j + 2], row[j + 3]
        v4, v5, v6, v7 = row[j + 4], row[j + 5], row[j + 6], row[j + 7]
        m0 = v0 if v0 > m0 else m0
        m1 = v1 if v1 > m1 else m1
        m2 = v2 if v2 > m2 else m2
        m3 = v3 if v3 > m3 else m3
        m4 = v4 if v4 > m4 else m4
        m5 = v5 if v5 > m5 else m5
        m6 = v6 if v6 > m6 else m6
        m7 = v7 if v7 > m7 else m7
        j += 8
    for k in range(j, n):
        m0 = row[k] if row[k] > m0 else m0
    for v in (m1, m2, m3, m4, m5, m6, m7):
        m0 = v if v > m0 else m0
    return m0


@njit(cache=True, error_model=ERROR_MODEL, fastmath=EXP_FASTMATH)
def _exp_shifted(src, shift, out):
    """out (n,) <- e^(src - shift), shift = max(src)."""
    for j in range(src.shape[0]):
        out[j] = exp_neg(src[j] - shift)


@njit(cache=True, error_model=ERROR_MODEL, fastmath=EXP_FASTMATH)
def _exp_neg_abs(src, out):
    """out (n,) <- e^-|src| (one inlined exp per function: two trip Numba's SSA check)."""
    for j in range(src.shape[0]):
        out[j] = exp_neg(-abs(src[j]))


@njit(cache=True, error_model=ERROR_MODEL)
def _softmax_rows(scores, y, d, n, lo, hi):
    """Rows lo..hi-1: d <- (softmax - onehot(y)) / n, max-shifted; returns Σ_rows -log p_y (float64)."""
    loss = 0.0
    for i in range(lo, hi):
        row = scores[i]
        dr = d[i]
        mx = _rowmax(row)  # NaN never wins here, but exp(NaN - mx) below spreads it anyway
        _exp_shifted(row, mx, dr)
        tot = _sum64(dr)
        yi = y[i]
        e_y = float(dr[yi])
        loss += math.log(tot) - float(row[yi] - mx)
        c = 1.0 / (tot * n)
        for j in range(dr.shape[0]):
            dr[j] = dr[j] * c
        dr[yi] = (e_y / tot - 1.0) / n
    return loss


@parallel_kernel
def _softmax_parallel(scores, y, d, n, partial, nch):
    """_softmax_rows over nch row chunks in parallel, losses into partial (nch,)."""
    for c in prange(nch):
        lo, hi = span(c, scores.shape[0], nch, 1)
        partial[c] = _softmax_rows(scores, y, d, n, lo, hi)


@njit(cache=True, error_model=ERROR_MODEL)
def _svm_rows(scores, y, d, margin, squared, n, lo, hi):
    """Rows lo..hi-1: Weston-Watkins hinge (squared or not) gradient into d; returns Σ losses.

    Margins, loss sums and gradient are separate sweeps over the (L1-resident) row: a float64
    sum inside the margin loop is a serial add chain (~4 cycles/element); apart they vectorise.
    """
    loss = 0.0
    zero, one, margin, nf = like(0.0, d), like(1.0, d), like(margin, d), like(n, d)
    for i in range(lo, hi):
        row = scores[i]
        dr = d[i]
        yi = y[i]
        sy = row[yi]
        for j in range(row.shape[0]):
            g = row[j] - sy + margin
            dr[j] = zero if g < 0 else g  # np.maximum(0, .): NaN passes through
        dr[yi] = zero
        if squared:
            loss += _sumsq64(dr)
            for j in range(dr.shape[0]):
                dr[j] = dr[j] + dr[j]
        else:
            loss += _sum64(dr)
            for j in range(dr.shape[0]):
                dr[j] = one if dr[j] > 0 else zero
        dr[yi] = -_sum64(dr)
        for j in range(dr.shape[0]):
            dr[j] = dr[j] / nf
    return loss


@parallel_kernel
def _svm_parallel(scores, y, d, margin, squared, n, partial, nch):
    """_svm_rows over nch row chunks in parallel, losses into partial (nch,)."""
    for c in prange(nch):
        lo, hi = span(c, scores.shape[0], nch, 1)
        partial[c] = _svm_rows(scores, y, d, margin, squared, n, lo, hi)


SIGMOID_CE, ATTRIBUTE_HINGE, L2, L1 = range(4)


@njit(cache=True, fastmath=FASTMATH, error_model=ERROR_MODEL)
def _terms64(code, f, t):
    """Σ of the loss terms in float64: attribute hinge max(0, 1 − t f), L2 (f − t)², L1 |f − t|.

    Each term is formed in the dtype as the reference does; only the sum is reassociated.
    """
    one = like(1.0, f)
    tot = 0.0
    if code == ATTRIBUTE_HINGE:
        for j in range(f.shape[0]):
            g = one - t[j] * f[j]  # t = ±1: the product is exact, contraction cannot change it
            tot += float(g) if g > 0 else 0.0
    elif code == L2:
        for j in range(f.shape[0]):
            g = float(f[j] - t[j])
            tot += g * g
    else:
        for j in range(f.shape[0]):
            tot += abs(float(f[j] - t[j]))
    return tot


@njit(cache=True, error_model=ERROR_MODEL)
def _pointwise(code, f, t, d, n, lo, hi):
    """Elements lo..hi-1 of flat scores f / targets t: gradient into d; returns Σ loss terms.

    The loss is summed by _terms64 (a vectorised float64 reduction), not in the gradient loop.
    """
    zero, one, nf = like(0.0, d), like(1.0, d), like(n, d)
    fs = f[lo:hi]
    ts = t[lo:hi]
    ds = d[lo:hi]
    if code == SIGMOID_CE:
        _exp_neg_abs(fs, ds)  # z = e^-|f|, reused by loss and gradient
        loss = 0.0
        for j in range(fs.shape[0]):  # log1p is a libm call: this loop stays scalar anyway
            v, z = fs[j], ds[j]
            loss += float((zero if v < 0 else v) - v * ts[j]) + math.log1p(float(z))
            sig = one / (one + z) if v >= 0 else z / (one + z)
            ds[j] = (sig - ts[j]) / nf
        return loss
    loss = _terms64(code, fs, ts)
    if code == ATTRIBUTE_HINGE:
        for j in range(fs.shape[0]):
            ds[j] = (-ts[j] if one - ts[j] * fs[j] > 0 else zero) / nf
    elif code == L2:
        for j in range(fs.shape[0]):
            g = fs[j] - ts[j]
            ds[j] = (g + g) / nf
    else:
        for j in range(fs.shape[0]):
            g = fs[j] - ts[j]
            ds[j] = (one if g > 0 else (-one if g < 0 else g)) / nf  # np.sign: 0 -> 0, NaN -> NaN
    return loss


@parallel_kernel
def _pointwise_parallel(code, f, t, d, n, partial, nch):
    """_pointwise over nch flat chunks in parallel, losses into partial (nch,)."""
    for c in prange(nch):
        lo, hi = span(c, f.shape[0], nch, 64)
        partial[c] = _pointwise(code, f, t, d, n, lo, hi)


def softmax_cross_entropy(scores, y, out=None):
    """L_i = −log(e^{f_{y_i}} / Σ_j e^{f_j}), shifted by the row max; returns (loss, dscores into out)."""
    n = scores.shape[0]
    d = np.empty_like(scores) if out is None else out
    nch = n_chunks(n, scores.shape[1])
    if nch == 1:
        loss = _softmax_rows(scores, y, d, n, 0, n)
    else:
        partial = scratch("softmax-partial", (nch,), np.float64)
        _softmax_parallel(scores, y, d, n, partial, nch)
        loss = partial.sum()
    return float(loss / n), d


def svm_loss(scores, y, margin=1.0, squared=False):
    """Weston–Watkins multiclass hinge (squared: its square); returns (loss, dscores)."""
    n = scores.shape[0]
    d = np.empty_like(scores)
    nch = n_chunks(n, scores.shape[1])
    args = (scores, y, d, float(margin), bool(squared), n)
    if nch == 1:
        loss = _svm_rows(*args, 0, n)
    else:
        partial = np.empty(nch, np.float64)
        _svm_parallel(*args, partial, nch)
        loss = partial.sum()
    return float(loss / n), d


def _pointwise_loss(code, scores, targets):
    n = scores.shape[0]
    d = np.empty_like(scores)
    f, t, df = scores.reshape(-1), targets.reshape(-1), d.reshape(-1)
    nch = n_chunks(f.size)
    if nch == 1:
        loss = _pointwise(code, f, t, df, n, 0, f.size)
    else:
        partial = np.empty(nch, np.float64)
        _pointwise_parallel(code, f, t, df, n, partial, nch)
        loss = partial.sum()
    return float(loss / n), d


def sigmoid_cross_entropy(scores, targets):
    """Σ_j softplus(f_j) − y_ij f_j per row (stable softplus); returns (loss, (σ(f) − y) / N)."""
    return _pointwise_loss(SIGMOID_CE, scores, targets)


def attribute_hinge_loss(scores, targets):
    """Multi-label hinge with targets ±1: L_i = Σ_j max(0, 1 − y_ij f_j)."""
    return _pointwise_loss(ATTRIBUTE_HINGE, scores, targets)


def l2_loss(pred, target):
    """Regression: L_i = ‖f − y‖₂² (no ½); gradient 2 (f − y) / N."""
    return _pointwise_loss(L2, pred, target)


def l1_loss(pred, target):
    """Regression: L_i = Σ_j |f_j − y_j|; subgradient sign(f − y) / N (0 where f = y)."""
    return _pointwise_loss(L1, pred, target)
