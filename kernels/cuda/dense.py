"""Dense layers on the GPU: GEMM (cuBLAS or tiled Numba) plus fused epilogues.

Forward: one pass adds the bias, applies the activation and the dropout mask (generated in
registers from the Philox key, never stored). Backward: one pass regenerates the mask, forms
dz = dout · mask · f'(from out) and the bias-gradient column partials; the GEMMs do the rest.
"""

import numpy as np
from numba import cuda

from ._arrays import deliver, deliver_all, empty, flat, launch, result_kind, scalar_type, to_dev
from ._common import (
    ACTIVATION_CODES,
    IDENTITY,
    activate,
    add_bias,
    column_sums,
    derivative,
    finish_columns,
    new_partials,
)
from ._gemm import gemm
from .rng import block_words, element_word, key


@cuda.jit
def _dense_forward_kernel(z, b, act, alpha, drop, thresh, scale, one, zero, k0, k1, stream):
    """z (flat N*M) <- f(z + b[column]) · mask, four elements (one Philox block) per step."""
    n = z.shape[0]
    m = b.shape[0]
    for q in range(cuda.grid(1), (n + 3) // 4, cuda.gridsize(1)):
        w0 = w1 = w2 = w3 = np.uint64(0)
        if drop:
            w0, w1, w2, w3 = block_words(q, k0, k1, stream)
        e0 = 4 * q
        for r in range(4):
            e = e0 + r
            if e < n:
                v = activate(z[e] + b[e % m], act, alpha, one, zero)
                if drop:
                    w = w0 if r == 0 else (w1 if r == 1 else (w2 if r == 2 else w3))
                    v = v * (scale if w < thresh else zero)
                z[e] = v


@cuda.jit
def _dense_backward_kernel(
    dout, out, dz, partial, per, act, alpha, drop, keep, thresh, scale, one, zero, k0, k1, stream
):
    """dz = dout · mask · f'(a), a = out · keep where dropout ran; partial[c, j] = Σ_chunk dz."""
    n = dout.shape[0]
    m = dout.shape[1]
    for t in range(cuda.grid(1), partial.shape[0] * m, cuda.gridsize(1)):
        c = t // m
        j = t - c * m
        acc = 0.0
        for i in range(c * per, min(n, c * per + per)):
            g = dout[i, j]
            if drop:
                w = element_word(i * m + j, k0, k1, stream)
                g = g * (scale if w < thresh else zero) * derivative(out[i, j] * keep, act, alpha, one, zero)
            else:
                g = g * derivative(out[i, j], act, alpha, one, zero)
            dz[i, j] = g
            acc += g
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
    return keep_prob < 1.0, thresh, dt(1) / dt(keep_prob), k0, k1, st


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01):
    """out = f(x @ w + b) * mask, mask the inverted-dropout mask (all ones when keep_prob = 1)."""
    kind = result_kind(x, w, b)
    x, w, b = to_dev(x), to_dev(w), to_dev(b)
    dt = scalar_type(x.dtype)
    y = empty((x.shape[0], w.shape[1]), x.dtype)
    gemm(x, w, y)
    drop, thresh, scale, k0, k1, st = _rng_args(dt, keep_prob, seed, stream)
    _dense_forward_kernel[launch((y.size + 3) // 4)](
        flat(y), b, ACTIVATION_CODES[activation], dt(alpha), drop, thresh, scale, dt(1), dt(0), k0, k1, st
    )
    return deliver(kind, y)


def dense_backward(dout, x, w, out, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01):
    """Gradients of dense_forward from its output; the dropout mask is regenerated from the seed."""
    kind = result_kind(dout, x, w, out)
    dout, x, w, out = to_dev(dout), to_dev(x), to_dev(w), to_dev(out)
    dt = scalar_type(dout.dtype)
    code = ACTIVATION_CODES[activation]
    drop, thresh, scale, k0, k1, st = _rng_args(dt, keep_prob, seed, stream)
    if code == IDENTITY and not drop:  # dz = dout: no epilogue pass at all
        dz, db = dout, column_sums(dout)
    else:
        dz = empty(dout.shape, dout.dtype)
        partial, per = new_partials(*dout.shape)
        _dense_backward_kernel[launch(partial.size)](
            dout,
            out,
            dz,
            partial,
            np.int64(per),
            code,
            dt(alpha),
            drop,
            dt(keep_prob),
            thresh,
            scale,
            dt(1),
            dt(0),
            k0,
            k1,
            st,
        )
        db = finish_columns(partial, dout.dtype)
    dx, dw = _backward_products(dz, x, w)
    return deliver_all(kind, dx, dw, db)
