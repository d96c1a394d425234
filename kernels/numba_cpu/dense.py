"""Dense layers: GEMMs in BLAS with preallocated outputs, everything around them fused.

Forward: ``out = x @ w`` (BLAS) then ONE pass ``out = f(out + b) · mask`` with the dropout mask
generated in-register. Backward: ONE pass ``dz = dout · mask · f'(a)`` (a recovered from ``out``)
that also sums dz's columns into per-chunk partials (db), then the two GEMMs.
Elementwise work runs in segments of SEG elements that stay in L1, so the few sweeps over a
segment (activation, mask) cost one trip to memory. Batch = rows: x (N, D), w (D, M).
"""

import numpy as np
from numba import njit, prange

from .._scratch import scratch
from ..activation_table import BY_NAME, CODES
from ._common import ERROR_MODEL, SEG, blas_called, largest, like, n_chunks, parallel_kernel, span
from ._rowops import bias_add, col_sums, combine
from ._table_loops import HAND_WRITTEN
from .activations import RELU, act_segment, grad_segment, table_variant
from .rng import fill_words, keep_threshold, word_scratch


@njit(cache=True, error_model=ERROR_MODEL)
def _forward_rows(code, masked, out, b_tiled, pre, alpha, keep_prob, thr, k0, k1, stream, stage, words, lo, hi):
    """Rows lo..hi-1 of out (N, M) <- f(out + b) · mask, in place (out holds x @ w).

    Works on the rows' flat range in L1-sized segments, so narrow layers pay no per-row cost;
    b_tiled[k] = b[k % M] (length SEG + M) makes the bias of any flat segment one contiguous slice.
    pre (N, M) or (0, 0): when not empty, it receives the pre-activation out + b.
    """
    m = out.shape[1]
    zero = like(0.0, out)
    scale = like(1.0, out) / like(keep_prob, out)  # the reference's rounding of 1/keep_prob
    thr, k0, k1, stream = np.uint64(thr), np.uint64(k0), np.uint64(k1), np.uint64(stream)
    flat = out.reshape(out.size)
    flat_pre = pre.reshape(pre.size)
    for s in range(lo * m, hi * m, SEG):
        ln = min(SEG, hi * m - s)
        seg = flat[s : s + ln]
        bias = b_tiled[s % m : s % m + ln]
        if flat_pre.size:
            z = flat_pre[s : s + ln]
            for j in range(ln):
                z[j] = seg[j] + bias[j]
            act_segment(code, z, seg, alpha)
        else:
            act_segment(code, seg, None, alpha, bias)
        if masked:
            off = fill_words(words, stage, s, ln, stream, k0, k1)
            w = words[off : off + ln]
            for j in range(ln):
                seg[j] = seg[j] * (scale if np.uint64(w[j]) < thr else zero)


@parallel_kernel
def _forward_parallel(code, masked, out, b_tiled, pre, alpha, keep_prob, thr, k0, k1, stream, stages, words, nch):
    """_forward_rows over nch row chunks in parallel."""
    for c in prange(nch):
        lo, hi = span(c, out.shape[0], nch, 1)
        _forward_rows(
            code, masked, out, b_tiled, pre, alpha, keep_prob, thr, k0, k1, stream, stages[c], words[c], lo, hi
        )


@njit(cache=True, error_model=ERROR_MODEL)
def _backward_rows(
    code, masked, dout, out, pre, dz, acc, alpha, keep_prob, thr, k0, k1, stream, stage, words, tmp, lo, hi
):
    """Rows lo..hi-1: dz <- dout · mask · f'(z); acc (M,) float64 <- Σ_rows dz. f'(z) comes from
    the pre-activation pre (N, M) when it is not empty, else from a = out · keep_prob.

    Elementwise work runs over the rows' flat range in segments; the column sums follow row by
    row while the chunk is still in cache. tmp (2, SEG): the masked gradient and a.
    """
    m = out.shape[1]
    zero = like(0.0, out)
    one = like(1.0, out)
    kp = like(keep_prob, out)
    scale = one / kp
    limit = largest(out) / scale  # |dout| above this may overflow in dout · scale
    thr, k0, k1, stream = np.uint64(thr), np.uint64(k0), np.uint64(k1), np.uint64(stream)
    fd = dout.reshape(dout.size)
    fo = out.reshape(out.size)
    fz = dz.reshape(dz.size)
    fp = pre.reshape(pre.size)
    for s in range(lo * m, hi * m, SEG):
        ln = min(SEG, hi * m - s)
        ds = fd[s : s + ln]
        os = fo[s : s + ln]
        zs = fz[s : s + ln]
        if fp.size:
            g = ds
            if masked:
                off = fill_words(words, stage, s, ln, stream, k0, k1)
                w = words[off : off + ln]
                g = tmp[0, :ln]
                for j in range(ln):
                    g[j] = ds[j] * (scale if np.uint64(w[j]) < thr else zero)
            grad_segment_pre(code, g, fp[s : s + ln], zs, alpha)
            continue
        if masked and code == RELU:
            # ReLU needs no mask: a = out·keep_prob > 0 only where the unit was kept (dropped
            # units output 0), so there the mask is `scale`; where a <= 0 the reference's
            # (dout · mask) · 0 is ±0 (or NaN for a non-finite dout) whatever the mask, unless
            # dout · scale overflows for a kept unit (NaN, against 0 for a dropped one). Segments
            # where that can happen take the regenerating path below. Saves the Philox words,
            # the backward epilogue's largest cost (benches/NOTES.md change 16).
            risky = 0
            for j in range(ln):
                zs[j] = (ds[j] * scale) * (one if os[j] * kp > 0 else zero)
                risky += 1 if abs(ds[j]) > limit else 0
            if risky == 0:
                continue
        if masked:
            off = fill_words(words, stage, s, ln, stream, k0, k1)
            w = words[off : off + ln]
            g = tmp[0, :ln]
            a = tmp[1, :ln]
            for j in range(ln):
                g[j] = ds[j] * (scale if np.uint64(w[j]) < thr else zero)
                a[j] = os[j] * kp
            grad_segment(code, g, a, zs, alpha)
        else:
            grad_segment(code, ds, os, zs, alpha)
    acc[:] = 0.0
    for i in range(lo, hi):
        row = dz[i]
        for j in range(m):
            acc[j] += row[j]


@parallel_kernel
def _backward_parallel(
    code, masked, dout, out, pre, dz, partial, alpha, keep_prob, thr, k0, k1, stream, stages, words, tmp, nch
):
    """_backward_rows over nch row chunks in parallel, chunk c summing into partial[c]."""
    for c in prange(nch):
        lo, hi = span(c, out.shape[0], nch, 1)
        _backward_rows(
            code,
            masked,
            dout,
            out,
            pre,
            dz,
            partial[c],
            alpha,
            keep_prob,
            thr,
            k0,
            k1,
            stream,
            stages[c],
            words[c],
            tmp[c],
            lo,
            hi,
        )


def _rng_args(keep_prob, seed, stream, nch):
    """(masked, threshold, key low, key high, stream, staging, words) for the kernels, as Python ints
    (cast inside: building NumPy scalars here would add to every call); 1-chunk dummies if unmasked."""
    masked = keep_prob < 1.0
    stages, words = word_scratch(nch)  # one row per chunk even unmasked: kernels index stages[c]
    seed = int(seed)
    return masked, keep_threshold(keep_prob), seed & 0xFFFFFFFF, seed >> 32, int(stream), stages, words


def affine_forward(x, w, b, out=None):
    """y = x @ w + b (into ``out`` when given)."""
    y = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype) if out is None else out
    np.dot(x, w, out=y)
    blas_called()
    return bias_add(y, b)


def _weight_grads(dz, x, w, need_dx, grads):
    """dx = dz wᵀ (if needed), dw = xᵀ dz: the backward GEMMs, into ``grads`` when given."""
    dx = None
    if need_dx:
        dx = np.empty_like(x) if grads is None else grads[0]
        np.dot(dz, w.T, out=dx)
    dw = np.empty_like(w) if grads is None else grads[1]
    np.dot(x.T, dz, out=dw)
    blas_called()
    return dx, dw


def affine_backward(dy, x, w, need_dx=True, grads=None):
    """Gradients of y = x @ w + b: dx = dy wᵀ (None unless need_dx), dw = xᵀ dy, db = Σ_rows dy."""
    dx, dw = _weight_grads(dy, x, w, need_dx, grads)
    return dx, dw, col_sums(dy, out=None if grads is None else grads[2])


def _tiled(b, length):
    """b repeated to ``length`` entries, in a reused per-thread buffer (np.resize would allocate)."""
    m = b.shape[0]
    bt = scratch("dense-fwd-btile", (length,), b.dtype)
    full = (length // m) * m
    bt[:full].reshape(-1, m)[...] = b
    bt[full:] = b[: length - full]
    return bt


# The hand-written rows all recover f' from the output, so their kernels never take the
# pre-activation branch; table_variant's copies bind the table's loop here.
grad_segment_pre = grad_segment

_forward_rows_table = table_variant(_forward_rows)
_forward_parallel_table = table_variant(_forward_parallel, _forward_rows=_forward_rows_table)
_backward_rows_table = table_variant(_backward_rows)
_backward_parallel_table = table_variant(_backward_parallel, _backward_rows=_backward_rows_table)
_NO_PRE = {np.dtype(np.float32): np.empty((0, 0), np.float32), np.dtype(np.float64): np.empty((0, 0), np.float64)}


def _kernels(activation, forward):
    """(row kernel, parallel kernel, code) for an activation: this module's own for the rows
    activations.py writes by hand, their table copies for the others."""
    code = CODES[activation]
    hand = activation in HAND_WRITTEN
    if forward:
        return (
            (_forward_rows, _forward_parallel, code) if hand else (_forward_rows_table, _forward_parallel_table, code)
        )
    return (
        (_backward_rows, _backward_parallel, code) if hand else (_backward_rows_table, _backward_parallel_table, code)
    )


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, out=None, pre=None):
    """out = f(x @ w + b) · mask, mask the inverted-dropout mask (all ones when keep_prob = 1);
    ``pre`` (N, M), when given, receives the pre-activation x @ w + b."""
    n, m = x.shape[0], w.shape[1]
    if out is None:
        out = np.empty((n, m), dtype=x.dtype)
    np.dot(x, w, out=out)
    blas_called()
    nch = n_chunks(n, m)
    masked, thr, k0, k1, stream, stages, words = _rng_args(keep_prob, seed, stream, nch)
    b_tiled = _tiled(b, min(n * m, SEG) + m)  # repeats b: b_tiled[k] = b[k % m]
    rows, parallel, code = _kernels(activation, True)
    pre = _NO_PRE[out.dtype] if pre is None else pre
    args = (code, masked, out, b_tiled, pre, float(alpha), float(keep_prob), thr, k0, k1, stream)
    if nch == 1:
        rows(*args, stages[0], words[0], 0, n)
    else:
        parallel(*args, stages, words, nch)
    return out


def dense_backward(
    dout,
    x,
    w,
    out,
    activation="relu",
    keep_prob=1.0,
    seed=0,
    stream=0,
    alpha=0.01,
    need_dx=True,
    grads=None,
    pre=None,
):
    """Gradients (dx, dw, db) of dense_forward from its output; the dropout mask is regenerated
    (for ReLU it is read off the output instead: same bits, see _backward_rows). Activations whose
    output does not give f' (kernels/activation_table.py) take it from ``pre``, the pre-activation.

    dx is None unless ``need_dx``; ``grads`` = (dx, dw, db) buffers to write into.
    """
    n, m = out.shape
    nch = n_chunks(n, m)
    masked, thr, k0, k1, stream, stages, words = _rng_args(keep_prob, seed, stream, nch)
    dz = scratch("dense-bwd-dz", dout.shape, dout.dtype)
    partial = scratch("dense-bwd-partial", (nch, m), np.float64)
    tmp = scratch("dense-bwd-tmp", (stages.shape[0], 2, min(n * m, SEG)), x.dtype)
    rows, parallel, code = _kernels(activation, False)
    pre = pre if pre is not None and not BY_NAME[activation].from_output else _NO_PRE[out.dtype]
    args = (code, masked, dout, out, pre, dz)
    hyper = (float(alpha), float(keep_prob), thr, k0, k1, stream)
    if nch == 1:
        rows(*args, partial[0], *hyper, stages[0], words[0], tmp[0], 0, n)
    else:
        parallel(*args, partial, *hyper, stages, words, tmp, nch)
    dx, dw = _weight_grads(dz, x, w, need_dx, grads)
    return dx, dw, combine(partial, x.dtype, None if grads is None else grads[2])
