"""Training and evaluation on data that is not in memory: a dask array or a NumPy memmap.

The data is read in row chunks (a dask array's row blocks, or ``chunk_rows`` rows of a memmap).
An epoch visits the chunks in a random order, a *window* of ``shuffle_window`` chunks at a time,
and shuffles the rows within each window: a bounded shuffle, not a global one (rows of chunks
far apart never meet in a batch). Memory is bounded by the window: the window's rows, a shuffled
copy of them and the batches' buffers (about twice the window's bytes), whatever the data's size.

Batches run across window boundaries (a window's leftover rows start the next window's first
batch), so a streamed epoch makes exactly the steps of an in-memory epoch over the same row
order: :func:`epoch_windows` gives that order, and the tests hold the two fits equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _dask


def is_out_of_core(X: Any) -> bool:
    """True for inputs that ``fit`` streams instead of reading whole: dask arrays and memmaps."""
    return _dask.is_dask_array(X) or isinstance(X, np.memmap)


class RowChunks:
    """X and y of out-of-core data, read chunk by chunk (rows ``bounds[i]:bounds[i + 1]``)."""

    def __init__(self, X: Any, y: Any, chunk_rows: int, n_features: int) -> None:
        if _dask.is_dask_array(X):
            X = _dask.row_blocks(X, n_features)
            if np.isnan(np.asarray(X.chunks[0], dtype=float)).any():
                raise ValueError("X has unknown chunk sizes: call X.compute_chunk_sizes() first")
            sizes = np.asarray(X.chunks[0], dtype=np.int64)
        else:
            if X.ndim != 2 or X.shape[1] != n_features:
                raise ValueError(f"X has shape {X.shape} but the model expects (N, {n_features})")
            sizes = np.full(-(-X.shape[0] // chunk_rows), chunk_rows, dtype=np.int64)
            if sizes.size:
                sizes[-1] = X.shape[0] - chunk_rows * (sizes.size - 1)
        if sizes.sum() == 0:
            raise ValueError("X is empty (0 rows)")
        if y is not None and len(y) != int(sizes.sum()):
            raise ValueError(f"X has {int(sizes.sum())} rows but y has {len(y)}")
        self.X, self.y = X, y
        self.bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.bounds = np.unique(self.bounds)  # empty blocks (a filtered dask array's) are no chunks
        self.sizes = np.diff(self.bounds)

    @property
    def n_rows(self) -> int:
        return int(self.bounds[-1])

    def head_tail(self, n_tail: int) -> tuple[RowChunks, RowChunks]:
        """The data split into all but the last ``n_tail`` rows and those rows (validation_split)."""
        cut = self.n_rows - n_tail
        return self._rows(0, cut), self._rows(cut, self.n_rows)

    def _rows(self, start: int, stop: int) -> RowChunks:
        part = object.__new__(RowChunks)
        part.X, part.y = self.X[start:stop], None if self.y is None else self.y[start:stop]
        if _dask.is_dask_array(part.X):
            sizes = np.asarray(part.X.chunks[0], dtype=np.int64)
        else:
            inner = self.bounds[(self.bounds > start) & (self.bounds < stop)] - start
            sizes = np.diff(np.concatenate([[0], inner, [stop - start]]))
        part.sizes = sizes[sizes > 0]
        part.bounds = np.concatenate([[0], np.cumsum(part.sizes)])
        return part

    def load(self, chunks: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``chunks`` (in that order) as in-memory arrays; dask blocks are computed
        together, so a cluster reads them in parallel."""
        xs = [self._slice(self.X, i) for i in chunks]
        ys = [self._slice(self.y, i) for i in chunks]
        if any(_dask.is_dask_array(part) for part in xs + ys):
            import dask

            xs, ys = (list(parts) for parts in dask.compute(xs, ys))
        X = np.concatenate([np.asarray(x) for x in xs]) if len(xs) > 1 else np.array(xs[0])
        y = np.concatenate([np.asarray(t) for t in ys]) if len(ys) > 1 else np.array(ys[0])
        return X, y

    def _slice(self, array: Any, i: int) -> Any:
        return array[int(self.bounds[i]) : int(self.bounds[i + 1])]


def epoch_windows(sizes: np.ndarray, window: int, rng: np.random.Generator | None) -> Iterator[tuple[list[int], Any]]:
    """One epoch's plan: (chunk ids of a window, permutation of the window's rows) in turn.
    ``rng=None`` keeps the stored order (no shuffle: the permutation is None)."""
    order = rng.permutation(sizes.size) if rng is not None else np.arange(sizes.size)
    for start in range(0, sizes.size, window):
        chunks = [int(i) for i in order[start : start + window]]
        rows = int(sizes[chunks].sum())
        yield chunks, (rng.permutation(rows) if rng is not None else None)


def epoch_order(source: RowChunks, window: int, rng: np.random.Generator | None) -> np.ndarray:
    """The global row indices of one streamed epoch, in the order its steps take them (tests and
    users who want to reproduce a streamed fit in memory)."""
    parts = []
    for chunks, perm in epoch_windows(source.sizes, window, rng):
        rows = np.concatenate([np.arange(source.bounds[i], source.bounds[i + 1]) for i in chunks])
        parts.append(rows if perm is None else rows[perm])
    return np.concatenate(parts)
