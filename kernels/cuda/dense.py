"""Dense layers on the GPU: GEMM (cuBLAS or tiled Numba) plus fused epilogues.

Forward: one pass adds the bias, stores the pre-activation z when asked, applies the activation
and the dropout mask (generated in registers from the Philox key, never stored). Backward: one
pass regenerates the mask, forms dz = dout · mask · f'(z) and the bias-gradient column partials;
the GEMMs do the rest. f' comes from the output where the activation allows it (the table's
``from_output``), else from the saved pre-activation.
"""

import numpy as np
from numba import cuda

from ..activation_table import BY_NAME, CODES
from ._arrays import deliver, deliver_all, empty, flat, launch, result_kind, scalar_type, to_dev, write_back
from ._common import (
    activate,
    add_bias,
    column_sums,
    derivative,
    derivative_pre,
    finish_columns,
    new_partials,
)
from ._gemm import gemm
from .rng import block_words, element_word, key


@cuda.jit
def _dense_forward_kernel(y, b, pre, save_pre, act, alpha, drop, thresh, scale, k0, k1, stream):
    """y (flat N*M) <- f(z) · mask with z = y + b[column], four elements (one Philox block) per
    step; pre (flat N*M) <- z when save_pre (z rounds to y's dtype first, as the reference's does)."""
    n = y.shape[0]
    m = b.shape[0]
    for q in range(cuda.grid(1), (n + 3) // 4, cuda.gridsize(1)):
        w0 = w1 = w2 = w3 = np.uint64(0)
        if drop:
            w0, w1, w2, w3 = block_words(q, k0, k1, stream)
        e0 = 4 * q
        for r in range(4):
            e = e0 + r
            if e < n:
                z = y[e] + b[e % m]
                if save_pre:
                    pre[e] = z
                v = activate(z, act, alpha)
                if drop:
                    w = w0 if r == 0 else (w1 if r == 1 else (w2 if r == 2 else w3))
                    v = v * (scale if w < thresh else 0.0)
                y[e] = v


@cuda.jit
def _dense_backward_kernel(dout, v, dz, partial, per, act, alpha, from_pre, drop, keep, thresh, scale, k0, k1, stream):
    """dz = dout · mask · f'(z), f' from v: the pre-activation z (from_pre) or the output (a =
    out · keep where dropout ran); partial[c, j] = Σ_chunk dz, of dz as stored (rounded)."""
    n = dout.shape[0]
    m = dout.shape[1]
    for t in range(cuda.grid(1), partial.shape[0] * m, cuda.gridsize(1)):
        c = t // m
        j = t - c * m
        acc = 0.0
        for i in range(c * per, min(n, c * per + per)):
            g = float(dout[i, j])
            u = v[i, j]
            if drop:
                w = element_word(i * m + j, k0, k1, stream)
                g = g * (scale if w < thresh else 0.0)
                if not from_pre:
                    u = u * keep  # in the dtype, as the reference rounds a
            dz[i, j] = g * (derivative_pre(u, act, alpha) if from_pre else derivative(u, act, alpha))
            acc += dz[i, j]
        partial[c, j] = acc


def affine_forward(x, w, b):
    """y = x @ w + b."""
    kind = result_kind(x, w, b)
    x, w, b = to_dev(x), to_dev(w), to_dev(b)
    y = empty((x.shape[0], w.shape[1]), x.dtype)
    gemm(x, w, y)
    return deliver(kind, add_bias(y, b))


def _backward_products(dz, x, w):
    dx = empty(x.shape, x.dtype)
    dw = empty(w.shape, w.dtype)
    gemm(dz, w, dx, trans_b=True)
    gemm(x, dz, dw, trans_a=True)
    return dx, dw


def affine_backward(dy, x, w):
    """Gradients of y = x @ w + b: dx = dy wᵀ, dw = xᵀ dy, db = Σ_rows dy."""
    kind = result_kind(dy, x, w)
    dy, x, w = to_dev(dy), to_dev(x), to_dev(w)
    dx, dw = _backward_products(dy, x, w)
    return deliver_all(kind, dx, dw, column_sums(dy))


def _rng_args(dt, keep_prob, seed, stream):
    k0, k1, st, thresh = key(seed, stream, keep_prob)
    return keep_prob < 1.0, thresh, float(dt(1) / dt(keep_prob)), k0, k1, st


def _pre_target(pre, like):
    """Where the forward kernel stores z: ``pre`` itself when it is device memory, else a device
    buffer copied into the host array after. ``like`` stands in when no z is wanted (never written)."""
    if pre is None:
        return like
    if isinstance(pre, np.ndarray):
        return empty(pre.shape, like.dtype)
    return to_dev(pre)


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, pre=None):
    """out = f(x @ w + b) * mask, mask the inverted-dropout mask (all ones when keep_prob = 1).

    ``pre`` (N, M) of x's dtype, host or device, when given receives the pre-activation
    z = x @ w + b: the backward of an activation whose output does not give f' needs it.
    """
    kind = result_kind(x, w, b)
    x, w, b = to_dev(x), to_dev(w), to_dev(b)
    dt = scalar_type(x.dtype)
    y = empty((x.shape[0], w.shape[1]), x.dtype)
    gemm(x, w, y)
    z = _pre_target(pre, y)
    drop, thresh, scale, k0, k1, st = _rng_args(dt, keep_prob, seed, stream)
    _dense_forward_kernel[launch((y.size + 3) // 4)](
        flat(y), b, flat(z), pre is not None, CODES[activation], dt(alpha), drop, thresh, scale, k0, k1, st
    )
    if isinstance(pre, np.ndarray):
        write_back(pre, z)
    return deliver(kind, y)


def dense_backward(dout, x, w, out, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, pre=None):
    """Gradients of dense_forward; the dropout mask is regenerated from the seed. f'(z) comes from
    ``out`` where the activation's output gives it, else from ``pre``, the forward's pre-activation."""
    kind = result_kind(dout, x, w, out)
    dout, x, w, out = to_dev(dout), to_dev(x), to_dev(w), to_dev(out)
    dt = scalar_type(dout.dtype)
    code = CODES[activation]
    from_pre = not BY_NAME[activation].from_output
    drop, thresh, scale, k0, k1, st = _rng_args(dt, keep_prob, seed, stream)
    if code == CODES["identity"] and not drop:  # dz = dout: no epilogue pass at all
        dz, db = dout, column_sums(dout)
    else:
        dz = empty(dout.shape, dout.dtype)
        partial, per = new_partials(*dout.shape)
        _dense_backward_kernel[launch(partial.size)](
            dout,
            to_dev(pre) if from_pre else out,
            dz,
            partial,
            np.int64(per),
            code,
            dt(alpha),
            from_pre,
            drop,
            dt(keep_prob),
            thresh,
            scale,
            k0,
            k1,
            st,
        )
        db = finish_columns(partial, dout.dtype)
    dx, dw = _backward_products(dz, x, w)
    return deliver_all(kind, dx, dw, db)
