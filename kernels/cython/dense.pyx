# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Dense layers: GEMMs through scipy.linalg.cython_blas, everything around them in one fused pass.

Forward: out = x @ w (sgemm/dgemm), then ONE pass out = f(out + b) · mask with the dropout mask
generated in L1 from the Philox words (and, when asked, the pre-activation z = x @ w + b saved on
the way). Backward: ONE pass dz = dout · mask · f'(z), f' from the output a where the activation
table says it is exact (from_output) and from the saved z otherwise, that also sums dz's columns
into per-chunk float64 partials (db), then the two GEMMs.
Batch = rows: x (N, D), w (D, M), b (M,). Formulas follow kernels/reference/dense.py.

Activations are the rows of kernels/activation_table.py, by code. Identity, ReLU, leaky ReLU,
sigmoid and tanh keep hand-written loops (vectorised, branch-free); every other row runs the
table's formulas, compiled from the table into _activations.h at build time, in the row's own
loops (vectorised too: _vecmath.h's exp, expm1, log1p, tanh and erf).
"""

import numpy as np

from fastmlp.kernels._scratch import scratch
from fastmlp.kernels.activation_table import CODES, NAMES

from cython.parallel cimport prange
from libc.float cimport DBL_MAX, FLT_MAX
from libc.math cimport fabs
from libc.stdint cimport uint32_t

from _activations cimport (FM_ACT_COUNT, FM_ACT_FINGERPRINT, FM_ACT_FROM_OUTPUT, fm_act_bwd_d, fm_act_bwd_f,
                           fm_act_bwd_out_d, fm_act_bwd_out_f, fm_act_fwd_bias_d, fm_act_fwd_bias_f)
from _activations cimport FM_ACT_IDENTITY as IDENTITY
from _activations cimport FM_ACT_LEAKY_RELU as LEAKY_RELU
from _activations cimport FM_ACT_RELU as RELU
from _activations cimport FM_ACT_SIGMOID as SIGMOID
from _activations cimport FM_ACT_TANH as TANH
from _common cimport (FM_SEG, FM_WORDS, MaskKey, chunk_len, colsum_rows, combine, floating, fm_fill_words, gemm,
                      mask_key, mask_segment, n_chunks, sigmoid_bias, team, tanh_bias)

include "_chunking.pxi"

# the table this build compiled (_activations.h): tests compare it with _ctable.render() to catch
# an extension older than kernels/activation_table.py
ACTIVATION_FINGERPRINT = (<bytes>FM_ACT_FINGERPRINT).decode("ascii")


cdef void _act_piece(int code, floating *z, const floating *b, Py_ssize_t n, floating alpha) noexcept nogil:
    """z[:n] <- f(z + b) in place; one loop per activation so each loop is branch-free."""
    cdef Py_ssize_t j
    cdef floating zero = 0, u, v
    if code == IDENTITY:
        for j in range(n):
            z[j] = z[j] + b[j]
    elif code == RELU:
        for j in range(n):
            v = z[j] + b[j]
            z[j] = zero if v < zero else v  # NaN passes through, as with np.maximum
    elif code == LEAKY_RELU:
        for j in range(n):
            v = z[j] + b[j]
            u = v * alpha
            z[j] = v if v >= zero else u
    elif code == SIGMOID:
        sigmoid_bias(z, b, n)
    elif code == TANH:
        tanh_bias(z, b, n)
    elif floating is float:  # every other row: the table's f in its own loop, in double, rounded once
        fm_act_fwd_bias_f(code, z, b, alpha, n)
    else:
        fm_act_fwd_bias_d(code, z, b, alpha, n)


cdef inline void _bias_into(const floating *z, const floating *b, floating *pre, Py_ssize_t n) noexcept nogil:
    """pre[:n] <- z + b: the sum _act_piece takes f of, so pre holds exactly the z that f saw."""
    cdef Py_ssize_t j
    for j in range(n):
        pre[j] = z[j] + b[j]


cdef void _grad_piece(int code, const floating *g, const floating *a, floating *dz, Py_ssize_t n,
                      floating alpha) noexcept nogil:
    """dz[:n] <- g · f'(z), f' from the activation a = f(z) (the reference's derivative table)."""
    cdef Py_ssize_t j
    cdef floating zero = 0, one = 1, u, v
    if code == IDENTITY:
        for j in range(n):
            dz[j] = g[j] * one
    elif code == RELU:
        for j in range(n):
            u = g[j]
            v = a[j]
            dz[j] = u * (one if v > zero else zero)
    elif code == LEAKY_RELU:  # alpha > 0, so sign(a) = sign(z)
        for j in range(n):
            u = g[j]
            v = a[j]
            dz[j] = u * (one if v >= zero else alpha)
    elif code == SIGMOID:
        for j in range(n):
            v = a[j]
            dz[j] = g[j] * (v * (one - v))
    elif code == TANH:
        for j in range(n):
            v = a[j]
            dz[j] = g[j] * (one - v * v)
    elif floating is float:  # the other from-output rows (ELU): the table's f'(a), in double, rounded once
        fm_act_bwd_out_f(code, g, a, dz, alpha, n)
    else:
        fm_act_bwd_out_d(code, g, a, dz, alpha, n)


cdef inline void _grad_pre_piece(int code, const floating *g, const floating *z, floating *dz, Py_ssize_t n,
                                 floating alpha) noexcept nogil:
    """dz[:n] <- g · f'(z) from the saved pre-activation z: rows whose output does not give f'."""
    if floating is float:
        fm_act_bwd_f(code, g, z, dz, alpha, n)
    else:
        fm_act_bwd_d(code, g, z, dz, alpha, n)


cdef void _forward_rows(int code, floating[:, ::1] out, floating *pre, const floating[::1] b, floating alpha,
                        MaskKey key, floating scale, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1 of out (N, M) <- f(out + b) · mask, in place (out holds x @ w); pre (N, M),
    unless NULL, <- out + b first.

    Runs over the rows' flat range FM_SEG elements at a time; each segment is cut at row ends
    so the bias index stays contiguous, then masked while it is still in L1.
    """
    cdef uint32_t words[FM_WORDS]
    cdef Py_ssize_t m = out.shape[1], s = lo * m, end = hi * m, ln, p, j0, pl
    cdef floating *flat = &out[0, 0]
    cdef int off
    while s < end:
        ln = min(<Py_ssize_t>FM_SEG, end - s)
        p = s
        while p < s + ln:
            j0 = p % m
            pl = min(m - j0, s + ln - p)
            if pre != NULL:
                _bias_into(flat + p, &b[j0], pre + p, pl)
            _act_piece(code, flat + p, &b[j0], pl, alpha)
            p += pl
        if not key.all_kept:
            off = fm_fill_words(words, s, ln, key.stream, key.k0, key.k1)
            mask_segment(flat + s, flat + s, words + off, ln, key.thr, scale)
        s += ln


cdef inline bint _relu_without_mask(const floating *d, const floating *o, floating *z, Py_ssize_t n,
                                    floating keep_prob, floating scale, floating limit) noexcept nogil:
    """ReLU + dropout backward with no mask (why it is exact: kernels/numba_cpu/dense.py,
    _backward_rows): z <- (d · scale) · [o · keep_prob > 0]. False when some |d| > limit, where
    d · scale may overflow and only the mask tells NaN (kept) from 0 (dropped): regenerate then."""
    cdef Py_ssize_t j
    cdef int risky = 0
    for j in range(n):
        z[j] = (d[j] * scale) * (<floating>1 if o[j] * keep_prob > 0 else <floating>0)
        risky += fabs(d[j]) > limit
    return risky == 0


cdef void _backward_rows(int code, const floating[:, ::1] dout, const floating[:, ::1] out, const floating *fp,
                         floating[:, ::1] dz, double *acc, floating alpha, floating keep_prob, MaskKey key,
                         floating scale, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1: dz <- dout · mask · f'(z), f'(z) from a = out · keep_prob, or from the saved
    pre-activation fp (N, M) when fp is not NULL; acc (M,) float64 <- Σ_rows dz."""
    cdef uint32_t words[FM_WORDS]
    cdef floating g[FM_SEG]
    cdef floating a[FM_SEG]
    cdef Py_ssize_t m = out.shape[1], s = lo * m, end = hi * m, ln, j
    cdef const floating *fd = &dout[0, 0]
    cdef const floating *fo = &out[0, 0]
    cdef floating *fz = &dz[0, 0]
    cdef int off
    cdef floating limit = (FLT_MAX if floating is float else DBL_MAX) / scale
    if code == IDENTITY and key.all_kept:  # dz = dout exactly: the GEMMs read dout itself
        colsum_rows(fd, m, lo, hi, acc)
        return
    while s < end:
        ln = min(<Py_ssize_t>FM_SEG, end - s)
        if fp != NULL:  # f' from the saved pre-activation, g = dout · mask (dout itself when all are kept)
            if key.all_kept:
                _grad_pre_piece(code, fd + s, fp + s, fz + s, ln, alpha)
            else:
                off = fm_fill_words(words, s, ln, key.stream, key.k0, key.k1)
                mask_segment(fd + s, g, words + off, ln, key.thr, scale)
                _grad_pre_piece(code, g, fp + s, fz + s, ln, alpha)
        elif key.all_kept:
            _grad_piece(code, fd + s, fo + s, fz + s, ln, alpha)
        elif code != RELU or not _relu_without_mask(fd + s, fo + s, fz + s, ln, keep_prob, scale, limit):
            # the mask from the Philox words (ReLU segments get here only when dout · scale may overflow)
            off = fm_fill_words(words, s, ln, key.stream, key.k0, key.k1)
            mask_segment(fd + s, g, words + off, ln, key.thr, scale)
            for j in range(ln):
                a[j] = fo[s + j] * keep_prob
            _grad_piece(code, g, a, fz + s, ln, alpha)
        s += ln
    colsum_rows(fz, m, lo, hi, acc)


cdef void _forward(const floating[:, ::1] x, const floating[:, ::1] w, const floating[::1] b, floating[:, ::1] out,
                   floating[:, ::1] pre, int code, floating alpha, MaskKey key, floating scale) noexcept:
    """out <- f(x @ w + b) · mask (pre <- x @ w + b unless None): the GEMM, then the epilogue over row chunks."""
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], m = w.shape[1], nch = n_chunks(n, m), per, c, lo
    cdef floating *pp = &pre[0, 0] if pre is not None else NULL
    with nogil:
        gemm(False, False, <int>n, <int>m, <int>d, <floating>1, &x[0, 0], <int>d, &w[0, 0], <int>m, <floating>0,
             &out[0, 0], <int>m)
        if nch == 1:
            _forward_rows(code, out, pp, b, alpha, key, scale, 0, n)
            return
        per = chunk_len(n, nch, 1)
        for c in prange(nch, schedule='static', num_threads=team(nch)):
            lo = min(n, c * per)
            _forward_rows(code, out, pp, b, alpha, key, scale, lo, min(n, lo + per))


cdef void _backward(const floating[:, ::1] dout, const floating[:, ::1] x, const floating[:, ::1] w,
                    const floating[:, ::1] out, const floating[:, ::1] pre, floating[:, ::1] dz,
                    double[:, ::1] partial, floating[:, ::1] dx, floating[:, ::1] dw, floating[::1] db, int code,
                    floating alpha, floating keep_prob, MaskKey key, floating scale, bint need_dx) noexcept:
    """dz (and db) in one pass over row chunks, then dx = dz wᵀ (if need_dx) and dw = xᵀ dz.
    pre: the saved pre-activation, None when f' comes from the output."""
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], m = w.shape[1], nch = partial.shape[0], per, c, lo
    cdef const floating *g = &dout[0, 0] if code == IDENTITY and key.all_kept else &dz[0, 0]
    cdef const floating *fp = &pre[0, 0] if pre is not None else NULL
    with nogil:
        if nch == 1:
            _backward_rows(code, dout, out, fp, dz, &partial[0, 0], alpha, keep_prob, key, scale, 0, n)
        else:
            per = chunk_len(n, nch, 1)
            for c in prange(nch, schedule='static', num_threads=team(nch)):
                lo = min(n, c * per)
                _backward_rows(code, dout, out, fp, dz, &partial[c, 0], alpha, keep_prob, key, scale, lo,
                               min(n, lo + per))
        combine(&partial[0, 0], nch, m, &db[0])
        if need_dx:
            gemm(False, True, <int>n, <int>d, <int>m, <floating>1, g, <int>m, &w[0, 0], <int>m, <floating>0,
                 &dx[0, 0], <int>d)
        gemm(True, False, <int>d, <int>m, <int>n, <floating>1, &x[0, 0], <int>d, g, <int>m, <floating>0, &dw[0, 0],
             <int>m)


def _code(activation):
    """The activation's code in the table, checked against the table this build compiled."""
    code = CODES[activation]
    if code >= FM_ACT_COUNT:  # kernels/activation_table.py gained rows since the build: its C switch lacks them
        raise RuntimeError(f"{__name__} was built from an older activation table; rebuild the extensions")
    return code


def _checked_pre(pre, shape, op):
    """pre (the pre-activation buffer) when its shape is the layer output's; dtype and C order are
    checked where the kernel takes it."""
    if pre is not None and tuple(pre.shape) != tuple(shape):
        raise ValueError(f"{op}: pre has shape {tuple(pre.shape)}, the layer output {tuple(shape)}")
    return pre


def _dense_forward(x, w, b, int code, double keep_prob, seed, stream, double alpha, out, pre):
    """Driver shared by affine_forward and dense_forward; writes into ``out`` (and ``pre``) when given."""
    if out is None:
        out = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)
    pre = _checked_pre(pre, out.shape, "dense_forward")
    if out.size == 0:
        return out
    cdef MaskKey key = mask_key(keep_prob, seed, stream)
    if x.dtype == np.float32:  # scale = dtype(1) / dtype(keep_prob), the reference's rounding
        _forward[float](x, w, b, out, pre, code, <float>alpha, key, (<float>1) / (<float>keep_prob))
    else:
        _forward[double](x, w, b, out, pre, code, alpha, key, 1.0 / keep_prob)
    return out


def _dense_backward(dout, x, w, out, int code, double keep_prob, seed, stream, double alpha, bint need_dx, grads,
                    pre):
    """Driver shared by affine_backward (out = dout, identity, no mask) and dense_backward.

    dx is None unless ``need_dx`` (its GEMM is skipped); ``grads`` = (dx, dw, db) buffers to write into;
    ``pre`` the saved pre-activation, used only by rows whose output does not give f'.
    """
    n, m = dout.shape
    if FM_ACT_FROM_OUTPUT[code]:
        pre = None
    elif pre is None:
        raise ValueError(f"dense_backward of {NAMES[code]!r} needs the pre-activation: pass the pre= that "
                         "dense_forward filled")
    else:
        pre = _checked_pre(pre, dout.shape, "dense_backward")
    if grads is None:
        dx, dw, db = (np.empty_like(x) if need_dx else None), np.empty_like(w), np.empty(m, dtype=x.dtype)
    else:
        dx, dw, db = grads
    if m == 0:  # nothing flows back through a layer without outputs
        if need_dx:
            dx[...] = 0
        dw[...] = 0
        return (dx if need_dx else None), dw, db
    cdef MaskKey key = mask_key(keep_prob, seed, stream)
    # dz = dout exactly for an identity without dropout: then dz is an unused stand-in
    # per-thread buffers reused from call to call (kernels/_scratch.py): a training step allocates
    # nothing after the first, as with numba (a fresh 512 KiB dz was an mmap + page faults per call)
    identity = code == IDENTITY and key.all_kept
    dz = scratch("cy-dense-bwd-dz", (1, m) if identity else dout.shape, x.dtype)
    partial = scratch("cy-dense-bwd-partial", (n_chunks(n, m), m), np.float64)
    dx_buf = dx if need_dx else scratch("cy-dense-bwd-nodx", (1, 1), x.dtype)  # unused stand-in
    if x.dtype == np.float32:
        _backward[float](dout, x, w, out, pre, dz, partial, dx_buf, dw, db, code, <float>alpha, <float>keep_prob,
                         key, (<float>1) / (<float>keep_prob), need_dx)
    else:
        _backward[double](dout, x, w, out, pre, dz, partial, dx_buf, dw, db, code, alpha, keep_prob, key,
                          1.0 / keep_prob, need_dx)
    return (dx if need_dx else None), dw, db


def affine_forward(x, w, b, out=None):
    """y = x @ w + b (written into ``out`` when given)."""
    return _dense_forward(x, w, b, IDENTITY, 1.0, 0, 0, 0.0, out, None)


def affine_backward(dy, x, w, need_dx=True, grads=None):
    """Gradients of y = x @ w + b: dx = dy wᵀ (None unless need_dx), dw = xᵀ dy, db = Σ_rows dy."""
    return _dense_backward(dy, x, w, dy, IDENTITY, 1.0, 0, 0, 0.0, need_dx, grads, None)


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, out=None, pre=None):
    """out = f(x @ w + b) * mask, mask the inverted-dropout mask (all ones when keep_prob = 1).

    ``pre`` (N, M, C order, x's dtype), when given, receives the pre-activation z = x @ w + b: the
    backward of an activation whose f' its output does not give (activation_table: from_output
    False) needs it.
    """
    return _dense_forward(x, w, b, _code(activation), keep_prob, seed, stream, alpha, out, pre)


def dense_backward(
    dout, x, w, out, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, need_dx=True, grads=None,
    pre=None
):
    """Gradients (dx, dw, db) of dense_forward from its output; the dropout mask is regenerated
    (for ReLU it is read off the output instead: same bits, see _backward_rows).

    f' comes from the output where the activation table says it is exact (from_output), else from
    ``pre``, the pre-activation dense_forward saved (required then, ignored otherwise). dx is None
    unless ``need_dx``; ``grads`` = (dx, dw, db) buffers to write into.
    """
    return _dense_backward(dout, x, w, out, _code(activation), keep_prob, seed, stream, alpha, need_dx, grads, pre)
