"""Run by tests/test_reliability.py in a subprocess under NUMBA_THREADING_LAYER=workqueue (Numba's
fallback layer, which aborts the process on concurrent parallel launches): four Python threads
call chunked kernels of numba (and of cython's OpenMP, where built) at once; each must get the
single-threaded answer and nothing abort."""

import sys
import threading

import numba
import numpy as np

from fastmlp import backends, ops
from fastmlp.kernels import _blas_clock

_blas_clock.QUIET_S = -1.0  # every chunked kernel launches its parallel region

rng = np.random.default_rng(0)
x = rng.standard_normal((512, 300)).astype(np.float32)
w0, dw = rng.standard_normal((512, 300)), rng.standard_normal((512, 300))


COMPILED = [name for name in ("numba", "cython") if backends.is_available(name)]


def results():
    out = []
    for backend in COMPILED:
        w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
        ops.adam_update(w, dw, m, v, 1, backend=backend)
        out += [
            ops.dropout_forward(x, 0.5, 7, 1, backend=backend),
            ops.relu_forward(x, backend=backend),
            ops.softmax_cross_entropy(x, np.arange(512) % 300, backend=backend)[1],
            w,
        ]
    return out


want = results()
failures = []


def work():
    for _ in range(10):
        for got, ref in zip(results(), want):
            if not np.array_equal(got, ref):
                failures.append("a result differs from the single-threaded one")


threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("layer", numba.threading_layer(), "failures", len(failures))
sys.exit(1 if failures else 0)
