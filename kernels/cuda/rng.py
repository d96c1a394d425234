"""Counter-based random bits on the GPU: the Numba CPU backend's Philox-4x32-10 body, compiled again.

``philox4x32`` is written once (``kernels/numba_cpu/rng.py``, integer arithmetic only) and compiled
here as a CUDA device function, so masks are bit-identical to the reference on every backend.
Element ``e`` (flat C order) is word ``e % 4`` of block ``e // 4`` with counter
``(e//4 low, e//4 high, stream, 0)`` and key ``(seed low, seed high)``.
"""

import numpy as np
from numba import cuda

from ..numba_cpu.rng import MASK32, SHIFT32, philox4x32
from ..reference.rng import keep_threshold
from ._arrays import empty, launch

_philox = cuda.jit(device=True)(getattr(philox4x32, "py_func", philox4x32))
_ZERO = np.uint64(0)


@cuda.jit(device=True)
def block_words(q, k0, k1, stream):
    """The four uint64-held words of Philox block ``q`` (int64) of (key, stream)."""
    uq = np.uint64(q)
    return _philox(uq & MASK32, uq >> SHIFT32, stream, _ZERO, k0, k1)


@cuda.jit(device=True)
def element_word(e, k0, k1, stream):
    """Word of flat element ``e`` (int64): one Philox block, one of its four words."""
    w0, w1, w2, w3 = block_words(e // 4, k0, k1, stream)
    r = e % 4
    if r == 0:
        return w0
    if r == 1:
        return w1
    if r == 2:
        return w2
    return w3


def key(seed, stream, keep_prob=None):
    """Kernel arguments for an RNG key: (k0, k1, stream) as uint64, plus the keep threshold."""
    seed = int(seed)
    words = (np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF), np.uint64(stream))
    if keep_prob is None:
        return words
    return (*words, np.uint64(keep_threshold(keep_prob)))


@cuda.jit
def _bits_kernel(out, k0, k1, stream):
    """out (n,) uint32 <- words 0 .. n-1 of (key, stream), one Philox block per thread step."""
    n = out.shape[0]
    for q in range(cuda.grid(1), (n + 3) // 4, cuda.gridsize(1)):
        w0, w1, w2, w3 = block_words(q, k0, k1, stream)
        e = 4 * q
        out[e] = np.uint32(w0)
        if e + 1 < n:
            out[e + 1] = np.uint32(w1)
        if e + 2 < n:
            out[e + 2] = np.uint32(w2)
        if e + 3 < n:
            out[e + 3] = np.uint32(w3)


def device_bits(size, seed, stream=0):
    """Device uint32 array of ``size`` words of (seed, stream)."""
    out = empty(size, np.uint32)
    if size:
        _bits_kernel[launch((size + 3) // 4)](out, *key(seed, stream))
    return out


def random_bits(shape, seed, stream=0):
    """uint32 random words of ``shape`` (a NumPy array): element e gets word e of (seed, stream)."""
    size = int(np.prod(shape, dtype=np.int64))
    return device_bits(size, seed, stream).copy_to_host().reshape(shape)
