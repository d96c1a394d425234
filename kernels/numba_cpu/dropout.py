"""Inverted dropout and DropConnect: masks generated in-register from the counter-based RNG.

No mask array is materialised for dropout: each pass regenerates the Philox words of SEG
elements at a time into an L1-resident scratch and applies them straight away.
"""

import numpy as np
from numba import njit, prange

from ._common import ERROR_MODEL, SEG, blas_called, like, n_chunks, parallel_kernel, span
from ._rowops import bias_add, col_sums
from .rng import fill_words, keep_threshold, word_scratch


@njit(cache=True, error_model=ERROR_MODEL)
def _mask_range(x, out, keep_prob, thr, k0, k1, stream, stage, words, lo, hi, start):
    """out[lo:hi] <- x · mask (x None: the mask itself); kept: 1/keep_prob, dropped: 0; out may be x.

    Local element e takes the word of counter element start + e (start: an int64 offset)."""
    zero = like(0.0, out)
    scale = like(1.0, out) / like(keep_prob, out)  # exactly the reference's rounding
    thr, k0, k1, stream = np.uint64(thr), np.uint64(k0), np.uint64(k1), np.uint64(stream)
    for s in range(lo, hi, SEG):
        ln = min(SEG, hi - s)
        off = fill_words(words, stage, s + start, ln, stream, k0, k1)
        w = words[off : off + ln]
        os = out[s : s + ln]
        if x is None:
            for j in range(ln):
                os[j] = scale if np.uint64(w[j]) < thr else zero
        else:
            xs = x[s : s + ln]
            for j in range(ln):
                os[j] = xs[j] * (scale if np.uint64(w[j]) < thr else zero)


@parallel_kernel
def _mask_parallel(x, out, keep_prob, thr, k0, k1, stream, stages, words, nch, start):
    """_mask_range over nch chunks (local starts aligned to SEG) in parallel; start offsets the counter only."""
    for c in prange(nch):
        lo, hi = span(c, out.shape[0], nch, SEG)
        _mask_range(x, out, keep_prob, thr, k0, k1, stream, stages[c], words[c], lo, hi, start)


def _masked(x, out, keep_prob, seed, stream, start=0):
    """out <- x · mask(out.shape) (x None: the mask); flat views; out may be x.

    Element e takes the word of counter element start + e (start < 2**62: fits the int64 index)."""
    flat = out.reshape(-1)
    xf = None if x is None else x.reshape(-1)
    nch = n_chunks(flat.size)
    stages, words = word_scratch(nch)
    seed = int(seed)
    args = (xf, flat, float(keep_prob), keep_threshold(keep_prob), seed & 0xFFFFFFFF, seed >> 32, int(stream))
    start = int(start)
    if nch == 1:
        _mask_range(*args, stages[0], words[0], 0, flat.size, start)
    else:
        _mask_parallel(*args, stages, words, nch, start)
    return out


def dropout_mask(shape, keep_prob, seed, stream=0, dtype=np.float32, start=0):
    """Inverted-dropout mask: 1/keep_prob where kept (word < threshold), 0 where dropped."""
    out = np.empty(shape, dtype=np.dtype(dtype))
    return _masked(None, out, keep_prob, seed, stream, start) if out.size else out


def dropout_forward(x, keep_prob, seed, stream=0, start=0):
    """x · mask (inverted dropout: no rescaling needed at test time)."""
    return _masked(x, np.empty_like(x), keep_prob, seed, stream, start)


def dropout_backward(dy, keep_prob, seed, stream=0, start=0):
    """dy · mask, the same mask regenerated from (seed, stream)."""
    return _masked(dy, np.empty_like(dy), keep_prob, seed, stream, start)


def dropconnect_forward(x, w, b, keep_prob, seed, stream=0):
    """y = x @ (w · M) + b with an inverted mask M (D, M) over the weights."""
    wm = _masked(w, np.empty_like(w), keep_prob, seed, stream)
    y = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)
    np.dot(x, wm, out=y)
    blas_called()
    return bias_add(y, b)


def dropconnect_backward(dy, x, w, keep_prob, seed, stream=0):
    """dx = dy (w·M)ᵀ, dw = (xᵀ dy)·M, db = Σ_rows dy."""
    wm = _masked(w, np.empty_like(w), keep_prob, seed, stream)
    dx = np.empty_like(x)
    np.dot(dy, wm.T, out=dx)
    dw = np.empty_like(w)
    np.dot(x.T, dy, out=dw)
    blas_called()
    _masked(dw, dw, keep_prob, seed, stream)  # in place: the GEMM result times the same mask
    return dx, dw, col_sums(dy)
