"""Compile (or load from Numba's cache) every kernel of a backend before the first real call."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import numpy as np

from . import backends, ops


def warmup(backend: str | None = None, dtypes: Iterable[str] = ("float32", "float64")) -> dict[str, float]:
    """Run every op once on tiny inputs so JIT compilation happens now, not in the first step.

    Parameters
    ----------
    backend : str, optional
        Backend to warm (default: the current one, :func:`fastmlp.get_backend`).
    dtypes : iterable of str
        Float dtypes to compile for.

    Returns
    -------
    dict
        Seconds spent per op name (the first-call latency, compile or cache load included).
    """
    from .cases import CASES, inputs  # imported here: the case table is only needed now

    name = backend or backends.get_backend()
    spent: dict[str, float] = {}
    for case in CASES:
        for dtype in dtypes:
            args, kwargs = inputs(case, 3, 4, np.dtype(dtype))
            start = time.perf_counter()
            getattr(ops, case.op)(*args, backend=name, **kwargs)
            spent[case.op] = spent.get(case.op, 0.0) + time.perf_counter() - start
    return spent


def numba_cache_dir() -> str | None:
    """The directory Numba caches the ``numba`` backend's kernels in (``kernels/numba_cpu/_cache.py``),
    or None where it cannot be written (Numba then caches elsewhere, by its own rules)."""
    from .kernels.numba_cpu import _cache

    return _cache.cache_dir(_cache.__file__)


def cached_numba_kernels() -> int | None:
    """How many compiled kernel versions Numba's cache holds for the current kernel sources.

    0 means a cold cache: the next use compiles. An index file written for other sources (a kernel
    edited since, another fastmlp release in the same place) or another Numba counts as empty, as
    Numba itself treats it; so the count is read the way Numba reads it, from each index file,
    rather than guessed from which files exist.

    Returns
    -------
    int or None
        None when the cache directory cannot be written: Numba then caches elsewhere, by its own
        rules, and nothing can be said here.
    """
    from numba.core.caching import IndexDataCacheFile

    from .kernels.numba_cpu import _cache

    directory = numba_cache_dir()
    if directory is None:
        return None
    count = 0
    for name in os.listdir(directory):
        if name.endswith(".nbi"):
            index = IndexDataCacheFile(directory, name[: -len(".nbi")], _cache.tree_stamp())
            try:
                count += len(index._load_index())  # Numba's own reader: {} for stale or foreign entries
            except Exception:  # a truncated or corrupt index: Numba recompiles and rewrites it
                continue
    return count
