"""Dask glue: statistics over a dask array by Dask's tree reduction, lazy row-wise maps.

fastmlp never imports dask unless it is handed a dask array, so the ``dask`` extra stays optional.
Every function here works on row blocks: a dask array is first rechunked to one chunk across its
columns (a row's features must sit together for a covariance or a forward pass), never across
its rows. The work inside each block is fastmlp's own kernels, run on the worker that holds it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

Method = TypeVar("Method", bound=Callable[..., Any])


def is_dask_array(x: Any) -> bool:
    """True for a ``dask.array.Array`` (checked without importing dask)."""
    return type(x).__module__.startswith("dask.") and hasattr(x, "map_blocks") and hasattr(x, "chunks")


def row_blocks(X: Any, n_features: int | None = None, name: str = "X") -> Any:
    """X as a 2-d dask array with one chunk across its columns; checks the width against
    ``n_features`` (the fitted one) when given."""
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got a {X.ndim}-d dask array of shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but {n_features} are expected (as fitted)")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows)")
    return X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X


def _flat(parts: Any) -> list:
    """The blocks' results as one flat list (Dask nests them per reduced axis)."""
    if isinstance(parts, list):
        return [leaf for part in parts for leaf in _flat(part)]
    return [parts]


class _Chunk:
    """Dask's per-block step of a reduction: the block's statistics (picklable for workers)."""

    def __init__(self, statistics: Callable[[np.ndarray], Any]) -> None:
        self.statistics = statistics

    def __call__(self, block: np.ndarray, axis: Any = None, keepdims: bool = False, **_: Any) -> Any:
        if block.shape == (0, 0):  # Dask probing for the output's type (real blocks have columns)
            return np.empty((0, 0))
        return self.statistics(block)


class _Merge:
    """Dask's combine and aggregate steps: a pairwise merge folded over the blocks' statistics."""

    def __init__(self, merge: Callable[[Any, Any], Any]) -> None:
        self.merge = merge

    def __call__(self, parts: Any, axis: Any = None, keepdims: bool = False) -> Any:
        leaves = _flat(parts)
        out = leaves[0]
        for leaf in leaves[1:]:
            out = self.merge(out, leaf)
        return out


def reduce_rows(
    X: Any, statistics: Callable[[np.ndarray], Any], merge: Callable[[Any, Any], Any], split_every: int | None = None
) -> Any:
    """``statistics`` of each row block, merged by ``merge`` in Dask's tree reduction; computed.

    The statistics are any picklable value (tuples of arrays here); only the merged one comes
    back to the caller, so memory on the client is one statistic, whatever the data's size."""
    import dask.array as da

    reduced = da.reduction(
        X,
        chunk=_Chunk(statistics),
        combine=_Merge(merge),
        aggregate=_Merge(merge),
        axis=0,
        concatenate=False,
        dtype=np.float64,
        meta=np.empty((0,), np.float64),
        split_every=split_every,
    )
    (result,) = reduced.to_delayed().ravel()  # the aggregate's own value, not an array of it
    return result.compute()


class _RowCall:
    """``getattr(owner, name)(block, *args, **kwargs)`` for one row block (picklable: workers get
    the owner, a snapshot taken when the lazy call was made). Empty blocks, which filtering a dask
    array leaves, get an empty output of the probe's width and dtype."""

    def __init__(self, owner: Any, name: str, args: tuple, kwargs: dict) -> None:
        self.owner, self.name, self.args, self.kwargs = owner, name, args, kwargs
        self.empty: np.ndarray | None = None

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if block.shape[0] == 0 and self.empty is not None:
            return self.empty
        return getattr(self.owner, self.name)(block, *self.args, **self.kwargs)


def map_rows(call: _RowCall, X: Any) -> Any:
    """``call`` applied lazily to each row block of X: a dask array with X's row chunks.

    ``call`` runs once on one row of zeros first, here, to learn the output's width and dtype (a
    fitted transformer or model computes that in microseconds); 1-d outputs (labels) drop the
    column axis."""
    probe = np.asarray(call(np.zeros((1, X.shape[1]), dtype=X.dtype)))
    call.empty = np.empty((0, *probe.shape[1:]), probe.dtype)
    if probe.ndim == 1:
        return X.map_blocks(call, dtype=probe.dtype, drop_axis=1, meta=np.empty((0,), probe.dtype))
    return X.map_blocks(
        call, dtype=probe.dtype, chunks=(X.chunks[0], (probe.shape[1],)), meta=np.empty((0, 0), probe.dtype)
    )


def lazy_on_dask(method: Method) -> Method:
    """Decorate a row-wise method ``(self, X, ...) -> rows``: a dask array X gets a lazy dask
    array, each block computed by the same method on the worker holding it.

    The blocks are computed by a copy of the estimator as it is at the call, so a later ``fit``
    does not change an output already returned (as with NumPy outputs). The probe row runs here,
    so an unfitted model or a wrong width raises at the call, not at ``compute()``."""

    @functools.wraps(method)
    def rows(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        if is_dask_array(X):
            call = _RowCall(copy.deepcopy(self), method.__name__, args, kwargs)
            return map_rows(call, row_blocks(X))
        return method(self, X, *args, **kwargs)

    return rows  # type: ignore[return-value]
