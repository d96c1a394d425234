"""Parity of the ``cuda`` backend, run by ``tests/test_cuda_sim.py`` in a subprocess.

Not collected by default (the name does not match ``test_*.py``): the CUDA simulator must be
switched on (``NUMBA_ENABLE_CUDASIM=1``) before anything imports ``numba.cuda``, which only a
fresh process can guarantee. The simulator runs one Python thread per CUDA thread, so shapes are
tiny and the launch sizes are patched small; grid-stride loops keep every kernel correct anyway.
"""

import copy
import os

import numpy as np
import pytest

if os.environ.get("FASTMLP_CUDA_TEST") != "1":
    pytest.skip("run through tests/test_cuda_sim.py (needs NUMBA_ENABLE_CUDASIM=1 set first)", allow_module_level=True)

from numba import cuda

from fastmlp import backends, ops
from fastmlp.cases import CASES, inputs
from fastmlp.kernels import reference as ref
from fastmlp.kernels.cuda import _launch
from fastmlp.testing import assert_same, check_case

SHAPES = ((1, 1), (2, 3), (5, 7), (9, 7))
# A launch of LAUNCH_THREADS in all (small_launches below): fewer than the rows and the elements
# of the largest shape, so row-wise and elementwise grid-stride loops both take several laps.
LAUNCH_THREADS_PER_BLOCK, LAUNCH_BLOCKS = 4, 2
DTYPES = [np.float32, np.float64]
HOST_ONLY = {"random_bits", "dropout_mask"}  # no array inputs: results come back as NumPy


@pytest.fixture(autouse=True)
def small_launches(monkeypatch):
    """A few threads and blocks: the grid-stride loops then take several laps (and it is faster)."""
    monkeypatch.setattr(_launch, "CUDA_THREADS_PER_BLOCK", LAUNCH_THREADS_PER_BLOCK)
    monkeypatch.setattr(_launch, "CUDA_MAX_BLOCKS", LAUNCH_BLOCKS)
    monkeypatch.setattr(_launch, "CUDA_GEMM_TILE", 4)


def test_launches_are_smaller_than_the_work():
    from fastmlp.kernels.cuda import _arrays

    rows, cols = max(SHAPES)
    total = LAUNCH_THREADS_PER_BLOCK * LAUNCH_BLOCKS
    assert total < rows < rows * cols
    blocks, threads = _arrays.launch(rows * cols)
    assert blocks * threads == total  # the launch is capped: the loops must lap


def test_backend_is_available_under_the_simulator():
    assert "cuda" in backends.available(), backends.unavailable_reason("cuda")
    assert set(backends.coverage()["cuda"].values()) == {"native"}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rows_cols", SHAPES, ids=lambda rc: f"{rc[0]}x{rc[1]}")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_parity(case, rows_cols, dtype):
    check_case(case, "cuda", *rows_cols, dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_parity_strided(case):
    """Strided (non-contiguous) NumPy inputs and in-place targets give the contiguous results."""
    check_case(case, "cuda", 3, 4, np.float32, "strided")


def _to_device(a):
    return cuda.to_device(a) if isinstance(a, np.ndarray) else a


def _is_device(a):
    return not isinstance(a, np.ndarray) and hasattr(a, "copy_to_host")


def _host(got, want, where="output"):
    """Device results back as NumPy for comparison, asserting they were device arrays."""
    if isinstance(want, tuple):
        return tuple(_host(g, w, f"{where}[{i}]") for i, (g, w) in enumerate(zip(got, want)))
    if isinstance(want, np.ndarray):
        assert _is_device(got), f"{where}: expected a device array, got {type(got).__name__}"
        return got.copy_to_host()
    return got


@pytest.mark.parametrize("case", [c for c in CASES if c.op not in HOST_ONLY], ids=lambda c: c.name)
def test_device_arrays_stay_on_device(case):
    """Device inputs select cuda with no backend named, come back as device arrays, update in place."""
    args, kwargs = inputs(case, 3, 4, np.float64)
    want_args = copy.deepcopy(args)
    want = getattr(ref, case.op)(*want_args, **kwargs)
    dev_args = tuple(_to_device(a) for a in copy.deepcopy(args))
    got = getattr(ops, case.op)(*dev_args, **kwargs)
    assert_same(_host(got, want), want, case.exact, dtype=np.float64)
    for pos in case.inplace:
        assert _is_device(dev_args[pos])
        assert_same(dev_args[pos].copy_to_host(), want_args[pos], case.exact, f"argument {pos} (in place)", np.float64)


def test_non_contiguous_device_input_is_copied_on_the_device():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    view = cuda.to_device(x)[:, ::2]
    got = ops.relu_forward(view)
    np.testing.assert_array_equal(got.copy_to_host(), ref.relu_forward(x[:, ::2]))


def test_mixed_dtypes_on_the_device_compute_in_float64():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    got = ops.affine_forward(cuda.to_device(x.astype(np.float32)), cuda.to_device(w), cuda.to_device(b))
    assert got.dtype == np.float64
    want = ref.affine_forward(x.astype(np.float32).astype(np.float64), w, b)
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-12)


def test_device_labels_are_range_checked_before_any_kernel():
    scores = cuda.to_device(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="label 4 but scores has 4 classes"):
        ops.softmax_cross_entropy(scores, cuda.to_device(np.array([0, 1, 4])))


def test_device_targets_are_validated_on_the_device():
    scores = cuda.to_device(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        ops.l2_loss(scores, cuda.to_device(np.array([[0.0, np.nan], [1.0, 2.0]])))
    with pytest.raises(ValueError, match=r"-1 or \+1"):
        ops.attribute_hinge_loss(scores, cuda.to_device(np.array([[1.0, -1.0], [0.5, 1.0]])))


def test_in_place_update_needs_a_contiguous_device_array():
    w = cuda.to_device(np.ones((4, 6)))[:, ::2]
    with pytest.raises(ValueError, match="non-contiguous device array"):
        ops.sgd_update(w, np.ones((4, 3)), 0.1)


def test_other_backends_refuse_device_arrays():
    with pytest.raises(ValueError, match="backend='cuda'"):
        ops.relu_forward(cuda.to_device(np.ones(3)), backend="numpy")


def test_parameters_stay_on_the_device_across_steps():
    """A tiny training loop on device arrays: the same weights as the reference after 3 steps."""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    w, b = rng.standard_normal((4, 3)) * 0.3, np.zeros(3)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    dev = [cuda.to_device(a) for a in (w, b, vw, vb)]
    xd = cuda.to_device(x)
    for step in range(3):
        scores = ops.dense_forward(xd, dev[0], dev[1], "identity", 0.8, 7, step)
        loss, dscores = ops.softmax_cross_entropy(scores, y)
        _, dw, db = ops.dense_backward(dscores, xd, dev[0], scores, "identity", 0.8, 7, step)
        ops.momentum_update(dev[0], dw, dev[2], 0.1, 0.9, 1e-3)
        ops.momentum_update(dev[1], db, dev[3], 0.1, 0.9)
        s = ref.dense_forward(x, w, b, "identity", 0.8, 7, step)
        want_loss, ds = ref.softmax_cross_entropy(s, y)
        _, gw, gb = ref.dense_backward(ds, x, w, s, "identity", 0.8, 7, step)
        ref.momentum_update(w, gw, vw, 0.1, 0.9, 1e-3)
        ref.momentum_update(b, gb, vb, 0.1, 0.9)
        assert abs(loss - want_loss) <= 1e-12 * max(1.0, abs(want_loss))
    np.testing.assert_allclose(dev[0].copy_to_host(), w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dev[1].copy_to_host(), b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype,big", [(np.float32, 3e38), (np.float64, 1e300)], ids=["f32", "f64"])
def test_max_norm_of_columns_near_the_dtype_range(dtype, big):
    """As on the CPU backends (tests/test_numeric_edges.py): scaled to max_norm, never zeroed."""
    w = np.zeros((4, 3), dtype)
    w[:, 0], w[0, 1], w[:, 2] = big, -big, 0.25
    dev = cuda.to_device(w)
    ops.max_norm_(dev, 2.0)
    got = dev.copy_to_host()
    np.testing.assert_allclose(got[:, 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(got[:, 1], [-2.0, 0, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(got[:, 2], dtype(0.25))
