"""Small training runs BLAS on one thread (threads.serial_blas_if_small): a second OpenBLAS thread
does not pay for small products and stalls every step on a busy machine (benches/NOTES.md)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastmlp
from fastmlp import threads


def _blas_threads():
    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})


def test_below_the_threshold_blas_runs_on_one_thread_and_is_restored_after():
    before = _blas_threads()
    assert before, "no BLAS library found by threadpoolctl"
    with threads.serial_blas_if_small(threads.SERIAL_BLAS_BELOW - 1):
        assert _blas_threads() == [1]
    assert _blas_threads() == before
    with threads.serial_blas_if_small(threads.SERIAL_BLAS_BELOW):
        assert _blas_threads() == before
    with pytest.raises(RuntimeError), threads.serial_blas_if_small(0):
        raise RuntimeError("the limit is lifted on the way out")
    assert _blas_threads() == before


def test_largest_product_is_rows_times_the_widest_weight_matrix():
    net = fastmlp.MLP([64, 256, 128, 10], seed=0)
    assert net.largest_product(64) == 64 * 256 * 128
    assert fastmlp.MLP([3072, 512, 512, 10], seed=0).largest_product(64) == 64 * 3072 * 512


@pytest.mark.parametrize("sizes,serial", [([64, 256, 128, 10], True), ([3072, 512, 10], False)])
def test_fit_takes_one_blas_thread_for_small_nets_only(sizes, serial):
    before = _blas_threads()
    seen = []
    X = np.random.default_rng(0).standard_normal((64, sizes[0]))
    y = np.arange(64) % sizes[-1]
    net = fastmlp.MLP(sizes, seed=0)
    net.fit(X, y, epochs=1, batch_size=64, optimizer="adam", callbacks=[lambda *_: seen.append(_blas_threads())])
    assert seen == [[1] if serial else before]
    assert _blas_threads() == before
