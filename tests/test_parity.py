"""Every op on every available backend against the NumPy reference (values, gradients, masks).

A new backend is tested by becoming available: the parametrization picks it up by name.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastmlp import backends
from fastmlp.cases import CASES
from fastmlp.config import TEST_ROWS_COLS
from parity import LAYOUTS, check_case

BACKENDS = [name for name in backends.available() if name != "cuda"]  # cuda: test_cuda_sim.py
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rows_cols", TEST_ROWS_COLS, ids=lambda rc: f"{rc[0]}x{rc[1]}")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_parity(case, rows_cols, dtype, backend):
    check_case(case, backend, *rows_cols, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", [lay for lay in LAYOUTS if lay != "C"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_parity_layouts(case, layout, backend):
    """Fortran-order and strided inputs (and in-place targets) give the contiguous results."""
    check_case(case, backend, 9, 6, np.float32, layout)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(
    case_index=st.integers(0, len(CASES) - 1),
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    f64=st.booleans(),
    layout=st.sampled_from(LAYOUTS),
)
def test_parity_random_shapes(backend, case_index, rows, cols, f64, layout):
    check_case(CASES[case_index], backend, rows, cols, np.float64 if f64 else np.float32, layout)
