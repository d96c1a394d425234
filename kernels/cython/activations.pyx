# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""ReLU, leaky ReLU and PReLU, forward and backward: one fused pass each, float32/float64.

Formulas and NaN behaviour follow kernels/reference/activations.py. The element loops are
fm_pointwise / fm_prelu_rows in _vecmath.h (AVX2 and baseline copies): compiled for SSE2 only,
leaky and PReLU backward ran 1.4-1.8x Numba's time.
"""

import numpy as np

from cython.parallel cimport prange

from _common cimport (FM_LEAKY_BWD, FM_LEAKY_FWD, FM_RELU_BWD, FM_RELU_FWD, chunk_len, combine, floating,
                      fm_pointwise_d, fm_pointwise_f, fm_prelu_rows_d, fm_prelu_rows_f, n_chunks, team)

include "_chunking.pxi"


cdef inline void _pointwise_range(int code, const floating *a, const floating *b, floating *out, floating alpha,
                                  Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """out[lo:hi] <- op(a, b) (b NULL for the forward ops)."""
    cdef const floating *bl = b + lo if b != NULL else NULL
    if floating is float:
        fm_pointwise_f(code, a + lo, bl, out + lo, alpha, hi - lo)
    else:
        fm_pointwise_d(code, a + lo, bl, out + lo, alpha, hi - lo)


cdef void _pointwise(int code, const floating[::1] a, const floating[::1] b, floating[::1] out,
                     floating alpha) noexcept:
    """_pointwise_range over all of out, in parallel chunks when large."""
    cdef Py_ssize_t n = out.shape[0], nch = n_chunks(n, 1), per, c, lo
    cdef const floating *bp = &b[0] if b is not None else NULL
    with nogil:
        if nch == 1:
            _pointwise_range(code, &a[0], bp, &out[0], alpha, 0, n)
            return
        per = chunk_len(n, nch, 16)
        for c in prange(nch, schedule='static', num_threads=team(nch)):
            lo = min(n, c * per)
            _pointwise_range(code, &a[0], bp, &out[0], alpha, lo, min(n, lo + per))


def _run(int code, a, b, double alpha):
    """Flat views of a (and b) of one dtype -> a new array of a's shape."""
    out = np.empty_like(a)
    fb = None if b is None else b.reshape(-1)
    if a.dtype == np.float32:
        _pointwise[float](code, a.reshape(-1), fb, out.reshape(-1), <float>alpha)
    else:
        _pointwise[double](code, a.reshape(-1), fb, out.reshape(-1), alpha)
    return out


def relu_forward(x):
    """max(0, x)."""
    return _run(FM_RELU_FWD, x, None, 0.0)


def relu_backward(dy, y):
    """dy where the unit fired (y > 0), else 0."""
    return _run(FM_RELU_BWD, dy, y, 0.0)


def leaky_relu_forward(x, alpha=0.01):
    """x if x >= 0 else alpha * x."""
    return _run(FM_LEAKY_FWD, x, None, alpha)


def leaky_relu_backward(dy, x, alpha=0.01):
    """dy if x >= 0 else alpha * dy."""
    return _run(FM_LEAKY_BWD, dy, x, alpha)


# ---------------------------------------------------------------------------------------------
# PReLU: one slope per column of x (N, M).
# ---------------------------------------------------------------------------------------------


cdef inline void _prelu_rows(const floating[:, ::1] x, const floating *dy, const floating[::1] alpha,
                             floating[:, ::1] out, double *acc, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1. Forward (dy NULL): out = x or alpha x. Backward: out = dy or alpha dy and
    acc (M,) float64 <- Σ_rows dy x over the negative part."""
    cdef Py_ssize_t j, m = x.shape[1]
    cdef const floating *dl = dy + lo * m if dy != NULL else NULL
    if dy != NULL:
        for j in range(m):
            acc[j] = 0.0
    if lo >= hi:
        return
    if floating is float:
        fm_prelu_rows_f(&x[lo, 0], dl, &alpha[0], &out[lo, 0], acc, m, hi - lo)
    else:
        fm_prelu_rows_d(&x[lo, 0], dl, &alpha[0], &out[lo, 0], acc, m, hi - lo)


cdef void _prelu(const floating[:, ::1] x, const floating[:, ::1] dy, const floating[::1] alpha,
                 floating[:, ::1] out, double[:, ::1] partial, floating[::1] dalpha) noexcept:
    """_prelu_rows over row chunks (one chunk per partial row), then dalpha from the partials."""
    cdef Py_ssize_t n = x.shape[0], nch = partial.shape[0], per = chunk_len(n, nch, 1), c, lo
    cdef const floating *dp = &dy[0, 0] if dy is not None else NULL
    with nogil:
        if nch == 1:
            _prelu_rows(x, dp, alpha, out, &partial[0, 0], 0, n)
        else:
            for c in prange(nch, schedule='static', num_threads=team(nch)):
                lo = min(n, c * per)
                _prelu_rows(x, dp, alpha, out, &partial[c, 0], lo, min(n, lo + per))
        if dp != NULL:
            combine(&partial[0, 0], nch, x.shape[1], &dalpha[0])


def prelu_forward(x, alpha):
    """Leaky ReLU with one learned slope per unit: x (N, M), alpha (M,)."""
    out = np.empty_like(x)
    partial = np.empty((n_chunks(x.shape[0], x.shape[1]), 1))  # unused by the forward pass
    if x.dtype == np.float32:
        _prelu[float](x, None, alpha, out, partial, None)
    else:
        _prelu[double](x, None, alpha, out, partial, None)
    return out


def prelu_backward(dy, x, alpha):
    """Returns dx and dalpha = Σ_rows dy·x over the negative part (He et al. 2015)."""
    dx = np.empty_like(x)
    dalpha = np.empty_like(alpha)
    partial = np.empty((n_chunks(x.shape[0], x.shape[1]), x.shape[1]))
    if x.dtype == np.float32:
        _prelu[float](x, dy, alpha, dx, partial, dalpha)
    else:
        _prelu[double](x, dy, alpha, dx, partial, dalpha)
    return dx, dalpha
