"""Counter-based random bits: Philox-4x32-10 (Salmon et al., SC'11), vectorised in NumPy.

Element ``e`` of a mask (flat C-order index) takes word ``e % 4`` of the Philox block with
counter ``(e // 4 low 32 bits, e // 4 high 32 bits, stream, 0)`` and key ``(seed low, seed high)``.
Every backend computes exactly this, so one seed gives bit-identical masks everywhere.
"""

import numpy as np

PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)


# shared with other kernels, not ops (kernels/_exports.py)
HELPERS = ("philox4x32", "flat_random_bits", "keep_threshold")


def philox4x32(c0, c1, c2, c3, k0, k1):
    """Ten Philox rounds on uint64 arrays holding 32-bit words; returns the four output words."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    k0 = np.uint64(k0)
    k1 = np.uint64(k1)
    for rnd in range(10):
        if rnd:  # the key is bumped before every round but the first (Random123's order)
            k0 = (k0 + PHILOX_W0) & MASK32
            k1 = (k1 + PHILOX_W1) & MASK32
        p0 = PHILOX_M0 * c0  # 32 x 32 -> 64 bits: exact in uint64
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> SHIFT32) ^ c1 ^ k0,
            p1 & MASK32,
            (p0 >> SHIFT32) ^ c3 ^ k1,
            p0 & MASK32,
        )
    return c0, c1, c2, c3


def random_bits(shape, seed, stream=0):
    """uint32 random words of the given shape: element e (flat C order) gets word e of (seed, stream)."""
    size = int(np.prod(shape, dtype=np.int64))
    return flat_random_bits(size, seed, stream).reshape(shape)


def flat_random_bits(size, seed, stream=0, start=0):
    """uint32 random words for flat element indices start .. start+size-1 of (seed, stream)."""
    start = int(start)
    first = start // 4  # the Philox block holding element `start`; it may begin mid block
    n_blocks = (start + size + 3) // 4 - first
    block = np.arange(first, first + n_blocks, dtype=np.uint64)
    seed = int(seed)
    words = philox4x32(
        block & MASK32,
        block >> SHIFT32,
        np.full(n_blocks, stream, dtype=np.uint64),
        np.zeros(n_blocks, dtype=np.uint64),
        seed & 0xFFFFFFFF,
        (seed >> 32) & 0xFFFFFFFF,
    )
    skip = start - 4 * first
    return np.stack(words, axis=1).reshape(-1)[skip : skip + size].astype(np.uint32)


def keep_threshold(keep_prob):
    """Integer threshold t: an element is kept iff its 32-bit word < t (exact on every backend)."""
    return min(int(keep_prob * 4294967296.0), 4294967296)
