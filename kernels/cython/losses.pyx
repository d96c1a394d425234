# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Softmax cross-entropy and the multiclass SVM losses, one fused pass per row.

Each returns (mean loss over the N rows as a Python float, dscores). Losses accumulate in float64
per chunk of rows, summed in chunk order (the same bits on any thread count); gradients are
written in the scores' dtype with the reference's formulas (kernels/reference/losses.py).
"""

import numpy as np

from fastmlp.kernels._scratch import scratch

from cython.parallel cimport prange
from libc.math cimport log
from libc.stdint cimport int64_t

from _common cimport chunk_len, exp_shift, floating, n_chunks, row_div, row_max, row_scale, row_sum, row_sumsq, team

include "_chunking.pxi"


cdef double _softmax_rows(const floating[:, ::1] scores, const int64_t[::1] y, floating[:, ::1] d,
                          Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1: d <- (softmax - onehot(y)) / N, max-shifted; returns Σ_rows -log p_y (float64)."""
    cdef Py_ssize_t i, c = scores.shape[1], yi
    cdef double n = scores.shape[0], loss = 0, tot, e_y
    cdef floating mx
    cdef const floating *row
    cdef floating *dr
    for i in range(lo, hi):
        row = &scores[i, 0]
        dr = &d[i, 0]
        mx = row_max(row, c)
        exp_shift(row, mx, dr, c)
        tot = row_sum(dr, c)
        yi = y[i]
        e_y = dr[yi]
        loss += log(tot) - <double>(row[yi] - mx)
        row_scale(dr, 1.0 / (tot * n), c)  # scaled in float64, rounded once
        dr[yi] = <floating>((e_y / tot - 1.0) / n)
    return loss


cdef double _svm_rows(const floating[:, ::1] scores, const int64_t[::1] y, floating[:, ::1] d, floating margin,
                      bint squared, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1: Weston-Watkins hinge (squared or not), gradient into d; returns Σ losses.

    Short branch-free passes over the row (L1-resident): margins, then the loss and the row's
    total from fixed-order vector sums; one loop with both running sums stayed scalar (8x slower).
    """
    cdef Py_ssize_t i, j, c = scores.shape[1], yi
    cdef floating zero = 0, one = 1, two = 2, nf = scores.shape[0], sy, g
    cdef double loss = 0
    cdef const floating *row
    cdef floating *dr
    for i in range(lo, hi):
        row = &scores[i, 0]
        dr = &d[i, 0]
        yi = y[i]
        sy = row[yi]
        for j in range(c):
            g = row[j] - sy + margin
            dr[j] = zero if g < zero else g  # np.maximum(0, .): NaN passes through
        dr[yi] = zero
        if squared:
            loss += row_sumsq(dr, c)
            for j in range(c):
                dr[j] = two * dr[j]
        else:
            loss += row_sum(dr, c)
            for j in range(c):
                g = dr[j]
                dr[j] = one if g > zero else zero
        dr[yi] = <floating>-row_sum(dr, c)
        row_div(dr, nf, c)
    return loss


cdef double _loss(int kind, const floating[:, ::1] scores, const int64_t[::1] y, floating[:, ::1] d,
                  double[::1] partial, floating margin, bint squared) noexcept:
    """Rows over chunks (one loss partial each, summed in chunk order); returns Σ_rows L_i."""
    cdef Py_ssize_t n = scores.shape[0], nch = partial.shape[0], per = chunk_len(n, nch, 1), c, lo, hi
    cdef double total = 0
    with nogil:
        if nch == 1:
            lo = 0
            hi = n
            partial[0] = _softmax_rows(scores, y, d, 0, n) if kind == 0 else _svm_rows(scores, y, d, margin, squared,
                                                                                         0, n)
        else:
            for c in prange(nch, schedule='static', num_threads=team(nch)):
                lo = min(n, c * per)
                hi = min(n, lo + per)
                if kind == 0:
                    partial[c] = _softmax_rows(scores, y, d, lo, hi)
                else:
                    partial[c] = _svm_rows(scores, y, d, margin, squared, lo, hi)
        for c in range(nch):
            total += partial[c]
        return total


def _run(int kind, scores, y, double margin, bint squared, out=None):
    n, c = scores.shape
    d = np.empty_like(scores) if out is None else out
    partial = scratch("cy-loss-partial", (n_chunks(n, c),), np.float64)
    if scores.dtype == np.float32:
        total = _loss[float](kind, scores, y, d, partial, <float>margin, squared)
    else:
        total = _loss[double](kind, scores, y, d, partial, margin, squared)
    return float(total / n), d


def softmax_cross_entropy(scores, y, out=None):
    """L_i = −log(e^{f_{y_i}} / Σ_j e^{f_j}), shifted by the row max so nothing overflows; dscores into out."""
    return _run(0, scores, y, 0.0, False, out)


def svm_loss(scores, y, margin=1.0, squared=False):
    """Weston–Watkins multiclass hinge: L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + margin) (squared: ²)."""
    return _run(1, scores, y, margin, squared)
