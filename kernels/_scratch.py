"""Per-thread reusable scratch buffers: after the first call of a given size, the drivers of a
training step allocate nothing (the Python-level allocations were ~10% of a small step)."""

import threading

import numpy as np

_local = threading.local()
MAX_ENTRIES = 64  # many distinct sizes (varying batch sizes): start over rather than hoard memory


def scratch(name, shape, dtype):
    """The same uninitialised array for the same (name, shape, dtype) in this thread.

    Only for data a driver consumes before it returns: never hand one back to a caller.
    """
    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    key = (name, shape, np.dtype(dtype).char)
    buf = cache.get(key)
    if buf is None:
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        buf = cache[key] = np.empty(shape, dtype)
    return buf
