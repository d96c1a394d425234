"""Elementwise activations, PReLU, maxout and dead-ReLU monitoring on the GPU.

ReLU, leaky ReLU, sigmoid and tanh keep their own ops below (their backward takes the output,
leaky ReLU's the input, each in the reference's formula). Every other row of
kernels/activation_table.py gets ``<name>_forward(x[, alpha])`` and ``<name>_backward(dy, x[,
alpha])`` generated from the table (``TABLE_OPS``), all run by one kernel pair switching on the
row's code.
"""

import numpy as np
from numba import cuda

from ..activation_table import CODES, elementwise_ops
from ._arrays import deliver, deliver_all, empty, flat, launch, result_kind, scalar_type, to_dev
from ._common import activate, derivative_pre, finish_columns, new_partials

HAND_WRITTEN = ("relu", "leaky_relu", "sigmoid", "tanh")
RELU, LEAKY_RELU, SIGMOID, TANH = (CODES[name] for name in HAND_WRITTEN)

# backward formulas of _grad_kernel
_RELU_GRAD, _LEAKY_GRAD, _SIGMOID_GRAD, _TANH_GRAD = 1, 2, 3, 4


@cuda.jit
def _forward_kernel(x, y, act, alpha):
    """y = f(x) elementwise (flat arrays)."""
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        y[i] = activate(x[i], act, alpha)


@cuda.jit
def _pre_gradient_kernel(dy, x, dx, act, alpha):
    """dx = dy · f'(x) elementwise, x the forward input (flat arrays)."""
    for i in range(cuda.grid(1), dy.shape[0], cuda.gridsize(1)):
        dx[i] = float(dy[i]) * derivative_pre(x[i], act, alpha)


@cuda.jit
def _grad_kernel(dy, v, dx, op, alpha, one, zero):
    """dx = dy · f'(.) from v: the output y (relu, sigmoid, tanh) or the input x (leaky)."""
    for i in range(cuda.grid(1), dy.shape[0], cuda.gridsize(1)):
        g = dy[i]
        u = v[i]
        if op == _RELU_GRAD:
            dx[i] = g if u > zero else zero
        elif op == _LEAKY_GRAD:
            dx[i] = g if u >= zero else g * alpha
        elif op == _SIGMOID_GRAD:
            dx[i] = g * u * (one - u)
        else:
            dx[i] = g * (one - u * u)


def _forward(x, act, alpha=0.01):
    kind = result_kind(x)
    x = to_dev(x)
    y = empty(x.shape, x.dtype)
    _forward_kernel[launch(x.size)](flat(x), flat(y), act, scalar_type(x.dtype)(alpha))
    return deliver(kind, y)


def _backward(dy, v, op, alpha=0.01):
    kind = result_kind(dy, v)
    dy, v = to_dev(dy), to_dev(v)
    dt = scalar_type(dy.dtype)
    dx = empty(dy.shape, dy.dtype)
    _grad_kernel[launch(dy.size)](flat(dy), flat(v), flat(dx), op, dt(alpha), dt(1), dt(0))
    return deliver(kind, dx)


def _table_forward(code, x, alpha):
    """f(x) elementwise for the table row ``code`` (any shape)."""
    return _forward(x, code, alpha)


def _table_backward(code, dy, x, alpha):
    """dy · f'(x) elementwise for the table row ``code``, x the forward input (any shape)."""
    kind = result_kind(dy, x)
    dy, x = to_dev(dy), to_dev(x)
    dx = empty(dy.shape, dy.dtype)
    _pre_gradient_kernel[launch(dy.size)](flat(dy), flat(x), flat(dx), code, scalar_type(dy.dtype)(alpha))
    return deliver(kind, dx)


TABLE_OPS = elementwise_ops(__name__, _table_forward, _table_backward, skip=HAND_WRITTEN)
globals().update(TABLE_OPS)


def relu_forward(x):
    """max(0, x)."""
    return _forward(x, RELU)


def relu_backward(dy, y):
    """dy where the unit fired (y > 0), else 0."""
    return _backward(dy, y, _RELU_GRAD)


def leaky_relu_forward(x, alpha=0.01):
    """x if x >= 0 else alpha * x."""
    return _forward(x, LEAKY_RELU, alpha)


def leaky_relu_backward(dy, x, alpha=0.01):
    """dy if x >= 0 else alpha * dy."""
    return _backward(dy, x, _LEAKY_GRAD, alpha)


def sigmoid_forward(x):
    """1 / (1 + e^-x), stable for large |x|."""
    return _forward(x, SIGMOID)


def sigmoid_backward(dy, y):
    """dy · σ(1 − σ), from the forward output."""
    return _backward(dy, y, _SIGMOID_GRAD)


def tanh_forward(x):
    """tanh(x)."""
    return _forward(x, TANH)


def tanh_backward(dy, y):
    """dy · (1 − tanh²), from the forward output."""
    return _backward(dy, y, _TANH_GRAD)


@cuda.jit
def _prelu_forward_kernel(x, alpha, y, zero):
    """y = x if x >= 0 else alpha[column] · x (flat x, y)."""
    m = alpha.shape[0]
    for e in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        v = x[e]
        y[e] = v if v >= zero else v * alpha[e % m]


@cuda.jit
def _prelu_backward_kernel(dy, x, alpha, dx, partial, per, zero):
    """dx = dy·alpha on the negative part, else dy; partial[c, j] = Σ_chunk dy·x over x < 0."""
    n = x.shape[0]
    m = x.shape[1]
    for t in range(cuda.grid(1), partial.shape[0] * m, cuda.gridsize(1)):
        c = t // m
        j = t - c * m
        a = alpha[j]
        acc = 0.0
        for i in range(c * per, min(n, c * per + per)):
            g = dy[i, j]
            v = x[i, j]
            if v < zero:
                dx[i, j] = g * a
                acc += g * v
            else:
                dx[i, j] = g
        partial[c, j] = acc


def prelu_forward(x, alpha):
    """Leaky ReLU with one learned slope per unit: x (N, M), alpha (M,)."""
    kind = result_kind(x, alpha)
    x, alpha = to_dev(x), to_dev(alpha)
    y = empty(x.shape, x.dtype)
    _prelu_forward_kernel[launch(x.size)](flat(x), alpha, flat(y), x.dtype.type(0))
    return deliver(kind, y)


def prelu_backward(dy, x, alpha):
    """dx and dalpha = Σ_rows dy·x over the negative part, fused in one pass."""
    kind = result_kind(dy, x, alpha)
    dy, x, alpha = to_dev(dy), to_dev(x), to_dev(alpha)
    dx = empty(x.shape, x.dtype)
    partial, per = new_partials(*x.shape)
    _prelu_backward_kernel[launch(partial.size)](dy, x, alpha, dx, partial, np.int64(per), x.dtype.type(0))
    return deliver_all(kind, dx, finish_columns(partial, x.dtype))


@cuda.jit
def _maxout_forward_kernel(z, k, y, idx):
    """y[i, j] = max_p z[i, j·k + p], idx the first winning p (NaN wins, like np.argmax)."""
    m = y.shape[1]
    for t in range(cuda.grid(1), y.shape[0] * m, cuda.gridsize(1)):
        i = t // m
        j = t - i * m
        base = j * k
        best = z[i, base]
        win = 0
        for p in range(1, k):
            v = z[i, base + p]
            if v > best or (v != v and best == best):
                best = v
                win = p
        y[i, j] = best
        idx[i, j] = win


@cuda.jit
def _maxout_backward_kernel(dy, idx, k, dz, zero):
    """dz[i, j·k + p] = dy[i, j] if p is the winner else 0 (every entry written: no zero fill)."""
    m = dy.shape[1]
    for t in range(cuda.grid(1), dy.shape[0] * m, cuda.gridsize(1)):
        i = t // m
        j = t - i * m
        win = idx[i, j]
        for p in range(k):
            dz[i, j * k + p] = dy[i, j] if p == win else zero


def maxout_forward(z, k):
    """Max over k adjacent pieces: z (N, M·k) → y (N, M) and the winning piece (int64)."""
    kind = result_kind(z)
    z = to_dev(z)
    n, mk = z.shape
    y = empty((n, mk // k), z.dtype)
    idx = empty((n, mk // k), np.int64)
    _maxout_forward_kernel[launch(y.size)](z, np.int64(k), y, idx)
    return deliver_all(kind, y, idx)


def maxout_backward(dy, idx, k):
    """Routes dy (N, M) to the winning piece of each unit; returns dz (N, M·k)."""
    kind = result_kind(dy, idx)
    dy, idx = to_dev(dy), to_dev(idx)
    n, m = dy.shape
    dz = empty((n, m * k), dy.dtype)
    _maxout_backward_kernel[launch(dy.size)](dy, idx, np.int64(k), dz, dy.dtype.type(0))
    return deliver(kind, dz)


@cuda.jit
def _fired_kernel(h, fired, accumulate):
    """fired[j] = (accumulate and fired[j]) or any_i h[i, j] > 0 (stops at the first firing row)."""
    n = h.shape[0]
    for j in range(cuda.grid(1), h.shape[1], cuda.gridsize(1)):
        hit = accumulate and fired[j]
        i = 0
        while not hit and i < n:
            hit = h[i, j] > 0
            i += 1
        fired[j] = hit


def dead_relu_fraction(h, fired=None):
    """Fraction of units (columns of h (N, M)) that never fired (h > 0), ``fired`` OR-ed in place."""
    h = to_dev(h)
    m = h.shape[1]
    if fired is None or isinstance(fired, np.ndarray):
        batch = empty(m, np.bool_)
        _fired_kernel[launch(m)](h, batch, False)
        seen = batch.copy_to_host()
        if fired is not None:
            fired |= seen
            seen = fired
    else:  # a device array: updated there, only the M flags come back to count
        dev = to_dev(fired)
        _fired_kernel[launch(m)](h, dev, True)
        seen = dev.copy_to_host()
    return float(1.0 - seen.mean()) if seen.size else 0.0
