"""Every op on every available backend against the NumPy reference (values, gradients, masks).

A new backend is tested by becoming available: the parametrization picks it up by name.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastmlp import backends, ops
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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_relu_dropout_backward_at_extreme_gradients(backend, dtype):
    """ReLU + dropout backward where dout · (1/keep_prob) overflows, and at ±inf / NaN gradients:
    the reference's (dout · mask) · f'(a) decides, so dropped units give 0, kept inactive ones NaN.
    One row, so db is dz itself (summing one value is exact); 4099 columns span several segments."""
    rng = np.random.default_rng(7)
    n_out, keep = 4099, 0.5
    x = rng.standard_normal((1, 3)).astype(dtype)
    w = rng.standard_normal((3, n_out)).astype(dtype)
    b = np.zeros(n_out, dtype)
    out = ops.dense_forward(x, w, b, "relu", keep, 11, 3, backend="numpy")
    dout = rng.standard_normal((1, n_out)).astype(dtype)
    huge = np.finfo(dtype).max / dtype(1.5)  # finite, but huge / keep overflows
    dout[0, ::7] = huge
    dout[0, 1::7] = -huge
    dout[0, 2::97] = np.inf
    dout[0, 3::89] = -np.inf
    dout[0, 4::83] = np.nan
    with np.errstate(over="ignore", invalid="ignore"):
        _, _, db_ref = ops.dense_backward(dout, x, w, out, "relu", keep, 11, 3, backend="numpy")
        _, _, db = ops.dense_backward(dout, x, w, out, "relu", keep, 11, 3, backend=backend)
    assert np.isnan(db_ref).any() and (db_ref == 0).any() and np.isinf(db_ref).any()  # every case occurs
    np.testing.assert_array_equal(db, db_ref)
