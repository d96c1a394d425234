"""Dense (fully connected) layers in plain NumPy: the oracle for every backend.

Batch = rows: x (N, D), w (D, M), b (M,), y (N, M).
"""

import numpy as np

from ..activation_table import BY_NAME
from .activations import _activation_forward, _activation_gradient, _derivative_from_output
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


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, out=None, pre=None):
    """out = f(x @ w + b) * mask, mask the inverted-dropout mask (all ones when keep_prob = 1).

    ``pre`` (N, M), when given, receives the pre-activation z = x @ w + b: the backward of an
    activation whose f' its output does not give (activation_table: from_output False) needs it.
    """
    z = x @ w + b
    if pre is not None:
        pre[...] = z
    a = _activation_forward(activation, z, alpha)
    if keep_prob < 1.0:
        a = a * dropout_mask(a.shape, keep_prob, seed, stream, a.dtype)
    if out is not None:
        out[...] = a
        return out
    return a


def dense_backward(
    dout,
    x,
    w,
    out,
    activation="relu",
    keep_prob=1.0,
    seed=0,
    stream=0,
    alpha=0.01,
    need_dx=True,
    grads=None,
    pre=None,
):
    """Gradients of dense_forward given its output; the dropout mask is regenerated from the seed.

    dz = dout · mask · f'(z). Where the activation's output gives f' (relu: a > 0; leaky: 1 if
    a >= 0 else alpha; sigmoid: a(1 - a); tanh: 1 - a²; elu: 1 if a > 0 else a + alpha), a is
    recovered from ``out`` (a = out · keep_prob where the unit was kept); otherwise f'(z) comes
    from the saved pre-activation ``pre``.
    """
    g = dout
    if keep_prob < 1.0:
        g = dout * dropout_mask(out.shape, keep_prob, seed, stream, out.dtype)
    if not BY_NAME[activation].from_output:
        dz = _activation_gradient(activation, g, pre, alpha)
    elif keep_prob < 1.0:
        dz = g * _derivative_from_output(activation, out * out.dtype.type(keep_prob), alpha)
    else:
        dz = g * _derivative_from_output(activation, out, alpha)
    return affine_backward(dz, x, w, need_dx, grads)
