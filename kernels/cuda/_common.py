"""Pieces the CUDA kernels share: activation device functions, bias epilogue, column sums.

Column sums are deterministic two-phase reductions (no atomics): threads own (row chunk, column)
pairs and write float64 partials, then one thread per column adds its chunks in order. The chunk
count depends on the shape only, so a sum rounds the same on every launch configuration.
"""

import math

import numpy as np
from numba import cuda

from ._arrays import empty, flat, launch

IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH = 0, 1, 2, 3, 4
ACTIVATION_CODES = {"identity": IDENTITY, "relu": RELU, "leaky_relu": LEAKY_RELU, "sigmoid": SIGMOID, "tanh": TANH}

# Threads a column reduction aims for: (row chunks x columns) >= this keeps an H100's 132 SMs busy
# (~250 threads each) while chunks stay long enough to amortise the partials' second pass.
COLUMN_PARALLELISM = 32768


@cuda.jit(device=True)
def activate(v, act, alpha, one, zero):
    """f(v) for activation code ``act``; sigmoid via e^-|v| so it never overflows."""
    if act == RELU:
        return zero if v < zero else v  # like np.maximum: NaN stays NaN
    if act == LEAKY_RELU:
        return v if v >= zero else v * alpha
    if act == SIGMOID:
        z = math.exp(-abs(v))
        return one / (one + z) if v >= zero else z / (one + z)
    if act == TANH:
        return math.tanh(v)
    return v


@cuda.jit(device=True)
def derivative(a, act, alpha, one, zero):
    """f'(z) from the output a = f(z) (alpha > 0 keeps sign(a) = sign(z) for leaky ReLU)."""
    if act == RELU:
        return one if a > zero else zero
    if act == LEAKY_RELU:
        return one if a >= zero else alpha
    if act == SIGMOID:
        return a * (one - a)
    if act == TANH:
        return one - a * a
    return one


@cuda.jit
def _bias_kernel(y, b):
    """y (flat N*M) += b[column]."""
    m = b.shape[0]
    for e in range(cuda.grid(1), y.shape[0], cuda.gridsize(1)):
        y[e] += b[e % m]


def chunks(n_rows, n_cols):
    """(number of row chunks, rows per chunk) for a column reduction over an (n_rows, n_cols) array."""
    want = max(1, min(n_rows, -(-COLUMN_PARALLELISM // max(1, n_cols))))
    per = -(-n_rows // want)
    return -(-n_rows // per), per


@cuda.jit
def _colsum_partial_kernel(a, partial, per):
    """partial[c, j] = Σ a[i, j] over the rows i of chunk c (float64)."""
    n = a.shape[0]
    m = a.shape[1]
    for t in range(cuda.grid(1), partial.shape[0] * m, cuda.gridsize(1)):
        c = t // m
        j = t - c * m
        acc = 0.0
        for i in range(c * per, min(n, c * per + per)):
            acc += a[i, j]
        partial[c, j] = acc


@cuda.jit
def _colsum_final_kernel(partial, out):
    """out[j] = Σ_c partial[c, j], the chunks in order (cast to out's dtype on the store)."""
    for j in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        acc = 0.0
        for c in range(partial.shape[0]):
            acc += partial[c, j]
        out[j] = acc


def new_partials(n_rows, n_cols):
    """(float64 partials (chunks, n_cols), rows per chunk) for a column reduction."""
    nch, per = chunks(n_rows, n_cols)
    return empty((nch, n_cols), np.float64), per


def finish_columns(partial, dtype):
    """Column totals (n_cols,) of ``dtype`` from the partials."""
    out = empty(partial.shape[1], dtype)
    _colsum_final_kernel[launch(out.size)](partial, out)
    return out


def column_sums(a):
    """Σ_rows of a 2-D device array, (M,) in its dtype; float64 accumulation."""
    partial, per = new_partials(*a.shape)
    _colsum_partial_kernel[launch(partial.size)](a, partial, np.int64(per))
    return finish_columns(partial, a.dtype)


def add_bias(y, b):
    """y += b per column, in place (the affine epilogue)."""
    _bias_kernel[launch(y.size)](flat(y), b)
    return y
