"""Dense (fully connected) layers in plain NumPy: the oracle for every backend.

Batch = rows: x (N, D), w (D, M), b (M,), y (N, M).
"""

import numpy as np

from .activations import ACTIVATION_FORWARD, activation_derivative_from_output
from .dropout import dropout_mask


def affine_forward(x, w, b, out=None):
    """y = x @ w + b (written into ``out`` when given)."""
    if out is None:
        return x @ w + b
    np.matmul(x, w, out=out)
    out += b
    return out


def affine_backward(dy, x, w, need_dx=True, grads=None):
    """Gradients of y = x @ w + b: dx = dy wᵀ (None unless need_dx), dw = xᵀ dy, db = Σ_rows dy.

    ``grads`` = (dx, dw, db) buffers to write into (dx may be None when not needed).
    """
    if grads is None:
        return (dy @ w.T if need_dx else None), x.T @ dy, dy.sum(axis=0)
    dx, dw, db = grads
    if need_dx:
        np.matmul(dy, w.T, out=dx)
    np.matmul(x.T, dy, out=dw)
    np.sum(dy, axis=0, out=db)
    return (dx if need_dx else None), dw, db


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, out=None):
    """out = f(x @ w + b) * mask, mask the inverted-dropout mask (all ones when keep_prob = 1)."""
    a = ACTIVATION_FORWARD[activation](x @ w + b, alpha)
    if keep_prob < 1.0:
        a = a * dropout_mask(a.shape, keep_prob, seed, stream, a.dtype)
    if out is not None:
        out[...] = a
        return out
    return a


def dense_backward(
    dout, x, w, out, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, need_dx=True, grads=None
):
    """Gradients of dense_forward given its output; the dropout mask is regenerated from the seed.

    Where a unit was kept, its activation is out * keep_prob, from which f'(z) follows
    (relu: a > 0; leaky: 1 if a >= 0 else alpha; sigmoid: a(1 - a); tanh: 1 - a²).
    """
    if keep_prob < 1.0:
        mask = dropout_mask(out.shape, keep_prob, seed, stream, out.dtype)
        a = out * out.dtype.type(keep_prob)
        dz = dout * mask * activation_derivative_from_output(activation, a, alpha)
    else:
        dz = dout * activation_derivative_from_output(activation, out, alpha)
    return affine_backward(dz, x, w, need_dx, grads)
