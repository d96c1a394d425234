"""Many training steps in ONE compiled call, for networks of Dense layers whose every epilogue fits
one chunk (the layered path would run each kernel serially anyway): per step, gather the batch's
rows, then for each layer the GEMM (BLAS, into preallocated buffers) and the fused epilogue, the
loss, the backward epilogues and GEMMs, the penalty and the optimizer update. Between kernels
there is no Python: on a small network that is most of a layered step (benches/NOTES.md,
"Compiled steps").

Every elementwise kernel is the one the layered path calls for a single chunk (dense.py's row
workers, losses.py's, optim.py's _update), with the same arguments; the dropout key of step s is
the layered path's ``step_seed(seed, s)``. So masks are the same bits, and parameters differ only
by the BLAS library (Numba calls SciPy's OpenBLAS, NumPy its own) and the penalty's summation
order (it is reported, never used in a gradient).

The model's parameters come as one typed list of flat views (W0, b0, W1, b1, ...); everything
else the plan owns (fastmlp/_plan.py) comes flat, each layer's part at its offset (layer_ints),
sized for the largest batch (``rows``) and viewed at each batch's rows (the first nb·m
elements: C-contiguous, BLAS takes them as is).
Buffers: outs, dxs, dzs (rows · Σ widths: per layer its training output, the gradient wrt that
output, the last layer's being the loss's dscores, and the gradient before its activation),
btile (each layer's bias tiled to SEG + width: dense.py's b_tiled), acc (Σ widths, float64: the
bias-gradient sums), tmp (2, SEG) and no_pre (0, 0) (dense.py's backward scratch and empty
pre-activation), xb, yb, tb (the batch's rows, labels and targets), stage and words
(rng.fill_words's scratch).
"""

import math

import numpy as np
from numba import njit
from numba.core import config as numba_config
from numba.extending import overload

from ..activation_table import CODES
from ._common import ERROR_MODEL, SEG, n_chunks
from ._denormals import flush_denormals, restore_mode
from ._rowops import _bias_rows, _colsum_rows
from ._table_loops import HAND_WRITTEN
from .dense import _backward_rows, _forward_rows
from .losses import ATTRIBUTE_HINGE, L1, L2, SIGMOID_CE, _pointwise, _softmax_rows, _svm_rows
from .optim import _update
from .rng import keep_threshold

# loss codes: the pointwise ones are losses.py's own (SIGMOID_CE, ATTRIBUTE_HINGE, L2, L1)
SOFTMAX, SVM, SQUARED_HINGE = 10, 11, 12
POINTWISE = (SIGMOID_CE, ATTRIBUTE_HINGE, L2, L1)
# what a step's scores are counted as in the epoch's record (fastmlp/_epoch.py): class hits,
# per-element hits of a 0/1 prediction (score > 0), or regression residuals
CLASSES, ATTRIBUTES, VALUES = range(3)
# hyper layout: lr is per step (its own array); these are the optimizer's constants
H_MOMENTUM, H_BETA1, H_BETA2, H_DECAY, H_EPS = range(5)

# what the API's plan (fastmlp/_plan.py) reads: codes by name, and which models this path takes
LOSSES = {
    "softmax": (SOFTMAX, CLASSES),
    "svm": (SVM, CLASSES),
    "squared_hinge": (SQUARED_HINGE, CLASSES),
    "sigmoid": (SIGMOID_CE, ATTRIBUTES),
    "attribute_hinge": (ATTRIBUTE_HINGE, ATTRIBUTES),
    "l2": (L2, VALUES),
    "l1": (L1, VALUES),
}
OPTIMIZERS = {"sgd": 0, "momentum": 1, "nesterov": 2, "adam": 3, "rmsprop": 4, "adagrad": 5}
ACTIVATIONS = {name: CODES[name] for name in HAND_WRITTEN}
# The JIT disabled (coverage runs): the kernel runs as NumPy code, whose overflow warnings the
# caller silences (compiled, overflow is silent and the caller reports a non-finite loss).
INTERPRETED = bool(numba_config.DISABLE_JIT)
__all__ = [
    "ACTIVATIONS",
    "FIRED_AT",
    "INTERPRETED",
    "LOSSES",
    "OPTIMIZERS",
    "SEG",
    "keep_threshold",
    "takes",
    "train_steps",
]


def takes(rows, widths, sizes):
    """True when every epilogue of a step on ``rows`` rows (layers of output ``widths``) and
    every parameter's update (arrays of ``sizes`` elements) is one chunk: the layered path would
    run them serially too, so one compiled call loses no threads. (CIFAR's 3072 × 512 weights at
    batch 64 fit the first rule, not the second: their update alone took a compiled step from
    ~8 to ~10 ms, benches/NOTES.md "Compiled steps".)"""
    return all(n_chunks(rows, m) == 1 for m in widths) and all(n_chunks(size) == 1 for size in sizes)


_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def step_key(seed, step):
    """SplitMix64 of (seed, step): the dropout key of a training step (fastmlp.model.step_seed).
    In Python (the JIT disabled) on exact integers; compiled, on wrapping uint64 (_ov_step_key)."""
    z = (int(seed) + (int(step) + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return np.uint64(z ^ (z >> 31))


@overload(step_key)
def _ov_step_key(seed, step):  # pragma: no cover - typing runs at compile time only
    def impl(seed, step):
        z = seed + np.uint64(step + 1) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))

    return impl


@njit(cache=True, error_model=ERROR_MODEL)
def _gather(X, order, lo, nb, xb):
    """xb[:nb] <- rows order[lo : lo + nb] of X (2-d; labels go through _gather_labels)."""
    for i in range(nb):
        src = X[order[lo + i]]
        dst = xb[i]
        for j in range(src.shape[0]):
            dst[j] = src[j]


@njit(cache=True, error_model=ERROR_MODEL)
def _gather_labels(y, order, lo, nb, yb):
    for i in range(nb):
        yb[i] = y[order[lo + i]]


@njit(cache=True, error_model=ERROR_MODEL)
def _tile(b, bt):
    """bt[k] <- b[k % M]: dense.py's b_tiled, so any flat segment's bias is one slice."""
    m = b.shape[0]
    for start in range(0, bt.shape[0], m):
        part = bt[start : start + m]
        for j in range(part.shape[0]):
            part[j] = b[j]


@njit(cache=True, error_model=ERROR_MODEL)
def _loss(loss_code, margin, scores, yb, tb, d, nb):
    """Mean data loss of the batch (float64); dscores into d (losses.py's single-chunk workers)."""
    if loss_code == SOFTMAX:
        return _softmax_rows(scores, yb, d, nb, 0, nb) / nb
    if loss_code in (SVM, SQUARED_HINGE):
        return _svm_rows(scores, yb, d, margin, loss_code == SQUARED_HINGE, nb, 0, nb) / nb
    flat = scores.reshape(scores.size)
    return _pointwise(loss_code, flat, tb.reshape(tb.size), d.reshape(d.size), nb, 0, flat.size) / nb


@njit(cache=True, error_model=ERROR_MODEL)
def _record(kind, scores, yb, tb, stats, colsum, colsq):
    """Adds the batch to the epoch's record: stats = (rows, hits, elements, residual); for
    regression the targets' column sums and sums of squares (R² at the end of the epoch)."""
    nb, c = scores.shape
    stats[0] += nb
    if kind == CLASSES:
        for i in range(nb):
            row = scores[i]
            best = 0
            for j in range(1, c):
                if row[j] > row[best]:  # np.argmax: the first of equal maxima
                    best = j
            stats[1] += 1.0 if best == yb[i] else 0.0
    elif kind == ATTRIBUTES:
        for i in range(nb):
            for j in range(c):
                stats[1] += 1.0 if (scores[i, j] > 0) == (tb[i, j] > 0) else 0.0
        stats[2] += nb * c
    else:
        for i in range(nb):
            for j in range(c):
                t = float(tb[i, j])
                r = float(scores[i, j]) - t
                stats[3] += r * r
                colsum[j] += t
                colsq[j] += t * t


@njit(cache=True, error_model=ERROR_MODEL)
def _mark_fired(out, fired):
    """fired[j] |= out[i, j] > 0 for some row i (fit's dead-ReLU record)."""
    for i in range(out.shape[0]):
        row = out[i]
        for j in range(row.shape[0]):
            if row[j] > 0:
                fired[j] = True


@njit(cache=True, error_model=ERROR_MODEL)
def _penalty(flat, grad, l2, l1):
    """½ l2 ‖w‖² + l1 ‖w‖₁ (float64); adds the L1 subgradient l1·sign(w) to grad (L2's is in the
    update, as in the layered path's Sequential.regularization)."""
    total = 0.0
    if l2 != 0.0:
        sq = 0.0
        for j in range(flat.shape[0]):
            v = float(flat[j])
            sq += v * v
        total += 0.5 * l2 * sq
    if l1 != 0.0:
        ab = 0.0
        lf = flat.dtype.type(l1)
        one = flat.dtype.type(1.0)
        zero = flat.dtype.type(0.0)
        for j in range(flat.shape[0]):
            v = flat[j]
            ab += abs(float(v))
            sign = one if v > 0 else (-one if v < 0 else zero)
            grad[j] = grad[j] + lf * sign
        total += l1 * ab
    return total


# layer_ints rows: per layer l
CODE, THRESHOLD, STREAM, FIRED_AT, FAN_IN, WIDTH, UNITS_AT, PARAMS_AT, TILE_AT = range(9)


@njit(inline="always")
def _rows(flat, start, nb, m):
    """The (nb, m) C-contiguous view of flat[start : start + nb·m]."""
    return flat[start : start + nb * m].reshape((nb, m))


@njit(inline="always")
def _weights(params, layer_ints, l):
    """Layer l's W (fan-in, width) from its flat entry in params."""
    return params[2 * l].reshape((layer_ints[FAN_IN, l], layer_ints[WIDTH, l]))


@njit(inline="always")
def _grad_start(params, layer_ints, p):
    """Offset of parameter p (W0, b0, W1, ...) in the flat gradient and state buffers."""
    return layer_ints[PARAMS_AT, p // 2] + (0 if p % 2 == 0 else params[p - 1].shape[0])


@njit(cache=True, error_model=ERROR_MODEL)
def _optimize(opt_code, params, layer_ints, grads, slots1, slots2, strengths, lr, hyper, t):
    """optim.py's fused update of every W and b (flat views; grads and states at each layer's
    PARAMS_AT offset, W's then b's); t is the 1-based update count (Adam)."""
    mu, beta1, beta2, decay, eps = hyper[H_MOMENTUM], hyper[H_BETA1], hyper[H_BETA2], hyper[H_DECAY], hyper[H_EPS]
    # the layered optimizers' constants, formed in float64 as they are in Python
    c5 = 1.0 - beta1 ** float(t)
    c6 = 1.0 - beta2 ** float(t)
    for p in range(len(params)):
        w = params[p]
        start = _grad_start(params, layer_ints, p)
        n = w.shape[0]
        g, s1, s2 = grads[start : start + n], slots1[start : start + n], slots2[start : start + n]
        wd = strengths[0, p]
        if opt_code == 0:  # optim.SGD
            _update(0, w, g, s1, s2, wd, lr, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, n)
        elif opt_code == 1:  # MOMENTUM
            _update(1, w, g, s1, s2, wd, lr, mu, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, n)
        elif opt_code == 2:  # NESTEROV
            _update(2, w, g, s1, s2, wd, lr, mu, -mu, 1 + mu, 0.0, 0.0, 0.0, 0.0, 0, n)
        elif opt_code == 3:  # ADAM
            _update(3, w, g, s1, s2, wd, lr, beta1, beta2, 1 - beta1, 1 - beta2, c5, c6, eps, 0, n)
        elif opt_code == 4:  # RMSPROP
            _update(4, w, g, s1, s2, wd, lr, decay, 1 - decay, 0.0, 0.0, 0.0, 0.0, eps, 0, n)
        else:  # ADAGRAD
            _update(5, w, g, s1, s2, wd, lr, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, eps, 0, n)


@njit(cache=True, error_model=ERROR_MODEL)
def _penalties(params, layer_ints, grads, strengths):
    """Σ over W and b of _penalty (L1 subgradients added to grads)."""
    total = 0.0
    for p in range(len(params)):
        l2, l1 = strengths[0, p], strengths[1, p]
        if l2 == 0.0 and l1 == 0.0:
            continue
        w = params[p]
        start = _grad_start(params, layer_ints, p)
        total += _penalty(w, grads[start : start + w.shape[0]], l2, l1)
    return total


@njit(cache=True, error_model=ERROR_MODEL)
def _forward(params, layer_ints, layer_floats, outs, btile, no_pre, stage, words, xb, nb, rows, k0, k1):
    """Training forward of the batch in xb[:nb]; returns the scores (the last layer's output rows)."""
    a = xb[:nb]
    for l in range(len(params) // 2):
        m = layer_ints[WIDTH, l]
        out = _rows(outs, rows * layer_ints[UNITS_AT, l], nb, m)
        np.dot(a, _weights(params, layer_ints, l), out)
        b = params[2 * l + 1]
        keep = layer_floats[1, l]
        code = layer_ints[CODE, l]
        if code != 0 or keep < 1.0:  # layers.Dense fuses these; identity without dropout is affine
            bt = btile[layer_ints[TILE_AT, l] : layer_ints[TILE_AT, l] + SEG + m]
            # _forward_rows reads bt[: min(SEG, nb·m) + m]: tile only that (a tiny layer's whole
            # step is less than its SEG + m tiled elements)
            _tile(b, bt[: min(SEG, nb * m) + m])
            thr, stream = layer_ints[THRESHOLD, l], layer_ints[STREAM, l]
            alpha = layer_floats[0, l]
            _forward_rows(code, keep < 1.0, out, bt, no_pre, alpha, keep, thr, k0, k1, stream, stage, words, 0, nb)
        else:
            _bias_rows(out, b, 0, nb)
        a = out
    return a


@njit(cache=True, error_model=ERROR_MODEL)
def _backward(
    params, layer_ints, layer_floats, outs, dxs, dzs, grads, acc, tmp, no_pre, stage, words, xb, nb, rows, k0, k1
):
    """Gradients of every layer's W and b (into grads) from the loss's dscores in the last
    layer's dxs rows (the first layer's dx is not formed)."""
    last = len(params) // 2 - 1
    g = _rows(dxs, rows * layer_ints[UNITS_AT, last], nb, layer_ints[WIDTH, last])
    for l in range(last, -1, -1):
        m, units = layer_ints[WIDTH, l], layer_ints[UNITS_AT, l]
        out = _rows(outs, rows * units, nb, m)
        keep = layer_floats[1, l]
        code = layer_ints[CODE, l]
        a_in = xb[:nb] if l == 0 else _rows(outs, rows * layer_ints[UNITS_AT, l - 1], nb, layer_ints[WIDTH, l - 1])
        total = acc[units : units + m]
        if code != 0 or keep < 1.0:
            dz = _rows(dzs, rows * units, nb, m)
            args = (layer_floats[0, l], keep, layer_ints[THRESHOLD, l], k0, k1, layer_ints[STREAM, l])
            _backward_rows(code, keep < 1.0, g, out, no_pre, dz, total, *args, stage, words, tmp, 0, nb)
        else:
            dz = g
            _colsum_rows(g, total, 0, nb)
        start = layer_ints[PARAMS_AT, l]
        d = layer_ints[FAN_IN, l]
        db = grads[start + d * m : start + d * m + m]
        for j in range(m):
            db[j] = total[j]
        if l > 0:
            dx = _rows(dxs, rows * layer_ints[UNITS_AT, l - 1], nb, d)
            np.dot(dz, _weights(params, layer_ints, l).T, dx)
            g = dx
        np.dot(a_in.T, dz, grads[start : start + d * m].reshape((d, m)))


@njit(cache=True, error_model=ERROR_MODEL)
def train_steps(
    X, labels, targets, order, ints, floats, lrs, key, params, layer_ints, layer_floats, strengths,
    grads, slots1, slots2, stats, colsum, colsq, fired, outs, dxs, dzs, btile, acc, tmp, no_pre,
    xb, yb, tb, stage, words,
):  # fmt: skip
    """Runs the steps of batches ``first .. last - 1`` (batch k: rows order[k·batch_size : …] of
    the data; the last batch of ``order`` may be shorter), stopping early at a non-finite loss
    (that step changes nothing). Arguments are arrays and one typed list (the model's parameters,
    flat views W0, b0, W1, ...): Numba types arrays from a fingerprint, where a typed list costs
    microseconds a call and a tuple milliseconds.

    X, labels (int64) or targets (2-d): the whole validated training set (the unused one has 0
    rows). ints = (batch_size, first, last, loss code, record kind, optimizer code, the model's
    step count, the optimizer's update count); floats = (svm margin, momentum, beta1, beta2,
    RMSprop decay, eps); lrs: learning rate per batch; key: the model's seed (uint64).
    layer_ints: rows CODE .. TILE_AT per layer (activation code, keep threshold, stream, fired
    offset or -1, fan-in, width, offset of its units in the unit buffers, of its W and b in
    grads and the optimizer states, of its tiled bias); layer_floats: rows (alpha, keep_prob);
    strengths: rows (L2, L1) per parameter (W0, b0, W1, ...). grads, slots1, slots2: flat,
    every parameter at its offset. Record: stats (rows, hits, elements, residual), colsum,
    colsq, fired (flat flags, each ReLU layer's at its offset). Buffers: the module docstring.

    Subnormals are flushed to zero on this thread while it runs (_denormals.py).

    Returns (steps done, Σ (loss + penalty) · rows over them, the non-finite loss or 0.0).
    """
    saved = flush_denormals()
    batch_size, first, last, loss_code, kind, opt_code, step, updates = (
        ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7]
    )  # fmt: skip
    margin = floats[0]
    hyper = floats[1:]
    rows = xb.shape[0]
    last_layer = len(params) // 2 - 1
    n = order.shape[0]
    total = 0.0
    for k in range(first, last):
        lo = k * batch_size
        nb = min(batch_size, n - lo)
        _gather(X, order, lo, nb, xb)
        if labels.shape[0] > 0:  # else an empty dummy: the loss takes targets
            _gather_labels(labels, order, lo, nb, yb)
        if targets.shape[0] > 0:
            _gather(targets, order, lo, nb, tb)
        key_s = step_key(key, step)
        k0 = np.int64(key_s & np.uint64(0xFFFFFFFF))
        k1 = np.int64(key_s >> np.uint64(32))
        scores = _forward(params, layer_ints, layer_floats, outs, btile, no_pre, stage, words, xb, nb, rows, k0, k1)
        width = layer_ints[WIDTH, last_layer]
        dscores = _rows(dxs, rows * layer_ints[UNITS_AT, last_layer], nb, width)
        loss = _loss(loss_code, margin, scores, yb[:nb], tb[:nb], dscores, nb)
        if not math.isfinite(loss):
            restore_mode(saved)
            return k - first, total, loss
        _record(kind, scores, yb[:nb], tb[:nb], stats, colsum, colsq)
        for l in range(last_layer + 1):
            at = layer_ints[FIRED_AT, l]
            if at >= 0:
                m = layer_ints[WIDTH, l]
                _mark_fired(_rows(outs, rows * layer_ints[UNITS_AT, l], nb, m), fired[at : at + m])
        _backward(
            params,
            layer_ints,
            layer_floats,
            outs,
            dxs,
            dzs,
            grads,
            acc,
            tmp,
            no_pre,
            stage,
            words,
            xb,
            nb,
            rows,
            k0,
            k1,
        )
        penalty = _penalties(params, layer_ints, grads, strengths)
        updates += 1
        _optimize(opt_code, params, layer_ints, grads, slots1, slots2, strengths, lrs[k - first], hyper, updates)
        step += 1
        total += (loss + penalty) * nb
    restore_mode(saved)
    return last - first, total, 0.0
