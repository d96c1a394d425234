"""When a fastmlp backend last called BLAS, so the compiled backends can stay off its cores.

OpenBLAS's worker threads keep spinning for ~0.1 s (2^28 cycles) after each multi-threaded call
before they sleep, and an OpenMP team spins after each parallel region. A parallel region started
while BLAS workers spin fights them for the cores, and its own spinning team then slows the next
GEMM. On the 2-core dev machine the CIFAR-shaped step (B=256, 2 threads) took 64 ms when the
fused epilogues and updates ran in parallel between the GEMMs, and 16 ms with the same chunks run
on the calling thread (GEMM floor 12.8 ms in the same run). So within QUIET_S of a BLAS call made
through a backend, the numba and cython kernels run their chunks serially — the same chunks, so
the same bits. Standalone elementwise work (no GEMM nearby) still uses every thread.
"""

import time

QUIET_S = 0.25
_last = [-1e300]


def called() -> None:
    """Record that a backend just ran a (possibly multi-threaded) BLAS or LAPACK call."""
    _last[0] = time.perf_counter()


def recent() -> bool:
    """Whether BLAS workers may still be spinning (a backend called BLAS within QUIET_S)."""
    return time.perf_counter() - _last[0] < QUIET_S


def forget() -> None:
    """Treat BLAS as long idle (tests use this to force the parallel path)."""
    _last[0] = -1e300
