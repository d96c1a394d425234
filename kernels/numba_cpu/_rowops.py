"""Row-batch helpers shared by the dense, dropout and activation drivers: bias add, column sums.

Column reductions split the rows into chunks (a count that depends on the size only), sum each
chunk into its own float64 row of a partial buffer, then add the partial rows in chunk order: no
atomics, and the same bits for any thread count.
"""

import numpy as np
from numba import njit, prange

from .._scratch import scratch
from ._common import ERROR_MODEL, n_chunks, parallel_kernel, span


@njit(cache=True, error_model=ERROR_MODEL)
def _bias_rows(y, b, lo, hi):
    """y[lo:hi] (rows of (N, M)) += b (M,)."""
    for i in range(lo, hi):
        row = y[i]
        for j in range(row.shape[0]):
            row[j] = row[j] + b[j]


@parallel_kernel
def _bias_parallel(y, b, nch):
    """_bias_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, y.shape[0], nch, 1)
        _bias_rows(y, b, lo, hi)


@njit(cache=True, error_model=ERROR_MODEL)
def _colsum_rows(a, acc, lo, hi):
    """acc (M,) float64 <- Σ over rows lo..hi-1 of a (N, M)."""
    acc[:] = 0.0
    for i in range(lo, hi):
        row = a[i]
        for j in range(row.shape[0]):
            acc[j] += row[j]


@parallel_kernel
def _colsum_parallel(a, partial, nch):
    """partial (nch, M) <- per-chunk column sums of a, in parallel."""
    for c in prange(nch):
        lo, hi = span(c, a.shape[0], nch, 1)
        _colsum_rows(a, partial[c], lo, hi)


def bias_add(y, b):
    """y += b over rows, in place; returns y."""
    nch = n_chunks(y.shape[0], y.shape[1])
    if nch == 1:
        _bias_rows(y, b, 0, y.shape[0])
    else:
        _bias_parallel(y, b, nch)
    return y


def combine(partial, dtype, out=None):
    """Column totals of a partial buffer (nch, M), summed in chunk order, cast to dtype (into out)."""
    if partial.shape[0] == 1:  # one chunk (small batches): its row is the total, no reduction
        total = partial[0]
    else:  # np.add.reduce, not np.sum: its wrapper is a real share of a small layer's backward (NOTES.md change 18)
        total = np.add.reduce(partial, axis=0, out=scratch("colsum-total", (partial.shape[1],), np.float64))
    if out is None:
        return total.astype(dtype)
    np.copyto(out, total, casting="same_kind")
    return out


def col_sums(a, dtype=None, out=None):
    """Σ_rows a (N, M) -> (M,), accumulated in float64, returned in ``dtype`` (default a's) or out."""
    nch = n_chunks(a.shape[0], a.shape[1])
    partial = scratch("colsum-partial", (nch, a.shape[1]), np.float64)
    if nch == 1:
        _colsum_rows(a, partial[0], 0, a.shape[0])
    else:
        _colsum_parallel(a, partial, nch)
    return combine(partial, a.dtype if dtype is None else dtype, out)
