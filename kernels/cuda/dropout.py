"""Inverted dropout and DropConnect on the GPU; masks regenerated in-register from (seed, stream)."""

import numpy as np
from numba import cuda

from ._arrays import deliver, deliver_all, empty, flat, launch, result_kind, to_dev
from ._common import add_bias, column_sums
from ._gemm import gemm
from .rng import block_words, key


@cuda.jit
def _mask_kernel(x, out, use_x, thresh, scale, zero, k0, k1, stream, start):
    """out = (x if use_x else 1) * (scale if word < thresh else 0), one Philox block per step.

    Local element i takes the word of counter element start + i (start: int64 >= 0): blocks
    start//4 .. (start+n+3)//4 - 1, word r of block q landing at local 4q + r - start."""
    n = out.shape[0]
    for q in range(start // 4 + cuda.grid(1), (start + n + 3) // 4, cuda.gridsize(1)):
        w0, w1, w2, w3 = block_words(q, k0, k1, stream)
        e = 4 * q - start
        for r in range(4):
            if e + r >= 0 and e + r < n:
                w = w0 if r == 0 else (w1 if r == 1 else (w2 if r == 2 else w3))
                m = scale if w < thresh else zero
                out[e + r] = x[e + r] * m if use_x else m


def _apply_mask(x, out, keep_prob, seed, stream, start=0):
    """out = x · mask (the mask alone when x is None); out may be x itself; start offsets the counter."""
    dt = out.dtype.type
    k0, k1, st, thresh = key(seed, stream, keep_prob)
    scale = dt(1) / dt(keep_prob)  # exactly the reference's dtype(1) / dtype(keep_prob)
    n = out.size
    if n:
        src = flat(x) if x is not None else flat(out)
        start = int(start)
        blocks = (start + n + 3) // 4 - start // 4
        args = (src, flat(out), x is not None, thresh, scale, dt(0), k0, k1, st, np.int64(start))
        _mask_kernel[launch(blocks)](*args)
    return out


def device_mask(shape, keep_prob, seed, stream, dtype, start=0):
    """Device inverted-dropout mask of ``shape``: 1/keep_prob where kept, 0 where dropped."""
    return _apply_mask(None, empty(shape, np.dtype(dtype)), keep_prob, seed, stream, start)


def dropout_mask(shape, keep_prob, seed, stream=0, dtype=np.float32, start=0):
    """Inverted-dropout mask (a NumPy array): 1/keep_prob where word < threshold, else 0."""
    return device_mask(tuple(shape), keep_prob, seed, stream, dtype, start).copy_to_host()


def dropout_forward(x, keep_prob, seed, stream=0, start=0):
    """x · mask (inverted dropout), the mask generated in-register."""
    kind = result_kind(x)
    x = to_dev(x)
    return deliver(kind, _apply_mask(x, empty(x.shape, x.dtype), keep_prob, seed, stream, start))


def dropout_backward(dy, keep_prob, seed, stream=0, start=0):
    """dy · mask, the same mask regenerated from (seed, stream)."""
    return dropout_forward(dy, keep_prob, seed, stream, start)


def _masked_weights(w, keep_prob, seed, stream):
    return _apply_mask(w, empty(w.shape, w.dtype), keep_prob, seed, stream)


def dropconnect_forward(x, w, b, keep_prob, seed, stream=0):
    """y = x @ (w · M) + b with an inverted mask M over the weights (D, M)."""
    kind = result_kind(x, w, b)
    x, w, b = to_dev(x), to_dev(w), to_dev(b)
    y = empty((x.shape[0], w.shape[1]), x.dtype)
    gemm(x, _masked_weights(w, keep_prob, seed, stream), y)
    return deliver(kind, add_bias(y, b))


def dropconnect_backward(dy, x, w, keep_prob, seed, stream=0):
    """dx = dy (w·M)ᵀ, dw = (xᵀ dy)·M, db = Σ_rows dy."""
    kind = result_kind(dy, x, w)
    dy, x, w = to_dev(dy), to_dev(x), to_dev(w)
    dx = empty(x.shape, x.dtype)
    gemm(dy, _masked_weights(w, keep_prob, seed, stream), dx, trans_b=True)
    dw_raw = empty(w.shape, w.dtype)
    gemm(x, dy, dw_raw, trans_a=True)
    dw = _apply_mask(dw_raw, dw_raw, keep_prob, seed, stream)  # in place: same element, same word
    return deliver_all(kind, dx, dw, column_sums(dy))
