"""Parity past the chunk size: the chunked, multi-threaded paths that every real workload takes.

Each compiled kernel runs serially below ``MIN_CHUNK`` elements and above it splits the work into
chunks (row ranges, or flat ranges starting on Philox segment bounds) run by a thread team, with
per-chunk partial sums for the reductions (kernels/numba_cpu/_common.py, kernels/cython/_chunks.h).
The parity tests in test_parity.py stay below the threshold, so here every native case of every
compiled backend runs

- at a real size: several full chunks and a ragged last one, at the default threshold;
- at a small size with the threshold patched small: many chunks, so most of the coverage is cheap;

each in float32 and float64, on 1 and 2 threads, with the BLAS clock held quiet so that the chunks
really go to the thread team (right after a BLAS call they would run on the calling thread:
kernels/_blas_clock.py). Masks and random bits are compared bit for bit.
"""

import contextlib

import numpy as np
import pytest

import fastmlp
from chunking import COMPILED, native_cases, quiet_blas_and_threads, small_chunks
from fastmlp import ops
from fastmlp.cases import inputs
from fastmlp.kernels import reference as ref
from fastmlp.kernels.numba_cpu import _common as numba_common
from fastmlp.testing import check_case

DTYPES = [np.float32, np.float64]
THREADS = [1, 2]

# (rows, cols) past the default threshold of 32768 elements, and how each kind of op splits it:
# elementwise ops see 262,701 elements: 8 chunks on Philox-segment bounds (7 of 34,816, a ragged
# 18,989); dense layers (2601, 51) outputs: 4 row chunks (3 of 651 rows, then 648); losses,
# maxout, batch norm and covariance 8 row chunks of (2601, 101): 7 of 326 rows, then 319.
BIG = (2601, 101)
# with the threshold patched to SMALL_MIN_CHUNK: 6887 elements make 4 segment chunks (the last
# one ragged), dense outputs (97, 36) 33 row chunks (32 of 3 rows, then 1) and row-wise ops on
# (97, 71) 49 (48 of 2 rows, then 1).
SMALL = (97, 71)
SMALL_MIN_CHUNK = 96

PAIRS = [(backend, case) for backend in COMPILED for case in native_cases(backend)]


def _ids(pair):
    return f"{pair[0]}-{pair[1].name}"


@pytest.fixture(params=THREADS, ids=lambda n: f"{n}thr")
def threads(request, monkeypatch):
    with quiet_blas_and_threads(monkeypatch, request.param):
        yield request.param


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
def test_parity_past_the_chunk_size(pair, dtype, threads):
    backend, case = pair
    check_case(case, backend, *BIG, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
def test_parity_with_small_chunks(pair, dtype, threads):
    backend, case = pair
    with small_chunks(backend, SMALL_MIN_CHUNK):
        check_case(case, backend, *SMALL, dtype)


def _masked_dense_pairs():
    """(backend, case) of the fused dense forward with dropout (keep_prob < 1)."""
    out = []
    for backend, case in PAIRS:
        if case.op == "dense_forward":
            args, _ = inputs(case, 1, 1, np.float64)
            if args[4] < 1.0:
                out.append((backend, case))
    return out


@pytest.mark.parametrize("size", ["big", "small"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("pair", _masked_dense_pairs(), ids=_ids)
def test_fused_dense_forward_masks_bit_for_bit(pair, dtype, size, threads):
    """The dropout mask inside the fused forward, element by element: exactly the reference mask's
    zeros, and every kept unit alive (|out| clear of 0, where rounding cannot flip a ReLU)."""
    backend, case = pair
    rows, cols = BIG if size == "big" else SMALL
    args, kwargs = inputs(case, rows, cols, dtype)
    with small_chunks(backend, SMALL_MIN_CHUNK) if size == "small" else contextlib.nullcontext():
        got = ops.dense_forward(*args, backend=backend, **kwargs)
    keep, seed, stream = args[4:7]
    dropped = ref.dropout_mask(got.shape, keep, seed, stream, dtype) == 0
    assert dropped.any() and not dropped.all()
    np.testing.assert_array_equal(got[dropped], 0)
    alive = ~dropped & (np.abs(ref.dense_forward(*args, **kwargs)) > 1e-3)
    assert np.count_nonzero(got[alive] == 0) == 0


def test_the_sizes_make_several_chunks_and_a_ragged_last_one():
    """The sizes above do what their comments say (the numba driver's own splitting rule, which
    the cython one matches: test_thresholds_agree_between_backends)."""

    def layout(n_items, per_item, align, min_chunk=None):
        previous = numba_common.set_min_chunk(min_chunk)
        try:
            nch = numba_common.n_chunks(n_items, per_item)
        finally:
            numba_common.set_min_chunk(previous)
        sizes = [hi - lo for lo, hi in (numba_common.span(c, n_items, nch, align) for c in range(nch))]
        return [s for s in sizes if s]

    rows, cols = BIG
    assert layout(rows * cols, 1, numba_common.SEG) == [34816] * 7 + [18989]
    assert layout(rows, (cols + 1) // 2, 1) == [651] * 3 + [648]
    assert layout(rows, cols, 1) == [326] * 7 + [319]
    rows, cols = SMALL
    assert layout(rows * cols, 1, numba_common.SEG, SMALL_MIN_CHUNK) == [2048] * 3 + [743]
    assert layout(rows, (cols + 1) // 2, 1, SMALL_MIN_CHUNK) == [3] * 32 + [1]
    assert layout(rows, cols, 1, SMALL_MIN_CHUNK) == [2] * 48 + [1]


@pytest.mark.skipif("cython" not in COMPILED, reason="the cython backend is not built here")
def test_thresholds_agree_between_backends():
    """House rule 7: the numba constants, the Cython modules' (from kernels/cython/_chunks.h) and
    the Philox segment length of _philox.h are the same numbers."""
    from fastmlp.kernels import cython as cy

    want = (numba_common.MIN_CHUNK, numba_common.DEFAULT_MIN_CHUNK, numba_common.MAX_CHUNKS, numba_common.SEG)
    assert want == (32768, 32768, 64, 2048)
    for module, got in cy._chunking().items():
        assert got == want, module


@pytest.mark.parametrize("backend", COMPILED)
def test_small_chunks_restores_the_threshold(backend):
    before = fastmlp.get_num_threads()
    with small_chunks(backend, 7):
        pass
    assert numba_common.MIN_CHUNK == numba_common.DEFAULT_MIN_CHUNK
    if backend == "cython":
        from fastmlp.kernels import cython as cy

        assert {v[0] for v in cy._chunking().values()} == {numba_common.DEFAULT_MIN_CHUNK}
    assert fastmlp.get_num_threads() == before
