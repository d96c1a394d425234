"""Bench helpers: fresh inputs per case and size, with the JIT compile kept out of the timing, and
the check every bench makes of what it timed against the NumPy reference (so the bench step of
CI, which runs each bench once with ``--benchmark-disable``, is also a parity run at bench sizes)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fastmlp import backends, ops
from fastmlp.cases import Case, inputs
from fastmlp.kernels import reference as ref
from fastmlp.testing import assert_same, check_case

BENCH_BACKENDS = [name for name in backends.available() if name != "cuda"]
BENCH_DTYPE = np.float32


def contenders(names: list[str]) -> list:
    """Parameters for ``@pytest.mark.parametrize``, each value its own contender (its own process
    under ``fastmlp bench``)."""
    return [pytest.param(name, marks=pytest.mark.contender(name), id=name) for name in names]


def prepared(case: Case, backend: str, rows: int, cols: int) -> Callable[[], Any]:
    """A zero-argument callable running ``case`` once, already warmed up (compiled)."""
    args, kwargs = inputs(case, rows, cols, BENCH_DTYPE)
    args = copy.deepcopy(args)
    fn = getattr(ops, case.op)

    def run() -> Any:
        return fn(*args, backend=backend, **kwargs)

    run()  # first call compiles (Numba) or loads the cache: not part of steady-state time
    return run


def verify(case: Case, backend: str, rows: int, cols: int, result: Any) -> None:
    """Assert the timed op computed what the reference computes. A pure op's ``result`` is compared
    with the reference on the same inputs; an in-place op was called an unknown number of times
    on its state, so one fresh call on fresh inputs is compared instead."""
    if case.inplace:
        check_case(case, backend, rows, cols, BENCH_DTYPE)
        return
    args, kwargs = inputs(case, rows, cols, BENCH_DTYPE)
    assert_same(result, getattr(ref, case.op)(*args, **kwargs), case.exact, dtype=BENCH_DTYPE)
