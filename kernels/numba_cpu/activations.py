"""Elementwise activations, PReLU, maxout and dead-ReLU monitoring, compiled with Numba.

The rows of kernels/activation_table.py that train most (identity, ReLU, leaky ReLU, sigmoid,
tanh) have hand-written loops here: ``act_segment`` / ``grad_segment`` run one of them over a 1-d
slice, one explicit loop per activation so every loop is branch-free and vectorises (sigmoid and
tanh through the SIMD-friendly exp of _common). Every other row runs the table's own scalar
functions (_table_loops.py); ``table_variant`` makes the copy of a kernel that calls those.
They are ordinary (cached) functions called once per chunk or segment by the parallel kernels:
Numba's compile time is mostly per function and per inlined copy (inlining all activations into
every loop made each kernel's compilation many times longer: benches/NOTES.md, 'Measurements
behind code comments': numba activations), so the vector work is compiled once per dtype and
shared. Formulas and operation order follow the reference.
"""

import math

import numpy as np
from numba import njit, prange

from ..activation_table import CODES, elementwise_ops
from ._common import ERROR_MODEL, EXP_FASTMATH, exp_neg, expm1_neg, like, n_chunks, parallel_kernel, span, variant
from ._table_loops import HAND_WRITTEN, table_forward, table_gradient_out, table_gradient_pre

IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH = (CODES[name] for name in HAND_WRITTEN)


@njit(inline="always")
def sigmoid(x, one):
    """1 / (1 + e^-x) via e^-|x| in (0, 1] (the reference's overflow-free form)."""
    z = exp_neg(-abs(x))
    return one / (one + z) if x >= 0 else z / (one + z)


@njit(inline="always")
def tanh(x, one):
    """tanh x = -m / (m + 2) with m = expm1(-2|x|): no overflow, no cancellation near 0."""
    m = expm1_neg(-(abs(x) + abs(x)))
    return math.copysign(-m / (m + (one + one)), x)


# One inlined exp per compiled function: two inline copies of the same overload in one function
# trip Numba's SSA pass (NumbaIRAssumptionWarning), so sigmoid and tanh loops live apart.
@njit(cache=True, error_model=ERROR_MODEL, fastmath=EXP_FASTMATH)
def _sigmoid_segment(src, out, bias):
    """out (n,) <- sigmoid(src + bias) (out None: in place; bias None: none)."""
    dst = src if out is None else out
    one = like(1.0, src)
    for j in range(src.shape[0]):
        dst[j] = sigmoid(src[j] if bias is None else src[j] + bias[j], one)


@njit(cache=True, error_model=ERROR_MODEL, fastmath=EXP_FASTMATH)
def _tanh_segment(src, out, bias):
    """out (n,) <- tanh(src + bias) (out None: in place; bias None: none)."""
    dst = src if out is None else out
    one = like(1.0, src)
    for j in range(src.shape[0]):
        dst[j] = tanh(src[j] if bias is None else src[j] + bias[j], one)


@njit(cache=True, error_model=ERROR_MODEL)
def act_segment(code, src, out, alpha, bias=None):
    """out (n,) <- f(src + bias) for activation ``code`` (out None: in place; bias None: none).

    In place must be asked for with None: passing src twice makes LLVM's runtime overlap check
    fail and the loop run scalar. In place without a bias, ReLU's store of an unchanged value
    becomes a branch and stays scalar (benches/NOTES.md, 'Measurements behind code comments':
    act_segment).
    """
    dst = src if out is None else out
    zero = like(0.0, src)
    alpha = like(alpha, src)
    n = src.shape[0]
    if code == RELU:
        for j in range(n):
            z = src[j] if bias is None else src[j] + bias[j]
            dst[j] = zero if z < 0 else z  # NaN passes through, as with np.maximum
    elif code == LEAKY_RELU:
        for j in range(n):
            z = src[j] if bias is None else src[j] + bias[j]
            dst[j] = z if z >= 0 else z * alpha
    elif code == SIGMOID:
        _sigmoid_segment(src, out, bias)
    elif code == TANH:
        _tanh_segment(src, out, bias)
    else:
        for j in range(n):
            dst[j] = src[j] if bias is None else src[j] + bias[j]


@njit(cache=True, error_model=ERROR_MODEL)
def grad_segment(code, g, a, out, alpha):
    """out (n,) <- g · f'(z), f'(z) from a = f(z) as the reference's activation_derivative_from_output."""
    one = like(1.0, out)
    zero = like(0.0, out)
    alpha = like(alpha, out)
    n = g.shape[0]
    if code == RELU:
        for j in range(n):
            out[j] = g[j] * (one if a[j] > 0 else zero)  # a product, as the reference: inf·0 = NaN
    elif code == LEAKY_RELU:
        for j in range(n):
            out[j] = g[j] * (one if a[j] >= 0 else alpha)
    elif code == SIGMOID:
        for j in range(n):
            out[j] = g[j] * (a[j] * (one - a[j]))
    elif code == TANH:
        for j in range(n):
            out[j] = g[j] * (one - a[j] * a[j])
    else:
        for j in range(n):
            out[j] = g[j] * one


@parallel_kernel
def _unary_kernel(code, x, out, alpha, nch):
    """out (n,) <- f(x) elementwise."""
    n = x.shape[0]
    for c in prange(nch):
        lo, hi = span(c, n, nch, 64)
        act_segment(code, x[lo:hi], out[lo:hi], alpha)


# backward codes: dx from (dy, v), v the saved forward output (the input for leaky ReLU)
B_RELU, B_LEAKY, B_SIGMOID, B_TANH = range(4)


@njit(cache=True, error_model=ERROR_MODEL)
def _binary_segment(code, dy, v, out, alpha):
    """out (n,) <- dx for backward ``code``, in the reference's operation order."""
    one = like(1.0, out)
    zero = like(0.0, out)
    alpha = like(alpha, out)
    n = dy.shape[0]
    if code == B_RELU:
        for j in range(n):
            out[j] = dy[j] if v[j] > 0 else zero
    elif code == B_LEAKY:
        for j in range(n):
            out[j] = dy[j] if v[j] >= 0 else dy[j] * alpha
    elif code == B_SIGMOID:
        for j in range(n):
            out[j] = dy[j] * v[j] * (one - v[j])
    else:
        for j in range(n):
            out[j] = dy[j] * (one - v[j] * v[j])


@parallel_kernel
def _binary_kernel(code, dy, v, out, alpha, nch):
    """out (n,) <- dx from dy and the saved forward value v."""
    n = dy.shape[0]
    for c in prange(nch):
        lo, hi = span(c, n, nch, 64)
        _binary_segment(code, dy[lo:hi], v[lo:hi], out[lo:hi], alpha)


def _source(x):
    """x as a flat array the forward loops accept. act_segment serves in-place and out-of-place
    calls with one body (``dst = src if out is None else out``), so Numba types ``src`` as written
    to: a read-only input would not compile; it is copied instead (rare: the ops door passes
    users' arrays as they are)."""
    flat = x.reshape(-1)
    return flat if x.flags.writeable else flat.copy()


def _unary(code, x, alpha=0.0, serial=act_segment, parallel=_unary_kernel):
    """f(x) elementwise: ``serial`` over the whole array, or ``parallel`` over chunks."""
    out = np.empty(x.shape, x.dtype)
    src, dst, nch = _source(x), out.reshape(-1), n_chunks(x.size)
    if nch == 1:
        serial(code, src, dst, float(alpha))
    else:
        parallel(code, src, dst, float(alpha), nch)
    return out


def _binary(code, dy, v, alpha=0.0, serial=_binary_segment, parallel=_binary_kernel):
    """dx elementwise from dy and a saved forward value v, serially or over chunks."""
    out = np.empty(dy.shape, dy.dtype)
    args = (code, dy.reshape(-1), v.reshape(-1), out.reshape(-1), float(alpha))
    nch = n_chunks(dy.size)
    if nch == 1:
        serial(*args)
    else:
        parallel(*args, nch)
    return out


def relu_forward(x):
    """max(0, x)."""
    return _unary(RELU, x)


def relu_backward(dy, y):
    """dy where the unit fired (y > 0), else 0."""
    return _binary(B_RELU, dy, y)


def leaky_relu_forward(x, alpha=0.01):
    """x if x >= 0 else alpha * x."""
    return _unary(LEAKY_RELU, x, alpha)


def leaky_relu_backward(dy, x, alpha=0.01):
    """dy if x >= 0 else alpha * dy."""
    return _binary(B_LEAKY, dy, x, alpha)


def sigmoid_forward(x):
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    return _unary(SIGMOID, x)


def sigmoid_backward(dy, y):
    """dy · σ(1 − σ), from the forward output."""
    return _binary(B_SIGMOID, dy, y)


def tanh_forward(x):
    """tanh(x), saturating to ±1 without overflow."""
    return _unary(TANH, x)


def tanh_backward(dy, y):
    """dy · (1 − tanh²), from the forward output."""
    return _binary(B_TANH, dy, y)


# ----- every other row of the activation table: the table's own loops -------------------------


def table_variant(kernel, **calls):
    """The copy of ``kernel`` (a row worker or a parallel_kernel) whose activation calls run the
    table's loops: act_segment -> table_forward, grad_segment -> table_gradient_out (f' from the
    output), grad_segment_pre -> table_gradient_pre (f' from the pre-activation); ``calls`` replace
    more (a parallel wrapper's row worker by its table copy)."""
    copy = variant(
        kernel,
        "_table",
        act_segment=table_forward,
        grad_segment=table_gradient_out,
        grad_segment_pre=table_gradient_pre,
        **calls,
    )
    if hasattr(kernel, "parallel"):
        return parallel_kernel(copy)
    return njit(cache=True, error_model=ERROR_MODEL)(copy)


_table_unary_kernel = table_variant(_unary_kernel)


# out (n,) <- dy · f'(x), x the forward input
_pre_gradient_kernel = table_variant(_binary_kernel, _binary_segment=table_gradient_pre)


def table_forward_op(code, x, alpha):
    """f(x) elementwise for a table row (any shape)."""
    return _unary(code, x, alpha, table_forward, _table_unary_kernel)


def table_backward_op(code, dy, x, alpha):
    """dy · f'(x) elementwise for a table row, from the forward input x."""
    return _binary(code, dy, x, alpha, table_gradient_pre, _pre_gradient_kernel)


globals().update(elementwise_ops(__name__, table_forward_op, table_backward_op, skip=HAND_WRITTEN))


@njit(cache=True, error_model=ERROR_MODEL)
def _prelu_rows(dy, x, alpha, out, acc, lo, hi):
    """Rows lo..hi-1. dy None: out <- x if x >= 0 else alpha_j x. Else out <- dx = dy · (alpha_j
    where x < 0 else 1) and acc (M,) float64 <- Σ dy·x over x < 0."""
    if dy is not None:
        acc[:] = 0.0
    for i in range(lo, hi):
        xr = x[i]
        orow = out[i]
        if dy is None:
            for j in range(xr.shape[0]):
                v = xr[j]
                orow[j] = v if v >= 0 else v * alpha[j]
        else:
            dr = dy[i]
            for j in range(xr.shape[0]):
                v = xr[j]
                d = dr[j]
                neg = v < 0
                orow[j] = d * alpha[j] if neg else d
                acc[j] += d * v if neg else 0.0


@parallel_kernel
def _prelu_parallel(dy, x, alpha, out, partial, nch):
    """_prelu_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, x.shape[0], nch, 1)
        _prelu_rows(dy, x, alpha, out, partial[c], lo, hi)


def _prelu(dy, x, alpha):
    out = np.empty_like(x)
    nch = n_chunks(x.shape[0], x.shape[1])
    partial = np.zeros((nch, x.shape[1] if dy is not None else 1), np.float64)
    if nch == 1:
        _prelu_rows(dy, x, alpha, out, partial[0], 0, x.shape[0])
    else:
        _prelu_parallel(dy, x, alpha, out, partial, nch)
    return out, partial


def prelu_forward(x, alpha):
    """Leaky ReLU with one learned slope per unit: x (N, M), alpha (M,)."""
    return _prelu(None, x, alpha)[0]


def prelu_backward(dy, x, alpha):
    """Returns dx and dalpha = Σ_rows dy·x over the negative part."""
    dx, partial = _prelu(dy, x, alpha)
    return dx, partial.sum(axis=0).astype(x.dtype)


@njit(cache=True, error_model=ERROR_MODEL)
def _maxout_rows(z, k, y, idx, lo, hi):
    """Rows lo..hi-1: y, idx (N, M) <- max and first argmax over the k adjacent pieces of z (N, M·k)."""
    for i in range(lo, hi):
        zr = z[i]
        yr = y[i]
        ir = idx[i]
        for j in range(yr.shape[0]):
            best = zr[j * k]
            arg = 0
            for p in range(1, k):
                v = zr[j * k + p]
                # np.argmax: a NaN counts as the maximum and the first one wins
                if best == best and (v > best or v != v):
                    best = v
                    arg = p
            yr[j] = best
            ir[j] = arg


@njit(cache=True, error_model=ERROR_MODEL)
def _unmaxout_rows(dy, idx, k, dz, lo, hi):
    """Rows lo..hi-1: dz (N, M·k) <- dy routed to the winning piece of each unit, zeros elsewhere."""
    for i in range(lo, hi):
        zr = dz[i]
        zr[:] = 0
        dr = dy[i]
        ir = idx[i]
        for j in range(dr.shape[0]):
            zr[j * k + ir[j]] = dr[j]


@parallel_kernel
def _maxout_parallel(z, k, y, idx, nch):
    """_maxout_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, z.shape[0], nch, 1)
        _maxout_rows(z, k, y, idx, lo, hi)


@parallel_kernel
def _unmaxout_parallel(dy, idx, k, dz, nch):
    """_unmaxout_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, dy.shape[0], nch, 1)
        _unmaxout_rows(dy, idx, k, dz, lo, hi)


def maxout_forward(z, k):
    """Max over k adjacent pieces: z (N, M·k) -> y (N, M), winning piece idx (N, M) int64."""
    n, mk = z.shape
    y = np.empty((n, mk // k), dtype=z.dtype)
    idx = np.empty((n, mk // k), dtype=np.int64)
    nch = n_chunks(n, mk)
    if nch == 1:
        _maxout_rows(z, k, y, idx, 0, n)
    else:
        _maxout_parallel(z, k, y, idx, nch)
    return y, idx


def maxout_backward(dy, idx, k):
    """Routes dy (N, M) to the winning piece of each unit; returns dz (N, M·k)."""
    n, m = dy.shape
    dz = np.empty((n, m * k), dtype=dy.dtype)
    nch = n_chunks(n, m * k)
    if nch == 1:
        _unmaxout_rows(dy, idx, k, dz, 0, n)
    else:
        _unmaxout_parallel(dy, idx, k, dz, nch)
    return dz


@njit(cache=True, error_model=ERROR_MODEL)
def _fired_rows(h, acc, lo, hi):
    """acc (M,) uint8 <- 1 where column j of rows lo..hi-1 of h has an entry > 0."""
    acc[:] = 0
    for i in range(lo, hi):
        row = h[i]
        for j in range(row.shape[0]):
            if row[j] > 0:
                acc[j] = 1


@parallel_kernel
def _fired_parallel(h, partial, nch):
    """_fired_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, h.shape[0], nch, 1)
        _fired_rows(h, partial[c], lo, hi)


def dead_relu_fraction(h, fired=None):
    """Fraction of units (columns of h (N, M)) that never fired (h > 0); ORs into ``fired``."""
    nch = n_chunks(h.shape[0], h.shape[1])
    partial = np.empty((nch, h.shape[1]), np.uint8)
    if nch == 1:
        _fired_rows(h, partial[0], 0, h.shape[0])
    else:
        _fired_parallel(h, partial, nch)
    batch_fired = partial.any(axis=0)
    if fired is not None:
        fired |= batch_fired
        batch_fired = fired
    return float(1.0 - batch_fired.mean()) if batch_fired.size else 0.0
