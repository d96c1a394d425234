# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Inverted dropout with counter-based masks made on the fly (no mask array for apply).

Each pass regenerates the Philox words of FM_SEG elements at a time into L1 scratch and applies
them straight away; masks equal the reference's bit for bit (kernels/reference/dropout.py).
"""

import numpy as np

from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint32_t

from _common cimport (FM_SEG, FM_WORDS, MaskKey, chunk_len, floating, fm_fill_words, mask_key, mask_segment,
                      n_chunks, team)

include "_chunking.pxi"


cdef void _mask_range(const floating *x, floating *out, MaskKey key, floating scale, Py_ssize_t lo,
                      Py_ssize_t hi, int64_t start) noexcept nogil:
    """out[lo:hi] <- x · mask (x NULL: the mask); kept: scale, dropped: 0; element e takes the word
    of counter element start + e."""
    cdef uint32_t words[FM_WORDS]
    cdef Py_ssize_t s, j, ln
    cdef int off
    if key.all_kept:  # keep_prob = 1: every word passes, the mask is scale everywhere
        for j in range(lo, hi):
            out[j] = scale if x == NULL else x[j] * scale
        return
    s = lo
    while s < hi:  # FM_SEG elements at a time (range() needs a literal step to stay in C)
        ln = min(<Py_ssize_t>FM_SEG, hi - s)
        off = fm_fill_words(words, start + s, ln, key.stream, key.k0, key.k1)
        mask_segment(x + s if x != NULL else NULL, out + s, words + off, ln, key.thr, scale)
        s += ln


cdef void _masked(const floating[::1] x, floating[::1] out, MaskKey key, floating scale,
                  int64_t start) noexcept:
    """out <- x · mask over flat arrays, in parallel chunks (local starts on FM_SEG boundaries) when
    large; start offsets only the counter index."""
    cdef Py_ssize_t n = out.shape[0], nch = n_chunks(n, 1), per, c, lo
    cdef const floating *xp = &x[0] if x is not None else NULL
    with nogil:
        if nch == 1:
            _mask_range(xp, &out[0], key, scale, 0, n, start)
            return
        per = chunk_len(n, nch, FM_SEG)
        for c in prange(nch, schedule='static', num_threads=team(nch)):
            lo = min(n, c * per)
            _mask_range(xp, &out[0], key, scale, lo, min(n, lo + per), start)


def _apply(x, out, double keep_prob, seed, stream, int64_t start=0):
    """out <- x · mask(out.shape) (x None: the mask); returns out. start < 2**62: the counter offset."""
    cdef MaskKey key = mask_key(keep_prob, seed, stream)
    if out.size == 0:
        return out
    fx = None if x is None else x.reshape(-1)
    if out.dtype == np.float32:  # scale = dtype(1) / dtype(keep_prob), the reference's rounding
        _masked[float](fx, out.reshape(-1), key, (<float>1) / (<float>keep_prob), start)
    else:
        _masked[double](fx, out.reshape(-1), key, 1.0 / keep_prob, start)
    return out


def dropout_mask(shape, keep_prob, seed, stream=0, dtype=np.float32, start=0):
    """Inverted-dropout mask: 1/keep_prob where kept (word < threshold), 0 where dropped."""
    return _apply(None, np.empty(shape, dtype=np.dtype(dtype)), keep_prob, seed, stream, start)


def dropout_forward(x, keep_prob, seed, stream=0, start=0):
    """x · mask (inverted dropout: no rescaling needed at test time)."""
    return _apply(x, np.empty_like(x), keep_prob, seed, stream, start)


def dropout_backward(dy, keep_prob, seed, stream=0, start=0):
    """dy · mask, the same mask regenerated from (seed, stream)."""
    return _apply(dy, np.empty_like(dy), keep_prob, seed, stream, start)
