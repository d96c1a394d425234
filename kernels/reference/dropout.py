"""Inverted dropout and DropConnect with counter-based masks, in plain NumPy."""

import numpy as np

from .rng import flat_random_bits, keep_threshold


def dropout_mask(shape, keep_prob, seed, stream=0, dtype=np.float32, start=0):
    """Inverted-dropout mask: 1/keep_prob where kept (word < threshold), 0 where dropped.

    Flat element e takes the word of flat element start + e of the (seed, stream) counter space.
    """
    size = int(np.prod(shape, dtype=np.int64))
    kept = flat_random_bits(size, seed, stream, start).astype(np.uint64) < keep_threshold(keep_prob)
    dtype = np.dtype(dtype)
    scale = dtype.type(1) / dtype.type(keep_prob)
    return np.where(kept, scale, dtype.type(0)).astype(dtype).reshape(shape)


def dropout_forward(x, keep_prob, seed, stream=0, start=0):
    """x · mask (inverted dropout: no rescaling needed at test time)."""
    return x * dropout_mask(x.shape, keep_prob, seed, stream, x.dtype, start)


def dropout_backward(dy, keep_prob, seed, stream=0, start=0):
    """dy · mask, the same mask regenerated from (seed, stream)."""
    return dy * dropout_mask(dy.shape, keep_prob, seed, stream, dy.dtype, start)


def dropconnect_forward(x, w, b, keep_prob, seed, stream=0):
    """y = x @ (w · M) + b with an inverted mask M (D, M) over the weights."""
    return x @ (w * dropout_mask(w.shape, keep_prob, seed, stream, w.dtype)) + b


def dropconnect_backward(dy, x, w, keep_prob, seed, stream=0):
    """dx = dy (w·M)ᵀ, dw = (xᵀ dy)·M, db = Σ_rows dy."""
    mask = dropout_mask(w.shape, keep_prob, seed, stream, w.dtype)
    return dy @ (w * mask).T, (x.T @ dy) * mask, dy.sum(axis=0)
