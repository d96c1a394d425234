# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Elementwise activations, forward and backward: one fused pass each, float32/float64.

ReLU, leaky ReLU and PReLU have hand-written loops: fm_pointwise / fm_prelu_rows in _vecmath.h
(AVX2 and baseline copies): compiled for SSE2 only, leaky and PReLU backward fell well behind
Numba (benches/NOTES.md, 'Measurements behind code comments': cython activations). Every other
row of kernels/activation_table.py (ELU, GELU, ...) runs the table's own formulas, compiled into
_activations.h at build time, each row in loops of its own (vectorised, AVX2 and baseline
copies), through one generic pair of drivers (table_forward / table_backward); the named ops are
generated from the table at import.
Formulas and NaN behaviour follow kernels/reference/activations.py.
"""

import numpy as np

from fastmlp.kernels.activation_table import elementwise_ops

from cython.parallel cimport prange
from libc.stddef cimport size_t

from _activations cimport (FM_ACT_COUNT, fm_act_bwd_d, fm_act_bwd_f, fm_act_fwd_d, fm_act_fwd_f, fm_verf_d_loop,
                           fm_vexp_d_loop, fm_vexpm1_d_loop, fm_vlog1p_d_loop, fm_vtanh_d_loop)
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
# The activation table's other rows: its scalar formulas (_activations.h), in double, rounded once.
# ---------------------------------------------------------------------------------------------


cdef inline void _table_range(int code, const floating *dy, const floating *x, floating *out, double alpha,
                              Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """out[lo:hi] <- f(x) (dy NULL), else dy · f'(x), x the forward input: the row's own loop."""
    if floating is float:
        if dy == NULL:
            fm_act_fwd_f(code, x + lo, out + lo, alpha, hi - lo)
        else:
            fm_act_bwd_f(code, dy + lo, x + lo, out + lo, alpha, hi - lo)
    else:
        if dy == NULL:
            fm_act_fwd_d(code, x + lo, out + lo, alpha, hi - lo)
        else:
            fm_act_bwd_d(code, dy + lo, x + lo, out + lo, alpha, hi - lo)


cdef void _table(int code, const floating[::1] dy, const floating[::1] x, floating[::1] out, double alpha) noexcept:
    """_table_range over all of out, in parallel chunks when large (as _pointwise)."""
    cdef Py_ssize_t n = out.shape[0], nch = n_chunks(n, 1), per, c, lo
    cdef const floating *dp = &dy[0] if dy is not None else NULL
    with nogil:
        if nch == 1:
            _table_range(code, dp, &x[0], &out[0], alpha, 0, n)
            return
        per = chunk_len(n, nch, 16)
        for c in prange(nch, schedule='static', num_threads=team(nch)):
            lo = min(n, c * per)
            _table_range(code, dp, &x[0], &out[0], alpha, lo, min(n, lo + per))


def _run_table(int code, dy, x, double alpha):
    """Flat views of x (and dy) of one dtype -> a new C-order array of x's shape."""
    if not 0 <= code < FM_ACT_COUNT:  # a row added to the table after this build: its C switch lacks it
        raise RuntimeError(f"{__name__} was built from an older activation table; rebuild the extensions")
    if dy is not None and dy.shape != x.shape:  # the flat loops would read past the smaller one
        raise ValueError(f"dy has shape {dy.shape}, x {x.shape}")
    out = np.empty(x.shape, dtype=x.dtype)  # C order, so its flat view is itself
    fd = None if dy is None else dy.reshape(-1)
    if x.dtype == np.float32:  # alpha rounded to the dtype first, as the reference does
        _table[float](code, fd, x.reshape(-1), out.reshape(-1), <float>alpha)
    else:
        _table[double](code, fd, x.reshape(-1), out.reshape(-1), alpha)
    return out


def table_forward(code, x, alpha):
    """f(x) elementwise for the table row ``code`` (any shape)."""
    return _run_table(code, None, x, alpha)


def table_backward(code, dy, x, alpha):
    """dy · f'(x) elementwise for the table row ``code``, x the forward input."""
    return _run_table(code, dy, x, alpha)


ctypedef void (*_math_loop)(const double *, double *, size_t) noexcept nogil


def _vector_math(str name, const double[::1] x):
    """fm_v<name>_d of _vecmath.h over x (exp, expm1, log1p, tanh or erf: the math the table's rows
    run on), in a loop compiled as the rows' loops are: for the tests."""
    cdef _math_loop loop
    if name == "exp":
        loop = fm_vexp_d_loop
    elif name == "expm1":
        loop = fm_vexpm1_d_loop
    elif name == "log1p":
        loop = fm_vlog1p_d_loop
    elif name == "tanh":
        loop = fm_vtanh_d_loop
    elif name == "erf":
        loop = fm_verf_d_loop
    else:
        raise ValueError(f"no vector {name!r}")
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    if x.shape[0]:
        loop(&x[0], &o[0], x.shape[0])
    return out


# ELU, GELU, ...: <name>_forward(x[, alpha]) and <name>_backward(dy, x[, alpha]) for every row but
# these: relu and leaky_relu have the loops above; sigmoid and tanh stay with the reference, whose
# backward ops take the forward output, not the input (identity has no op)
_NOT_GENERATED = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
globals().update(elementwise_ops(__name__, table_forward, table_backward, skip=_NOT_GENERATED))


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
