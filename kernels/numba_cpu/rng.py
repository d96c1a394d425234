"""Counter-based random bits: Philox-4x32-10, one scalar function shared with the CUDA backend.

Element ``e`` (flat C order) takes word ``e % 4`` of the block with counter
``(e // 4 low 32 bits, e // 4 high 32 bits, stream, 0)`` and key ``(seed low, seed high)``,
exactly as ``kernels/reference/rng.py``: same seed, same bits, on any thread count.
"""

import numpy as np
from numba import njit, prange

from .._scratch import scratch
from ._common import ERROR_MODEL, SEG, n_chunks, parallel_kernel, span

PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)


@njit(cache=True, error_model=ERROR_MODEL)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox-4x32-10 on 32-bit words held in uint64 (scalar, no arrays): returns 4 output words.

    Plain integer arithmetic only, so ``cuda.jit(device=True)(philox4x32.py_func)`` compiles
    the same body for the GPU.
    """
    c0 = np.uint64(c0) & MASK32
    c1 = np.uint64(c1) & MASK32
    c2 = np.uint64(c2) & MASK32
    c3 = np.uint64(c3) & MASK32
    k0 = np.uint64(k0) & MASK32
    k1 = np.uint64(k1) & MASK32
    for rnd in range(10):
        if rnd > 0:  # the key is bumped before every round but the first (Random123's order)
            k0 = (k0 + PHILOX_W0) & MASK32
            k1 = (k1 + PHILOX_W1) & MASK32
        p0 = PHILOX_M0 * c0  # 32 x 32 -> 64 bits: exact in uint64
        p1 = PHILOX_M1 * c2
        n0 = (p1 >> SHIFT32) ^ c1 ^ k0
        n2 = (p0 >> SHIFT32) ^ c3 ^ k1
        c1 = p1 & MASK32
        c3 = p0 & MASK32
        c0 = n0
        c2 = n2
    return c0, c1, c2, c3


# The same body inlined at Numba-IR level: a plain call is not inlined by LLVM and blocks the
# vectorisation of fill_words (benches/NOTES.md, 'Measurements behind code comments': _philox_inline).
_philox_inline = njit(inline="always")(getattr(philox4x32, "py_func", philox4x32))  # plain under DISABLE_JIT


def keep_threshold(keep_prob):
    """Integer threshold t: an element is kept iff its 32-bit word < t (exactly the reference's)."""
    return min(int(keep_prob * 4294967296.0), 4294967296)


def word_scratch(nch):
    """Per-chunk scratch for :func:`fill_words`: (staging (nch, 4, SEG/4+2), words (nch, SEG+8)),
    reused per thread (see _scratch)."""
    return scratch("rng-stage", (nch, 4, SEG // 4 + 2), np.uint32), scratch("rng-words", (nch, SEG + 8), np.uint32)


@njit(cache=True, error_model=ERROR_MODEL)
def fill_words(words, stage, e_lo, length, stream, k0, k1):
    """words[off : off+length] <- words of flat elements e_lo .. e_lo+length-1 (length <= SEG); returns off."""
    q0 = e_lo >> 2
    nb = ((e_lo + length + 3) >> 2) - q0
    s0 = stage[0]
    s1 = stage[1]
    s2 = stage[2]
    s3 = stage[3]
    zero = np.uint64(0)
    for b in range(nb):  # one word per array: this loop vectorises (see _common.SEG)
        q = np.uint64(q0 + b)
        w0, w1, w2, w3 = _philox_inline(q & MASK32, q >> SHIFT32, stream, zero, k0, k1)
        s0[b] = np.uint32(w0)
        s1[b] = np.uint32(w1)
        s2[b] = np.uint32(w2)
        s3[b] = np.uint32(w3)
    for b in range(nb):
        words[4 * b] = s0[b]
        words[4 * b + 1] = s1[b]
        words[4 * b + 2] = s2[b]
        words[4 * b + 3] = s3[b]
    return e_lo & 3


@njit(cache=True, error_model=ERROR_MODEL)
def _bits_range(out, k0, k1, stream, stage, words, lo, hi):
    """out[lo:hi] (uint32) <- words lo .. hi-1 of (key, stream)."""
    k0, k1, stream = np.uint64(k0), np.uint64(k1), np.uint64(stream)
    for s in range(lo, hi, SEG):
        ln = min(SEG, hi - s)
        off = fill_words(words, stage, s, ln, stream, k0, k1)
        seg = out[s : s + ln]
        w = words[off : off + ln]
        for j in range(ln):
            seg[j] = w[j]


@parallel_kernel
def _bits_parallel(out, k0, k1, stream, stages, words, nch):
    """_bits_range over nch chunks (starts aligned to SEG) in parallel."""
    for c in prange(nch):
        lo, hi = span(c, out.shape[0], nch, SEG)
        _bits_range(out, k0, k1, stream, stages[c], words[c], lo, hi)


def random_bits(shape, seed, stream=0):
    """uint32 random words of ``shape``: element e (flat C order) gets word e of (seed, stream)."""
    out = np.empty(shape, dtype=np.uint32)
    if out.size:
        flat = out.reshape(-1)
        seed = int(seed)
        nch = n_chunks(out.size)
        stages, words = word_scratch(nch)
        args = (flat, seed & 0xFFFFFFFF, seed >> 32, int(stream))
        if nch == 1:
            _bits_range(*args, stages[0], words[0], 0, flat.size)
        else:
            _bits_parallel(*args, stages, words, nch)
    return out
