"""Dropout masks at a counter offset (``start=``): a part of a data-parallel batch gets exactly
its rows of the one-process mask, bit for bit, on every backend (cuda: under the simulator, at the end)."""

import importlib.util
import itertools
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import naive
from chunking import COMPILED, quiet_blas_and_threads, small_chunks
from fastmlp import backends, ops
from fastmlp.kernels import reference as ref
from fastmlp.kernels.reference.rng import flat_random_bits, philox4x32

BACKENDS = ["numpy", *COMPILED]
DTYPES = [np.float32, np.float64]
SHAPES = [(7, 5), (1, 3), (33, 17)]
STARTS = [0, 1, 2, 3, 5, 4099, 2**40 + 3]
SEED, STREAM = 0x1234_5678_9ABC_DEF0, 7


def _philox_words(elements, seed, stream):
    """Word of each global flat element, one Philox block per element (no slicing shortcuts)."""
    elements = np.asarray(elements, dtype=np.uint64)
    block = elements // np.uint64(4)
    words = philox4x32(
        block & np.uint64(0xFFFFFFFF),
        block >> np.uint64(32),
        np.full(block.shape, stream, dtype=np.uint64),
        np.zeros(block.shape, dtype=np.uint64),
        seed & 0xFFFFFFFF,
        seed >> 32,
    )
    which = (elements % np.uint64(4)).astype(np.intp)
    return np.choose(which, words).astype(np.uint32)


@pytest.mark.parametrize("start", [0, 1, 2, 3, 6, 4099, 2**40 + 3, 2**48 - 5])
@pytest.mark.parametrize("size", [1, 2, 5, 13])
def test_reference_bits_are_the_global_elements(start, size):
    got = flat_random_bits(size, SEED, STREAM, start)
    np.testing.assert_array_equal(got, _philox_words(np.arange(start, start + size, dtype=np.uint64), SEED, STREAM))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_reference_mask_is_a_slice_of_the_whole(dtype):
    rows, width = 11, 6
    whole = ref.dropout_mask((rows, width), 0.5, SEED, STREAM, dtype)
    np.testing.assert_array_equal(whole, naive.dropout_mask((rows, width), 0.5, SEED, STREAM, dtype))
    for r0 in range(rows):
        part = ref.dropout_mask((rows - r0, width), 0.5, SEED, STREAM, dtype, start=r0 * width)
        assert part.dtype == dtype
        np.testing.assert_array_equal(part, whole[r0:])
    flat = whole.reshape(-1)
    for s in range(len(flat)):  # unaligned starts: any element, not just row starts
        np.testing.assert_array_equal(
            ref.dropout_mask((3,), 0.5, SEED, STREAM, dtype, s)[: len(flat) - s], flat[s:][:3]
        )


def _want(shape, keep_prob, dtype, start):
    """The mask at ``start`` from the reference: a slice of the whole mask when that is small."""
    size = int(np.prod(shape))
    if start + size <= 1 << 16:
        whole = ref.dropout_mask((start + size,), keep_prob, SEED, STREAM, dtype)
        return whole[start:].reshape(shape)
    return ref.dropout_mask(shape, keep_prob, SEED, STREAM, dtype, start)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("keep_prob", [0.5, 0.9])
@pytest.mark.parametrize("backend", BACKENDS)
def test_mask_forward_backward_at_an_offset(backend, keep_prob, dtype):
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype(dtype)
        for start in STARTS:
            want = _want(shape, keep_prob, dtype, start)
            got = ops.dropout_mask(shape, keep_prob, SEED, STREAM, dtype, backend=backend, start=start)
            assert got.dtype == dtype and got.shape == shape
            np.testing.assert_array_equal(got, want, err_msg=f"{backend} {shape} start={start}")
            fwd = ops.dropout_forward(x, keep_prob, SEED, STREAM, backend=backend, start=start)
            np.testing.assert_array_equal(fwd, x * want)
            bwd = ops.dropout_backward(x, keep_prob, SEED, STREAM, backend=backend, start=start)
            np.testing.assert_array_equal(bwd, x * want)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_row_split_concatenates_to_the_whole(backend, dtype):
    batch, width = 29, 13
    x = np.random.default_rng(1).standard_normal((batch, width)).astype(dtype)
    whole = ops.dropout_mask((batch, width), 0.6, SEED, STREAM, dtype, backend=backend)
    np.testing.assert_array_equal(whole, ref.dropout_mask((batch, width), 0.6, SEED, STREAM, dtype))
    for bounds in ([0, 29], [0, 1, 29], [0, 3, 10, 11, 28, 29], [0, 7, 14, 21, 29]):
        masks, outs = [], []
        for r0, r1 in itertools.pairwise(bounds):
            start = r0 * width
            masks.append(ops.dropout_mask((r1 - r0, width), 0.6, SEED, STREAM, dtype, backend=backend, start=start))
            outs.append(ops.dropout_forward(x[r0:r1], 0.6, SEED, STREAM, backend=backend, start=start))
        np.testing.assert_array_equal(np.concatenate(masks), whole)
        np.testing.assert_array_equal(np.concatenate(outs), x * whole)


@pytest.mark.parametrize("start", [0, 3, 2053, 2**44 + 1])
@pytest.mark.parametrize("backend", COMPILED)
def test_chunked_paths_offset_only_the_counter(backend, start, monkeypatch):
    """Several parallel chunks (local starts on SEG boundaries), each offset by start."""
    shape = (50, 200)  # 10_000 elements: 4 chunks of >= 2048
    x = np.random.default_rng(2).standard_normal(shape)
    want = ref.dropout_mask(shape, 0.7, SEED, STREAM, np.float64, start)
    with small_chunks(backend, 2048), quiet_blas_and_threads(monkeypatch, 2):
        if backend == "numba":
            from fastmlp.kernels.numba_cpu._common import n_chunks

            assert n_chunks(x.size) > 1
        got = ops.dropout_mask(shape, 0.7, SEED, STREAM, np.float64, backend=backend, start=start)
        fwd = ops.dropout_forward(x, 0.7, SEED, STREAM, backend=backend, start=start)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fwd, x * want)


def test_large_sizes_take_the_default_parallel_path():
    """Past the default chunk threshold (no patching): numba's n_chunks > 1."""
    if "numba" not in COMPILED:
        pytest.skip("numba backend unavailable")
    from fastmlp.kernels.numba_cpu._common import n_chunks

    shape, start = (300, 500), 12_345_677
    assert n_chunks(shape[0] * shape[1]) > 1
    want = ref.dropout_mask(shape, 0.5, SEED, STREAM, np.float32, start)
    for backend in COMPILED:
        got = ops.dropout_mask(shape, 0.5, SEED, STREAM, np.float32, backend=backend, start=start)
        np.testing.assert_array_equal(got, want, err_msg=backend)


@pytest.mark.parametrize(
    ("start", "error"),
    [(-1, ValueError), (2**62, ValueError), (1.0, TypeError), (1.5, TypeError), ("3", TypeError), (True, TypeError)],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_start_is_refused(backend, start, error):
    x = np.ones((2, 3))
    with pytest.raises(error, match="start"):
        ops.dropout_mask((2, 3), 0.5, SEED, backend=backend, start=start)
    with pytest.raises(error, match="start"):
        ops.dropout_forward(x, 0.5, SEED, backend=backend, start=start)
    with pytest.raises(error, match="start"):
        ops.dropout_backward(x, 0.5, SEED, backend=backend, start=start)


def test_numpy_integer_start_is_accepted():
    got = ops.dropout_mask((4, 3), 0.5, SEED, backend="numpy", start=np.int64(9))
    np.testing.assert_array_equal(got, ref.dropout_mask((4, 3), 0.5, SEED, 0, np.float32, 9))


def test_a_backend_without_the_keyword_falls_back_to_the_reference(monkeypatch):
    """A third-party driver written before ``start`` existed: start = 0 still calls it, a
    nonzero start runs the reference driver instead of failing on the unknown keyword."""
    calls = []

    def old_mask(shape, keep_prob, seed, stream=0, dtype=np.float32):
        calls.append(shape)
        return ref.dropout_mask(shape, keep_prob, seed, stream, dtype)

    old = types.ModuleType("old_dropout_kernels")
    old.dropout_mask = old_mask
    monkeypatch.setitem(sys.modules, "old_dropout_kernels", old)
    backends.register("old_dropout", "old_dropout_kernels")
    try:
        whole = ops.dropout_mask((2, 5), 0.5, SEED, backend="old_dropout")
        np.testing.assert_array_equal(whole, ref.dropout_mask((2, 5), 0.5, SEED))
        assert calls == [(2, 5)]
        got = ops.dropout_mask((2, 5), 0.5, SEED, backend="old_dropout", start=7)
        assert calls == [(2, 5)]
        np.testing.assert_array_equal(got, ref.dropout_mask((2, 5), 0.5, SEED, 0, np.float32, 7))
    finally:
        backends._registered.pop("old_dropout", None)
        backends.forget("old_dropout")


CUDA_SIM_SCRIPT = """
import numpy as np
from numba import cuda
from fastmlp import ops
from fastmlp.kernels import reference as ref
from fastmlp.kernels.cuda import _launch

_launch.CUDA_THREADS_PER_BLOCK, _launch.CUDA_MAX_BLOCKS = 2, 2  # 4 threads: the grid-stride loop laps
seed, stream = 0x1234_5678_9ABC_DEF0, 7
for dtype in (np.float32, np.float64):
    x = np.arange(1.0, 16.0, dtype=dtype).reshape(3, 5)
    for start in (0, 1, 3, 6, 2**40 + 3):
        want = ref.dropout_mask((3, 5), 0.5, seed, stream, dtype, start)
        got = ops.dropout_mask((3, 5), 0.5, seed, stream, dtype, backend="cuda", start=start)
        assert got.dtype == dtype and np.array_equal(got, want), (dtype, start, got, want)
        fwd = ops.dropout_forward(x, 0.5, seed, stream, backend="cuda", start=start)
        assert np.array_equal(fwd, x * want), (dtype, start)
        bwd = ops.dropout_backward(cuda.to_device(x), 0.5, seed, stream, start=start).copy_to_host()
        assert np.array_equal(bwd, x * want), (dtype, start)
whole = ref.dropout_mask((5, 3), 0.5, seed, stream)
parts = [ops.dropout_mask((r1 - r0, 3), 0.5, seed, stream, backend="cuda", start=3 * r0) for r0, r1 in ((0, 2), (2, 5))]
assert np.array_equal(np.concatenate(parts), whole)
print("cuda-sim-ok")
"""


@pytest.mark.slow
def test_cuda_offsets_under_the_simulator():
    """The cuda backend's offset masks under Numba's CUDA simulator, in a fresh process (the
    simulator must be switched on before numba.cuda is imported: tests/test_cuda_sim.py)."""
    assert importlib.util.find_spec("numba_cuda") is not None, "pip install numba-cuda (the 'test' extra)"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONUNBUFFERED="1")
    env.pop("FASTMLP_BACKEND", None)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", CUDA_SIM_SCRIPT], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "cuda-sim-ok" in proc.stdout, output[-10000:]
