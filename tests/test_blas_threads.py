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


_FRESH_PROCESS = """
import numpy as np
from threadpoolctl import threadpool_info
import fastmlp
from fastmlp import optim, threads
with threads.serial_blas_if_small(0):  # before any compiled kernel has loaded SciPy's BLAS
    net = fastmlp.MLP([8, 16, 3], seed=0, backend="numba")
    net.train_step(np.ones((4, 8)), np.array([0, 1, 2, 0]), optim.Adam())  # Numba's np.dot: SciPy's BLAS
    print(sorted((lib["filepath"].rsplit("/", 1)[-1], lib["num_threads"]) for lib in threadpool_info()
                 if lib["user_api"] == "blas"))
"""


def test_the_limit_covers_the_blas_numba_loads_later():
    """Numba's np.dot calls SciPy's BLAS, which a fresh process loads only at a compiled kernel's
    first product: the limit taken before that must still hold for it (it once missed it, and the
    compiled step's GEMMs ran on two threads)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _FRESH_PROCESS], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    libs = eval(result.stdout.strip().splitlines()[-1])  # a list of (name, threads) the child printed
    assert len(libs) >= 2, libs  # NumPy's BLAS and SciPy's (Numba's): both found
    assert all(n == 1 for _, n in libs), libs
