"""Bench helpers: fresh inputs per case and size, with the JIT compile kept out of the timing."""

from __future__ import annotations

import copy

import numpy as np

from fastmlp import backends, ops
from fastmlp.cases import Case, inputs

BENCH_BACKENDS = [name for name in backends.available() if name != "cuda"]
BENCH_DTYPE = np.float32


def prepared(case: Case, backend: str, rows: int, cols: int):
    """A zero-argument callable running ``case`` once, already warmed up (compiled)."""
    args, kwargs = inputs(case, rows, cols, BENCH_DTYPE)
    args = copy.deepcopy(args)
    fn = getattr(ops, case.op)

    def run():
        return fn(*args, backend=backend, **kwargs)

    run()  # first call compiles (Numba) or loads the cache: not part of steady-state time
    return run
