"""Every native op of every compiled backend against the NumPy reference (values, gradients,
masks), below the chunk threshold (test_chunked.py goes past it).

A new backend is tested by becoming available: the parametrization picks it up by name. Ops a
backend does not implement fall back to the reference: comparing those with the reference would
compare the reference with itself, so they are not parametrized here; conftest.py lists them in
the run's summary and test_fallbacks_are_the_declared_ones pins the list.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from chunking import COMPILED, native_cases
from fastmlp import backends, ops
from fastmlp.cases import CASES
from fastmlp.config import TEST_ROWS_COLS
from fastmlp.testing import LAYOUTS, check_case
from tolerances import assert_close

DTYPES = [np.float32, np.float64]
PAIRS = [(backend, case) for backend in COMPILED for case in native_cases(backend)]
# The ops layer itself (relayout of F-order and strided inputs, outputs, in-place targets) on the
# reference: not parity, a test of the door every backend goes through.
DOOR_PAIRS = [*PAIRS, *(("numpy", case) for case in CASES)]

# Ops each compiled backend leaves to the reference, on purpose (kernels/cython/__init__.py).
DECLARED_FALLBACKS = {
    "numba": set(),
    "cython": {
        "attribute_hinge_loss",
        "batchnorm_backward",
        "batchnorm_forward",
        "dead_relu_fraction",
        "dropconnect_backward",
        "dropconnect_forward",
        "l1_loss",
        "l2_loss",
        "max_norm_",
        "maxout_backward",
        "maxout_forward",
        "sigmoid_backward",
        "sigmoid_cross_entropy",
        "sigmoid_forward",
        "tanh_backward",
        "tanh_forward",
    },
}


def _ids(pair):
    return f"{pair[0]}-{pair[1].name}"


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rows_cols", TEST_ROWS_COLS, ids=lambda rc: f"{rc[0]}x{rc[1]}")
@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
def test_parity(pair, rows_cols, dtype):
    backend, case = pair
    check_case(case, backend, *rows_cols, dtype)


@pytest.mark.parametrize("layout", [lay for lay in LAYOUTS if lay != "C"])
@pytest.mark.parametrize("pair", DOOR_PAIRS, ids=_ids)
def test_parity_layouts(pair, layout):
    """Fortran-order, strided and read-only inputs (and in-place targets, except read-only ones,
    which are refused) give the contiguous results."""
    backend, case = pair
    check_case(case, backend, 9, 6, np.float32, layout)


@pytest.mark.parametrize("backend", COMPILED)
@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    f64=st.booleans(),
    layout=st.sampled_from(LAYOUTS),
)
def test_parity_random_shapes(backend, data, rows, cols, f64, layout):
    case = data.draw(st.sampled_from(native_cases(backend)), label="case")
    check_case(case, backend, rows, cols, np.float64 if f64 else np.float32, layout)


@pytest.mark.parametrize("backend", COMPILED)
def test_fallbacks_are_the_declared_ones(backend):
    """A backend that silently lost a native op (an import slip, a build that dropped a module)
    would otherwise just run the reference and pass every parity test."""
    table = backends.coverage()[backend]
    assert {op for op, how in table.items() if how == "reference"} == DECLARED_FALLBACKS[backend]


# Whitening: the compiled backends share the eigen helpers of kernels/_eigen.py with the
# reference, so their parity with it could hide a bug in those helpers. These compare them with
# computations that share nothing with them: the loop-level oracle of tests/naive.py, and NumPy's
# float64 covariance.
WHITEN_CASES = [
    (d, method, k)
    for d in (1, 5, 24)
    for method, k in [("pca", None), ("pca", 3), ("zca", None), ("zca", 3), ("rotate", None), ("rotate", 1)]
    if k is None or k <= d
]


def _spd(d: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(d).standard_normal((d, d)))
    return (q * (1.0 + 0.5 * np.arange(d)[::-1])) @ q.T


@pytest.mark.parametrize("d,method,k", WHITEN_CASES)
@pytest.mark.parametrize("backend", COMPILED)
def test_whitening_matrix_against_the_naive_oracle(backend, d, method, k):
    cov = _spd(d)
    got = ops.whitening_matrix(cov, method, 1e-5, k, backend=backend)
    want = naive.whitening_matrix(cov, method, 1e-5, k)
    for g, w in zip(got, want):
        assert_close(g, w)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("backend", COMPILED)
def test_covariance_against_numpy_float64(backend, dtype):
    """Past the chunk size (8 row chunks), against np.cov in float64 on the same values."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2601, 101)) * np.linspace(1, 3, 101) + 2).astype(dtype)
    mean, cov = ops.covariance(x, backend=backend)
    x64 = x.astype(np.float64)
    assert_close(mean, x64.mean(axis=0).astype(dtype))
    # float32: Xcᵀ Xc sums 2601 float32 products per entry (rounding ~sqrt(n)·eps relative)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else None
    assert_close(cov, np.cov(x64, rowvar=False, bias=True).astype(dtype), tol=tol)


@pytest.mark.parametrize("backend", COMPILED)
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
