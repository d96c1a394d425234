# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Parameter updates, in place, each ONE fused pass over w, dw and the optimizer state.

Same formulas and operation order as kernels/reference/optim.py, every scalar cast to the array
dtype first, so float32 results round like the reference. weight_decay is the L2 strength:
g = dw + λ·w. The reference makes 3-6 passes with temporaries, this one pass (BENCH.md's
figures: benches/NOTES.md change 1). The element loop is fm_update in _vecmath.h
(AVX2 and baseline copies); the codes and the hyper-parameters h1..h6 are:

SGD: w -= lr g. MOMENTUM: v = h1 v − lr g; w += v. NESTEROV: the same v, then
w += h2 v_prev + h3 v (h2 = −μ, h3 = 1 + μ). ADAM: m = h1 m + h3 g, v = h2 v + h4 g²,
w −= lr (m / h5) / (sqrt(v / h6) + eps). RMSPROP: c = h1 c + h2 g²; ADAGRAD: c += g²;
both w −= lr g / (sqrt(c) + eps).
"""

import numpy as np

from cython.parallel cimport prange

from _common cimport (FM_ADAGRAD, FM_ADAM, FM_MOMENTUM, FM_NESTEROV, FM_RMSPROP, FM_SGD, chunk_len, floating,
                      fm_update_d, fm_update_f, n_chunks, team)

include "_chunking.pxi"


cdef inline void _update_range(int code, floating *w, const floating *dw, floating *s1, floating *s2, bint use_wd,
                               const floating *h, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Elements lo..hi-1 of w and the states s1, s2 (NULL when unused) <- one step of ``code``."""
    cdef floating *a = s1 + lo if s1 != NULL else NULL
    cdef floating *b = s2 + lo if s2 != NULL else NULL
    if floating is float:
        fm_update_f(code, w + lo, dw + lo, a, b, use_wd, h, hi - lo)
    else:
        fm_update_d(code, w + lo, dw + lo, a, b, use_wd, h, hi - lo)


cdef void _update(int code, floating[::1] w, const floating[::1] dw, floating[::1] s1, floating[::1] s2,
                  const floating[::1] h, bint use_wd) noexcept:
    """_update_range over all of w, in parallel chunks when large."""
    cdef Py_ssize_t n = w.shape[0], nch = n_chunks(n, 1), per, c, lo
    cdef floating *a = &s1[0] if s1 is not None else NULL
    cdef floating *b = &s2[0] if s2 is not None else NULL
    with nogil:
        if nch == 1:
            _update_range(code, &w[0], &dw[0], a, b, use_wd, &h[0], 0, n)
            return
        per = chunk_len(n, nch, 16)
        for c in prange(nch, schedule='static', num_threads=team(nch)):
            lo = min(n, c * per)
            _update_range(code, &w[0], &dw[0], a, b, use_wd, &h[0], lo, min(n, lo + per))


def _run(int code, w, dw, s1, s2, wd, lr, h1=0.0, h2=0.0, h3=0.0, h4=0.0, h5=0.0, h6=0.0, eps=0.0):
    """Flat views of w, dw and the states (C-contiguous, w's dtype), updated in place.

    Each hyper-parameter is rounded to w's dtype once, as the reference's ``dt(...)`` does.
    """
    h = np.array((wd, lr, h1, h2, h3, h4, h5, h6, eps), dtype=w.dtype)
    f1 = None if s1 is None else s1.reshape(-1)
    f2 = None if s2 is None else s2.reshape(-1)
    if w.dtype == np.float32:
        _update[float](code, w.reshape(-1), dw.reshape(-1), f1, f2, h, wd != 0)
    else:
        _update[double](code, w.reshape(-1), dw.reshape(-1), f1, f2, h, wd != 0)


def sgd_update(w, dw, lr, weight_decay=0.0):
    """w −= lr · g."""
    _run(FM_SGD, w, dw, None, None, weight_decay, lr)


def momentum_update(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    """v = μ v − lr g; w += v, or for Nesterov (the notes' form) w += −μ v_prev + (1 + μ) v."""
    if nesterov:
        _run(FM_NESTEROV, w, dw, velocity, None, weight_decay, lr, momentum, -momentum, 1 + momentum)
    else:
        _run(FM_MOMENTUM, w, dw, velocity, None, weight_decay, lr, momentum)


def adam_update(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam with bias correction; t is the 1-based step number of this update."""
    _run(FM_ADAM, w, dw, m, v, weight_decay, lr, beta1, beta2, 1 - beta1, 1 - beta2, 1 - beta1**t, 1 - beta2**t,
         eps)


def rmsprop_update(w, dw, cache, lr=1e-2, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
    """cache = ρ cache + (1 − ρ) g²; w −= lr g / (sqrt(cache) + eps)."""
    _run(FM_RMSPROP, w, dw, cache, None, weight_decay, lr, decay_rate, 1 - decay_rate, eps=eps)


def adagrad_update(w, dw, cache, lr=1e-2, eps=1e-8, weight_decay=0.0):
    """cache += g²; w −= lr g / (sqrt(cache) + eps)."""
    _run(FM_ADAGRAD, w, dw, cache, None, weight_decay, lr, eps=eps)
