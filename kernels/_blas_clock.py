"""When a fastmlp backend last called BLAS, so the compiled backends can stay off its cores.

OpenBLAS's worker threads keep spinning for ~0.1 s (2^28 cycles) after each multi-threaded call
before they sleep, and an OpenMP team spins after each parallel region. A parallel region started
while BLAS workers spin fights them for the cores, and its own spinning team then slows the next
GEMM. Running the fused epilogues and updates between the GEMMs on the calling thread instead of in
parallel brought the CIFAR-shaped step at 2 threads from several times its GEMM floor to near it
(benches/NOTES.md change 7, and 'Measurements behind code comments': _blas_clock). So within
QUIET_S of a BLAS call made through a backend, the numba and cython kernels run their chunks
serially — the same chunks, so the same bits. Standalone elementwise work (no GEMM nearby) still
uses every thread.
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
