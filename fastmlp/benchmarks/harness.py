"""Bench helpers: fresh inputs per case and size, with the JIT compile kept out of the timing, and
the check every bench makes of what it timed against the NumPy reference (so the bench step of
CI, which runs each bench once with ``--benchmark-disable``, is also a parity run at bench sizes)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np

from fastmlp import backends, ops
from fastmlp.cases import Case, inputs
from fastmlp.kernels import reference as ref

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))  # the parity harness

from parity import assert_same, check_case

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


def verify(case: Case, backend: str, rows: int, cols: int, result) -> None:
    """Assert the timed op computed what the reference computes. A pure op's ``result`` is compared
    with the reference on the same inputs; an in-place op was called an unknown number of times
    on its state, so one fresh call on fresh inputs is compared instead."""
    if case.inplace:
        check_case(case, backend, rows, cols, BENCH_DTYPE)
        return
    args, kwargs = inputs(case, rows, cols, BENCH_DTYPE)
    assert_same(result, getattr(ref, case.op)(*args, **kwargs), case.exact, dtype=BENCH_DTYPE)
