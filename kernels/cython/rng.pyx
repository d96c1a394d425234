# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Counter-based random bits: Philox-4x32-10 from the C inline in _fastmlp.h.

Element e (flat C order) is word e % 4 of the block with counter (e // 4 low, e // 4 high,
stream, 0) and key (seed low, seed high), exactly as kernels/reference/rng.py: the same seed
gives the same bits on every backend and thread count.
"""

import numpy as np

from cython.parallel cimport prange
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

from _common cimport (FM_SEG, FM_WORDS, chunk_len, fm_fill_words, fm_have_openmp, fm_max_threads, fm_set_max_threads,
                      n_chunks, team)

include "_chunking.pxi"


cdef void _bits_range(uint32_t *out, Py_ssize_t lo, Py_ssize_t hi, uint32_t stream, uint32_t k0,
                      uint32_t k1) noexcept nogil:
    """out[lo:hi] <- words lo .. hi-1 of (key, stream), FM_SEG at a time through L1 scratch."""
    cdef uint32_t words[FM_WORDS]
    cdef Py_ssize_t s, ln
    cdef int off
    s = lo
    while s < hi:  # FM_SEG elements at a time (range() needs a literal step to stay in C)
        ln = min(<Py_ssize_t>FM_SEG, hi - s)
        off = fm_fill_words(words, s, ln, stream, k0, k1)
        memcpy(out + s, words + off, ln * sizeof(uint32_t))
        s += ln


cdef void _bits(uint32_t[::1] out, uint32_t stream, uint32_t k0, uint32_t k1) noexcept:
    """All of out, in parallel chunks (starts on FM_SEG boundaries) when large."""
    cdef Py_ssize_t n = out.shape[0], nch = n_chunks(n, 1), per, c, lo
    with nogil:
        if nch == 1:
            _bits_range(&out[0], 0, n, stream, k0, k1)
            return
        per = chunk_len(n, nch, FM_SEG)
        for c in prange(nch, schedule='static', num_threads=team(nch)):
            lo = min(n, c * per)
            _bits_range(&out[0], lo, min(n, lo + per), stream, k0, k1)


def random_bits(shape, seed, stream=0):
    """uint32 random words of the given shape: element e (flat C order) gets word e of (seed, stream)."""
    out = np.empty(shape, dtype=np.uint32)
    cdef uint64_t key = seed
    if out.size:
        _bits(out.reshape(-1), <uint32_t>stream, <uint32_t>key, <uint32_t>(key >> 32))
    return out


def _openmp_threads():
    """(built with OpenMP, threads a parallel loop of this thread would use now): for tests and info."""
    return bool(fm_have_openmp()), fm_max_threads()


def _set_openmp_threads(int n):
    """Set this thread's OpenMP limit (the parallel loops' team size), as omp_set_num_threads does."""
    fm_set_max_threads(n)
