"""Losses on the GPU: one thread per row, (mean loss as a Python float, dscores) like the reference.

Each row's loss is accumulated in float64 into a per-row array; only those N numbers come back
to the host (the loss has to be a Python float anyway), never the scores.
"""

import math

import numpy as np
from numba import cuda

from ._arrays import deliver, empty, launch, result_kind, scalar_type, to_dev


@cuda.jit
def _softmax_ce_kernel(s, y, d, rows, nf, zero, one):
    """Row i: max-shifted log-softmax; rows[i] = −log p_{y_i}; d = (p − onehot) / N."""
    c = s.shape[1]
    for i in range(cuda.grid(1), s.shape[0], cuda.gridsize(1)):
        mx = s[i, 0]
        for j in range(1, c):
            mx = max(mx, s[i, j])
        total = zero  # summed in the scores' dtype, like the reference
        for j in range(c):
            total += math.exp(s[i, j] - mx)
        log_norm = math.log(total)
        label = y[i]
        for j in range(c):
            p = math.exp((s[i, j] - mx) - log_norm)
            if j == label:
                p -= one
            d[i, j] = p / nf
        rows[i] = -((s[i, label] - mx) - log_norm)


@cuda.jit
def _svm_kernel(s, y, d, rows, margin, squared, nf, zero, one):
    """Weston–Watkins hinge per row; d_j = [m_j > 0] (or 2 m_j), d_y = −Σ_j d_j, all / N."""
    c = s.shape[1]
    for i in range(cuda.grid(1), s.shape[0], cuda.gridsize(1)):
        label = y[i]
        sy = s[i, label]
        loss = 0.0
        dsum = zero
        for j in range(c):
            if j == label:
                continue
            mj = s[i, j] - sy + margin
            if mj < zero:
                mj = zero
            if squared:
                loss += mj * mj
                g = mj + mj
            else:
                loss += mj
                g = one if mj > zero else zero
            dsum += g
            d[i, j] = g / nf
        d[i, label] = -dsum / nf
        rows[i] = loss


@cuda.jit
def _elementwise_loss_kernel(s, t, d, rows, kind, nf, zero, one):
    """Per-row loss with an elementwise gradient: 0 sigmoid CE, 1 attribute hinge, 2 L2, 3 L1."""
    c = s.shape[1]
    for i in range(cuda.grid(1), s.shape[0], cuda.gridsize(1)):
        loss = 0.0
        for j in range(c):
            f = s[i, j]
            y = t[i, j]
            if kind == 0:  # softplus(f) − y f, softplus(f) = max(f, 0) + log1p(e^−|f|)
                z = math.exp(-abs(f))
                loss += (max(f, zero) - f * y) + math.log1p(z)
                g = (one / (one + z) if f >= zero else z / (one + z)) - y
            elif kind == 1:
                m = one - y * f
                if m > zero:
                    loss += m
                    g = -y
                else:
                    g = zero
            elif kind == 2:
                diff = f - y
                loss += diff * diff
                g = diff + diff
            else:
                diff = f - y
                loss += abs(diff)
                g = one if diff > zero else (-one if diff < zero else diff - diff)
            d[i, j] = g / nf
        rows[i] = loss


def _finish(kind, n, rows, d):
    """(mean loss as a Python float, dscores in the caller's kind)."""
    return float(rows.copy_to_host().sum() / n), deliver(kind, d)


def softmax_cross_entropy(scores, y):
    """L_i = −log(e^{f_{y_i}} / Σ_j e^{f_j}), shifted by the row max so nothing overflows."""
    kind = result_kind(scores)
    s, y = to_dev(scores), to_dev(y)
    n = s.shape[0]
    dt = scalar_type(s.dtype)
    d = empty(s.shape, s.dtype)
    rows = empty(n, np.float64)
    _softmax_ce_kernel[launch(n)](s, y, d, rows, dt(n), dt(0), dt(1))
    return _finish(kind, n, rows, d)


def svm_loss(scores, y, margin=1.0, squared=False):
    """Weston–Watkins multiclass hinge: L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + margin) (squared: ²)."""
    kind = result_kind(scores)
    s, y = to_dev(scores), to_dev(y)
    n = s.shape[0]
    dt = scalar_type(s.dtype)
    d = empty(s.shape, s.dtype)
    rows = empty(n, np.float64)
    _svm_kernel[launch(n)](s, y, d, rows, dt(margin), bool(squared), dt(n), dt(0), dt(1))
    return _finish(kind, n, rows, d)


def _elementwise(code, scores, targets):
    kind = result_kind(scores, targets)
    s, t = to_dev(scores), to_dev(targets)
    n = s.shape[0]
    dt = scalar_type(s.dtype)
    d = empty(s.shape, s.dtype)
    rows = empty(n, np.float64)
    _elementwise_loss_kernel[launch(n)](s, t, d, rows, code, dt(n), dt(0), dt(1))
    return _finish(kind, n, rows, d)


def sigmoid_cross_entropy(scores, targets):
    """Independent logistic classifier per attribute: L_i = Σ_j softplus(f_j) − y_ij f_j."""
    return _elementwise(0, scores, targets)


def attribute_hinge_loss(scores, targets):
    """Multi-label hinge with targets ±1: L_i = Σ_j max(0, 1 − y_ij f_j)."""
    return _elementwise(1, scores, targets)


def l2_loss(pred, target):
    """Regression: L_i = ‖f − y‖₂² (no ½); gradient 2 (f − y) / N."""
    return _elementwise(2, pred, target)


def l1_loss(pred, target):
    """Regression: L_i = Σ_j |f_j − y_j|; subgradient 0 where f = y."""
    return _elementwise(3, pred, target)
