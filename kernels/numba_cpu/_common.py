"""Shared pieces of the Numba CPU kernels: flags, size thresholds, work splitting, vector-friendly exp.

Everything tunable lives here (house rule 7). The comments say why each choice was made; the measurements
behind them are in benches/NOTES.md, 'Measurements behind code comments'.
"""

import contextlib
import threading
import types as types_
from functools import wraps

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from .. import _blas_clock
from . import _cache  # noqa: F401 - before any cached kernel is defined: stamps kernels with the whole tree

# The safe fast-math subset: no nnan/ninf (softmax's max-shift and the logs rely on infinities).
# Used only by reductions, where "reassoc" is what lets LLVM vectorise a sum; elementwise kernels
# stay strict so they round exactly like the NumPy reference (and so "reassoc" can never undo the
# Cody-Waite range reduction inside exp_neg).
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Loops around exp_neg / expm1_neg compile with FMA contraction only: it makes the float32 exp much
# faster (each multiply-add of the polynomial becomes one instruction; benches/NOTES.md,
# 'Measurements behind code comments': EXP_FASTMATH) and only makes the polynomial and range
# reduction more accurate.
EXP_FASTMATH = {"contract"}

# Every compiled function uses error_model="numpy": Numba's default ("python") checks every float
# division for zero and raises, a branch that stops LLVM from vectorising the loop (found on
# adagrad's update: benches/NOTES.md change 5); NumPy semantics (inf/nan) are the reference's.
ERROR_MODEL = "numpy"

# Every op has a serial worker over a range of rows/elements (@njit, cached) and a thin
# parallel wrapper (prange over chunks, each calling the worker): the vector code is compiled
# once and shared, and small inputs skip the thread pool. Elements per chunk below which the
# driver calls the worker directly (serially): a parallel launch has a fixed cost that an
# elementwise pass only earns back on large inputs, so splitting pays from ~32k elements up
# (benches/NOTES.md, 'Measurements behind code comments': MIN_CHUNK).
DEFAULT_MIN_CHUNK = 32768
MIN_CHUNK = DEFAULT_MIN_CHUNK  # in force: set_min_chunk changes it (kernels/cython/_chunks.h: the same numbers)
# Upper bound on chunks: enough to balance 2-16 threads; chunking depends on the size only, never
# on the thread count, so reductions (per-chunk partial buffers) give the same bits on any count.
MAX_CHUNKS = 64
# Elements whose random words are generated in one go into a per-chunk scratch (8 KiB of words
# plus 8 KiB staging: stays in L1). Philox vectorises only when its 4 output words go to 4
# separate arrays (benches/NOTES.md change 3), so words are staged per word index, then
# interleaved into flat order; chunk bounds are multiples of SEG.
SEG = 2048


# Within _blas_clock.QUIET_S of a BLAS call (OpenBLAS's workers still spinning) chunked kernels
# run their chunks on the calling thread: see kernels/_blas_clock.py for why (benches/NOTES.md change 7).
blas_called = _blas_clock.called


def parallel_kernel(fn):
    """A prange-over-chunks wrapper, called from Python drivers, compiled twice: ``parallel=True``,
    and plain (prange is range there) for use within _blas_clock.QUIET_S of a BLAS call. The plain copy,
    not the parallel one at one thread: a one-thread parallel launch still pays the launch's fixed cost
    on every call (benches/NOTES.md change 7)."""
    parallel = njit(cache=True, parallel=True, error_model=ERROR_MODEL)(fn)
    # a copy with its own name: Numba's cache is keyed by qualified name and signature, not by the
    # parallel flag, so one name for both copies would mix them up on disk
    serial = njit(cache=True, error_model=ERROR_MODEL)(variant(fn, "_serial"))

    @wraps(fn)
    def run(*args):
        if _blas_clock.recent():
            return serial(*args)
        if _serialize_launches[0] is False:
            return parallel(*args)
        return _locked_launch(parallel, args)

    run.parallel, run.serial = parallel, serial  # type: ignore[attr-defined]
    return run


_variant_names = set()


def variant(fn, suffix, **replaced):
    """A copy of ``fn`` (a plain function, a jitted one, or a parallel_kernel) named ``<name><suffix>``
    whose globals ``replaced`` point elsewhere: the same kernel body calling other functions, to be
    compiled on its own. Numba binds globals at compile time and caches by qualified name, so the
    copy gets its own machine code and its own cache entry."""
    fn = getattr(fn, "__wrapped__", None) or getattr(fn, "py_func", None) or fn
    key = (fn.__module__, fn.__qualname__ + suffix)
    if key in _variant_names:  # two copies under one name would load each other's code from the cache
        raise ValueError(f"a kernel copy named {key[1]} already exists in {key[0]}")
    _variant_names.add(key)
    # without replacements the module's own (live) globals: later definitions stay visible
    namespace = {**fn.__globals__, **replaced} if replaced else fn.__globals__
    copy = types_.FunctionType(fn.__code__, namespace, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    return copy


# Numba's workqueue threading layer (what Numba falls back to where neither OpenMP nor TBB loads)
# aborts the whole process when two Python threads launch parallel regions at once; the omp and
# tbb layers are safe. Numba picks the layer at the first launch, so launches go through a lock
# until that first one has shown which layer it is, and afterwards only if it is workqueue.
_launch_lock = threading.Lock()
_serialize_launches = [None]  # None: no launch yet; then whether launches must take the lock


def _locked_launch(parallel, args):
    with _launch_lock:
        result = parallel(*args)
        # ValueError: nothing was launched (NUMBA_DISABLE_JIT): decide at the next call
        with contextlib.suppress(ValueError):
            if _serialize_launches[0] is None:
                _serialize_launches[0] = numba.threading_layer() == "workqueue"
    return result


def set_min_chunk(n=None):
    """Split work into chunks of at least ``n`` elements (``None``: the default). Tests make it small
    to reach the chunked paths with small inputs. Returns the previous threshold."""
    global MIN_CHUNK
    previous = MIN_CHUNK
    MIN_CHUNK = DEFAULT_MIN_CHUNK if n is None else max(1, int(n))
    return previous


def n_chunks(n_items, items_per_row=1):
    """Chunks to split ``n_items`` rows (of ``items_per_row`` elements) into; 1 means run serially."""
    # min(MAX_CHUNKS, max(1, n_items // per)) without the builtins' call overhead: every driver
    # calls this once per op (benches/NOTES.md, 'Measurements behind code comments': n_chunks)
    per = MIN_CHUNK // items_per_row if items_per_row > 1 else MIN_CHUNK
    nch = n_items // (per if per > 1 else 1)
    if nch <= 1:
        return 1
    return int(nch) if nch < MAX_CHUNKS else MAX_CHUNKS


def like(x, arr):  # pragma: no cover - typing stub, compiled through the overload below
    """x (a Python float, typed float64) cast to the dtype of array ``arr``, inside kernels."""
    return arr.dtype.type(x)


@overload(like)
def _ov_like(x, arr):  # pragma: no cover - typing runs at compile time only
    # Drivers pass Python floats/ints and kernels cast them here: building np.float32 scalars in
    # Python costs enough each to be a real share of a small op (benches/NOTES.md,
    # 'Measurements behind code comments': like).
    if arr.dtype == types.float32:
        return lambda x, arr: np.float32(x)
    if arr.dtype == types.float64:
        return lambda x, arr: np.float64(x)
    return None


def largest(arr):  # pragma: no cover - typing stub, compiled through the overload below
    """The largest finite value of array ``arr``'s dtype, inside kernels."""
    return np.finfo(arr.dtype).max


@overload(largest)
def _ov_largest(arr):  # pragma: no cover - typing runs at compile time only
    if arr.dtype == types.float32:
        return lambda arr: np.float32(3.4028234663852886e38)
    if arr.dtype == types.float64:
        return lambda arr: np.float64(1.7976931348623157e308)
    return None


@njit(inline="always")
def span(c, n, nch, align):
    """Bounds [lo, hi) of chunk c of nch over n items, chunk starts aligned to ``align``."""
    per = ((n + nch - 1) // nch + align - 1) // align * align
    lo = min(n, c * per)
    return lo, min(n, lo + per)


# ---------------------------------------------------------------------------------------------
# exp / expm1 for arguments <= 0, written so LLVM vectorises them (Numba has no SVML here, and
# libm's scalar expf, a call per element, is slower than NumPy's SIMD exp: benches/NOTES.md,
# 'Measurements behind code comments': exp_neg). Cody-Waite range reduction x = k ln2 + r,
# |r| <= ln2/2; Taylor polynomial for expm1(r) (degree 7 for float32, 13 for float64: truncation
# < 0.1 ulp); 2^k built from its bits. Results are within ~2 ulp of NumPy's. Every caller needs
# only x <= 0 (softmax's x - max, sigmoid's -|x|, tanh's -2|x|), so 2^k never overflows;
# subnormal results are kept by scaling with 2^(k+OFF) then 2^-OFF.
# ---------------------------------------------------------------------------------------------


@intrinsic
def pow2(typingctx, k):  # pragma: no cover - code generation runs at compile time only
    """2.0**k for a float holding an integer k with k + bias in the normal exponent range."""
    if k == types.float32:
        ity, bias, shift, fty = ir.IntType(32), 127, 23, ir.FloatType()
    elif k == types.float64:
        ity, bias, shift, fty = ir.IntType(64), 1023, 52, ir.DoubleType()
    else:
        return None

    def codegen(context, builder, signature, args):
        i = builder.fptosi(args[0], ity)
        i = builder.shl(builder.add(i, ity(bias)), ity(shift))
        return builder.bitcast(i, fty)

    return k(k), codegen


def _exp_parts_f32(x):  # pragma: no cover - compiled
    lo = np.float32(-104.0)  # exp(-104) < half the smallest float32 subnormal
    xc = x if x > lo else lo  # NaN -> lo; patched back below
    kf = np.floor(xc * np.float32(1.44269504) + np.float32(0.5))
    r = (xc - kf * np.float32(0.693359375)) - kf * np.float32(-2.12194440e-4)
    q = np.float32(1.0 / 5040.0) + r * np.float32(1.0 / 40320.0)
    q = np.float32(1.0 / 720.0) + r * q
    q = np.float32(1.0 / 120.0) + r * q
    q = np.float32(1.0 / 24.0) + r * q
    q = np.float32(1.0 / 6.0) + r * q
    q = np.float32(0.5) + r * q
    q = r + (r * r) * q  # expm1(r)
    s = pow2(kf + np.float32(64.0)) * np.float32(5.421010862427522e-20)  # 2^k, 2^-64
    return q, s, np.float32(1.0)


EXP_UNDERFLOW = -746.0  # e^x rounds to 0 below it, in double


@njit(inline="always", error_model=ERROR_MODEL)
def reduce_exp_f64(x):  # pragma: no cover - compiled
    """(k, e^r - 1) with x = k ln2 + r, |r| <= ln2/2 (Cody-Waite), for finite x; k a float."""
    kf = np.floor(x * 1.4426950408889634 + 0.5)
    r = (x - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10
    q = 1.0 / 87178291200.0 + r * (1.0 / 1307674368000.0)
    q = 1.0 / 6227020800.0 + r * q
    q = 1.0 / 479001600.0 + r * q
    q = 1.0 / 39916800.0 + r * q
    q = 1.0 / 3628800.0 + r * q
    q = 1.0 / 362880.0 + r * q
    q = 1.0 / 40320.0 + r * q
    q = 1.0 / 5040.0 + r * q
    q = 1.0 / 720.0 + r * q
    q = 1.0 / 120.0 + r * q
    q = 1.0 / 24.0 + r * q
    q = 1.0 / 6.0 + r * q
    q = 0.5 + r * q
    return kf, r + (r * r) * q


def _exp_parts_f64(x):  # pragma: no cover - compiled
    kf, q = reduce_exp_f64(x if x > EXP_UNDERFLOW else EXP_UNDERFLOW)
    s = pow2(kf + 128.0) * 2.938735877055719e-39  # 2^k, 2^-128
    return q, s, 1.0


def _exp_parts(x):
    """(q, s, 1) with e^x = s·q + s and e^x − 1 = s·q + (s − 1). Compiled code uses the overload
    below; this plain-Python body only runs under NUMBA_DISABLE_JIT (coverage runs), with NumPy's
    exp/expm1 split at −1 so neither form cancels."""
    one = np.float32(1.0) if isinstance(x, np.float32) else 1.0
    if x > -1.0:
        return np.expm1(x), one, one
    return x * 0, np.exp(x), one


@overload(_exp_parts, inline="always")
def _ov_exp_parts(x):  # pragma: no cover - typing runs at compile time only
    if x == types.float32:
        return _exp_parts_f32
    if x == types.float64:
        return _exp_parts_f64
    return None


@njit(inline="always")
def exp_neg(x):
    """e^x for x <= 0, -inf or NaN (vectorisable), in x's float type."""
    q, s, _ = _exp_parts(x)  # below the cut-off s underflows to 0, so e^x -> 0 there
    return s * q + s if x == x else x


@njit(inline="always")
def expm1_neg(x):
    """e^x - 1 for x <= 0, -inf or NaN, accurate near 0 (vectorisable), in x's float type."""
    q, s, one = _exp_parts(x)
    return s * q + (s - one) if x == x else x
