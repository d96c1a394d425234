"""Compile (or load from Numba's cache) every kernel of a backend before the first real call."""

from __future__ import annotations

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
