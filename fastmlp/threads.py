"""One thread count for every pool fastmlp uses: Numba's, OpenMP (Cython) and BLAS."""

from __future__ import annotations

import numbers
import os
import sys
from typing import Any

from threadpoolctl import ThreadpoolController

_controller: list[Any] = [None]
_limits: list[Any] = [None]
_requested: list[int | None] = [None]


def _blas() -> ThreadpoolController:
    if _controller[0] is None:
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
