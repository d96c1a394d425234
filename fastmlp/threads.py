"""One thread count for every pool fastmlp uses: Numba's, OpenMP (Cython) and BLAS."""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
from collections.abc import Iterator
from typing import Any

from threadpoolctl import ThreadpoolController

_controller: list[Any] = [None]
_limits: list[Any] = [None]
_requested: list[int | None] = [None]


def _blas() -> ThreadpoolController:
    if _controller[0] is None:
        # The controller sees only the BLAS libraries loaded when it is made. Numba's np.dot
        # calls SciPy's BLAS (its own OpenBLAS next to NumPy's), loaded lazily on a compiled
        # kernel's first product: load it now, or every limit would miss the compiled path's GEMMs.
        import scipy.linalg.cython_blas  # noqa: F401

        _controller[0] = ThreadpoolController()
    return _controller[0]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in Numba kernels, OpenMP kernels and BLAS.

    Parameters
    ----------
    n : int >= 1

    Raises
    ------
    ValueError
        If n < 1 or n exceeds the threads Numba was started with (``NUMBA_NUM_THREADS``).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:  # np.int64 too
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    if "numba" in sys.modules or _numba_wanted():
        import numba

        limit = int(getattr(numba.config, "NUMBA_NUM_THREADS"))  # noqa: B009 - not in numba's stubs
        if n > limit:
            raise ValueError(f"n={n} exceeds NUMBA_NUM_THREADS={limit}")
        numba.set_num_threads(n)
    if _limits[0] is not None:
        _limits[0].restore_original_limits()
    _limits[0] = _blas().limit(limits=n)
    _requested[0] = n


def _numba_wanted() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def get_num_threads() -> int:
    """Threads in use: the value last set, else Numba's default, else the CPU count."""
    if _requested[0] is not None:
        return _requested[0]
    try:
        import numba

        return int(numba.get_num_threads())
    except ImportError:
        return os.cpu_count() or 1


def blas_info() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded in this process, as threadpoolctl reports them."""
    return [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "threading_layer", "filepath")}
        for info in _blas().info()
    ]


# Training whose largest matrix product has fewer multiply-adds than this runs BLAS on one thread:
# on the 2-core dev machine a second OpenBLAS thread made such products slower or no faster even
# when idle, and on a busy machine its spin-waiting stalls every step (benches/NOTES.md, "BLAS
# threads for small products").
SERIAL_BLAS_BELOW = 8_000_000


@contextlib.contextmanager
def serial_blas_if_small(largest_product: int) -> Iterator[None]:
    """Run the block with one BLAS thread when ``largest_product`` is below ``SERIAL_BLAS_BELOW``.

    Parameters
    ----------
    largest_product : int
        Multiply-adds of the largest matrix product the block makes (rows × fan-in × fan-out).

    Notes
    -----
    BLAS threads are a process-wide setting: two threads training at once may restore each
    other's count early, which changes speed, never results. The previous count (the user's
    :func:`set_num_threads`, or BLAS's own) is restored on exit.
    """
    if largest_product >= SERIAL_BLAS_BELOW:
        yield
        return
    limiter = _blas().limit(limits=1, user_api="blas")
    try:
        yield
    finally:
        limiter.restore_original_limits()
