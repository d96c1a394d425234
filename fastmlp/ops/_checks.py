"""Input validation for every op: the one place that makes kernels' trust in their inputs safe.

Rules (documented in the README):
- arrays may be ndarrays, lists or anything ``np.asarray`` accepts; float32 and float64 are kept,
  integer and bool arrays are cast to float64, complex/object/string arrays are refused;
- the float arrays of one op share a dtype: float32 only if all are float32, else float64;
- non-contiguous or Fortran-order inputs are copied to C order; read-only inputs are fine;
- labels are integers (integral floats are accepted) in [0, C); empty batches are refused;
- CUDA device arrays (anything with ``__cuda_array_interface__``: Numba, CuPy, torch) are checked
  by shape, dtype and strides without leaving the device (casts and contiguous copies happen
  there); only labels and a few reduction scalars (ranges, NaN counts) come to the host. They
  select the ``cuda`` backend unless another is named, which is refused.
Every message names the argument and what was expected.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

from .. import backends
from ..kernels._device import is_device

FLOAT_CHARS = "fd"
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)


def _kind_error(x: np.ndarray, name: str) -> TypeError:
    return TypeError(f"{name} must hold real numbers (float32/float64), got dtype {x.dtype}")


def _not_masked(x: Any, name: str) -> None:
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array, and fastmlp ops do not apply masks; "
            f"pass {name}.filled(value) or {name}.compressed() instead"
        )


def as_array(x: Any, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """x as a plain ndarray of a native-byte-order float dtype (ints/bools cast to float64,
    subclasses such as np.matrix viewed as ndarray, masked arrays refused), with the given rank."""
    if type(x) is not np.ndarray:
        if x is None:
            raise TypeError(f"{name} must be an array, got None")
        if is_device(x):
            return _device_array(x, name, ndim)
        _not_masked(x, name)
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name} could not be converted to an array: {exc}") from None
    char = x.dtype.char
    if char not in FLOAT_CHARS:
        if x.dtype.kind in "iub" or x.dtype.kind == "f":
            x = x.astype(np.float64)
        else:
            raise _kind_error(x, name)
    elif not x.dtype.isnative:  # '>f4' on a little-endian machine: the kernels need native order
        x = x.astype(x.dtype.newbyteorder("="))
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ValueError(f"{name} must be {want}-dimensional, got shape {x.shape}")
    return x


def batch(x: Any, name: str = "x", ndim: int = 2) -> np.ndarray:
    """A non-empty batch of rows (N, D) as a float array."""
    x = as_array(x, name, ndim)
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {x.shape}); need at least one row")
    if x.size == 0:
        raise ValueError(f"{name} has no columns (shape {x.shape})")
    return x


def ready(*arrays: Any) -> bool:
    """Whether every array is a C-contiguous host ndarray of one float dtype: the common case,
    which needs no cast or copy and is checked here at a fraction of the general path's cost (that
    path also says what is wrong; benches/NOTES.md, 'Measurements behind code comments': ready)."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype.char not in FLOAT_CHARS or not first.dtype.isnative:
        return False
    dtype = first.dtype
    for a in arrays:  # a plain loop: all() over a generator adds its own overhead to every op
        if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
            break
    else:
        return True
    return False


def common(*arrays: np.ndarray) -> list[np.ndarray]:
    """Arrays cast to their common float dtype and made C-contiguous (on the device for device ones)."""
    dtype = F32 if all(a.dtype == F32 for a in arrays) else F64
    if all(type(a) is np.ndarray for a in arrays):
        return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]
    return [contiguous(a, dtype) for a in arrays]


def contiguous(x: Any, dtype: Any = None) -> Any:
    """``np.ascontiguousarray`` that keeps device arrays on the device (cast/copied there if needed)."""
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x, dtype=dtype)
    dev = _dev()
    return dev.tag_like(dev.contiguous(x, dtype), x)


def same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Shapes must match exactly."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; they must match")


def finite(x: np.ndarray, name: str) -> None:
    """Refuse NaN/Inf: one summation pass when all is well, a full scan only to explain a failure."""
    if not isinstance(x, np.ndarray):
        bad = _dev().stats(x)[4]
        if bad:
            raise ValueError(f"{name} contains NaN or Inf ({bad} entries)")
        return
    if all_finite(x):
        return
    where = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
    raise ValueError(f"{name} contains NaN or Inf (first at index {where}: {x[where]})")


_SMALL_FINITE = 64


def all_finite(x: np.ndarray) -> bool:
    """No NaN or Inf in host array x. NaN/Inf anywhere make Σx² NaN/Inf: for contiguous float
    arrays BLAS dot computes it, faster than x.sum() (this is a training step's batch check;
    benches/NOTES.md, 'Measurements behind code comments': all_finite); otherwise a sum in the
    array's own dtype (no conversion buffer). Only if a huge but finite value overflows either does
    an exact scan decide."""
    if x.size <= _SMALL_FINITE and x.dtype.char in "fd":
        # Python's float sum of a few values: no NumPy call (a tiny training step's batch;
        # benches/NOTES.md, 'Measurements behind code comments': _SMALL_FINITE). NaN/Inf make it
        # NaN/Inf; it does not overflow for float32 values, and float64 ones that do take the exact scan.
        return math.isfinite(sum(x.ravel().tolist())) or bool(np.isfinite(x).all())
    with np.errstate(over="ignore", invalid="ignore"):
        if x.dtype.char in "fd" and x.flags.c_contiguous and x.size:
            flat = x.reshape(-1)
            total = np.dot(flat, flat)
        else:
            total = x.sum()
    return math.isfinite(total) or bool(np.isfinite(x).all())


def labels(y: Any, n_rows: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Class labels as int64 (N,), each in [0, n_classes): out-of-range labels never reach a kernel.

    Device labels are checked on a host copy (N integers) and returned on the device as int64.
    """
    if type(y) is not np.ndarray and is_device(y):
        dev = _dev()
        labels(dev.to_host(y), n_rows, n_classes, name)
        return dev.contiguous(dev.adopt(y), np.int64)
    if type(y) is not np.ndarray:
        y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional (one label per row), got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} labels but scores has {n_rows} rows")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values")
    elif y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    # the range is checked on the labels as given: cast first, 2**63 would wrap to -2**63
    lo, hi = _label_range(y)
    if lo < 0:
        raise ValueError(f"{name} has label {lo} but labels must be >= 0")
    if hi >= n_classes:
        raise ValueError(f"{name} has label {hi} but scores has {n_classes} classes")
    return np.ascontiguousarray(y, dtype=np.int64)


# Below this many labels, Python's min/max over tolist() beat two NumPy reductions (a small
# training step's labels; benches/NOTES.md, 'Measurements behind code comments': labels).
_SMALL_LABELS = 32


def _label_range(y: np.ndarray) -> tuple[int, int]:
    """(smallest, largest) label of a non-empty integer or integral-float y, as Python ints."""
    if y.size <= _SMALL_LABELS:
        values = y.tolist()
        return int(min(values)), int(max(values))
    return int(y.min()), int(y.max())


def number(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real scalar within [low, high] (or open ends)."""
    # Python floats skip the ABC check, a real share of a small op's overhead (benches/NOTES.md change 12)
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def positive_in(value: float, like: Any, name: str) -> float:
    """A positive ``value`` (already checked by :func:`number`) that stays positive in the dtype of
    the array ``like`` (float64 for anything else): an eps that rounds to 0 in float32 (1e-50) would divide by zero
    where it was meant to prevent it."""
    if value >= 1e-44:  # positive in float32 too (its smallest subnormal is 1.4e-45): no NumPy scalar
        return value
    dtype = np.dtype(getattr(like, "dtype", np.float64))
    if dtype.kind == "f" and dtype.type(value) == 0:
        smallest = np.finfo(dtype).smallest_subnormal
        raise ValueError(f"{name}={value} rounds to 0 in {dtype}, the computation's dtype; use at least {smallest:.3g}")
    return value


def integer(value: Any, name: str, low: int = 0, high: int | None = None) -> int:
    """A Python int in [low, high)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if value < low or (high is not None and value >= high):
        span = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be in {span}, got {value}")
    return value


def keep_prob(value: Any) -> float:
    """Dropout keep probability p in (0, 1]."""
    return number(value, "keep_prob", 0.0, 1.0, low_open=True)


def seed_stream(seed: Any, stream: Any) -> tuple[int, int]:
    """RNG key: seed in [0, 2^64), stream in [0, 2^32)."""
    return integer(seed, "seed", 0, 2**64), integer(stream, "stream", 0, 2**32)


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    """One of a fixed set of strings."""
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def inplace(x: Any, name: str) -> np.ndarray:
    """An array updated in place: a writeable float ndarray (any layout or byte order; subclasses
    such as np.matrix are updated through an ndarray view; masked arrays are refused) or a
    C-contiguous device array. Kernels get it through :func:`workable`."""
    if type(x) is not np.ndarray and is_device(x):
        return _device_inplace(x, name)
    if type(x) is not np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} is updated in place and must be a NumPy array, got {type(x).__name__}")
        _not_masked(x, name)
        x = x.view(np.ndarray)
    if x.dtype.char not in FLOAT_CHARS:
        raise _kind_error(x, name)
    if not x.flags.writeable:
        raise ValueError(f"{name} is updated in place but is read-only")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    return x


def native(dtype: np.dtype) -> np.dtype:
    """dtype in the machine's byte order."""
    return dtype if dtype.isnative else dtype.newbyteorder("=")


def workable(x: Any) -> Any:
    """An array updated in place, as the kernels need it: x itself when C-contiguous in native byte
    order (and always for device arrays), else a copy the caller writes back."""
    if not isinstance(x, np.ndarray) or (x.flags.c_contiguous and x.dtype.isnative):
        return x
    return np.ascontiguousarray(x, dtype=native(x.dtype))


def state_like(s: Any, w: np.ndarray, name: str) -> np.ndarray:
    """Optimizer state updated in place next to w: same shape and dtype as w."""
    s = inplace(s, name)
    if s.shape != w.shape:
        raise ValueError(f"{name} has shape {s.shape} but w has shape {w.shape}; they must match")
    if s.dtype != w.dtype:
        raise TypeError(f"{name} has dtype {s.dtype} but w has dtype {w.dtype}; they must match")
    return s


def grad_like(dw: Any, w: np.ndarray, name: str = "dw") -> np.ndarray:
    """A gradient for w: same shape, cast to w's dtype, C-contiguous."""
    dw = as_array(dw, name)
    if dw.shape != w.shape:
        raise ValueError(f"{name} has shape {dw.shape} but w has shape {w.shape}; they must match")
    return contiguous(dw, native(w.dtype))


def as_indices(x: Any, name: str) -> Any:
    """An integer index array as given: NumPy via ``np.asarray``, device arrays viewed in place."""
    if type(x) is not np.ndarray and is_device(x):
        return _dev().adopt(x)
    return np.asarray(x)


def value_range(x: Any) -> tuple[float, float]:
    """(min, max) of a host array, or of a device array's finite entries (computed on the device)."""
    if isinstance(x, np.ndarray):
        return x.min(), x.max()
    lo, hi, _, _, _ = _dev().stats(x)
    return lo, hi


def all_plus_minus_one(x: Any) -> bool:
    """True when every entry is -1 or +1."""
    if isinstance(x, np.ndarray):
        return bool(np.all(np.abs(x) == 1))
    _, _, lo_abs, hi_abs, bad = _dev().stats(x)
    return not bad and lo_abs == 1 and hi_abs == 1


def symmetric(a: Any, rtol: float, atol: float) -> bool:
    """``np.allclose(a, a.T, rtol, atol)``, on the device for device arrays."""
    if isinstance(a, np.ndarray):
        # np.allclose's rule |a − aᵀ| <= atol + rtol·|aᵀ| (equal infinities count as close), over
        # tile pairs (I, J), J >= I, each checked both ways (so with min(|x|, |y|)): isclose's
        # whole-matrix temporaries and transposed reads miss the cache, a sizeable share of a
        # whitening fit (benches/NOTES.md change 11); 128 x 128 tiles stay in cache
        n, t = a.shape[0], 128
        with np.errstate(invalid="ignore"):
            for i in range(0, n, t):
                for j in range(i, n, t):
                    x, y = a[i : i + t, j : j + t], a[j : j + t, i : i + t].T
                    ax, ay = np.abs(x), np.abs(y)
                    close = np.abs(x - y) <= atol + rtol * np.minimum(ax, ay)
                    if not np.all(close | (x == y)):
                        return False
        return True
    return _dev().asymmetric_count(a, rtol, atol) == 0


def max_abs(a: Any) -> float:
    """max |a| (0 for an all-zero array)."""
    if isinstance(a, np.ndarray):
        return float(np.abs(a).max())
    return float(_dev().stats(a)[3])


# ----- arguments written by an op must not share memory with its other arguments --------------


def _device_extent(a: Any) -> tuple[int, int] | None:
    """[first byte, last byte] a device array can touch, from its ``__cuda_array_interface__``."""
    try:
        cai = a.__cuda_array_interface__
    except (AttributeError, RuntimeError):
        return None
    lo = hi = int(cai["data"][0])
    itemsize = np.dtype(cai["typestr"]).itemsize
    strides = cai.get("strides") or _c_strides(cai["shape"], itemsize)
    for n, step in zip(cai["shape"], strides):
        if n == 0:
            return None
        reach = (n - 1) * step
        lo, hi = (lo + reach, hi) if reach < 0 else (lo, hi + reach)
    return lo, hi + itemsize - 1


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _owner(a: Any) -> np.ndarray | None:
    """The ndarray that owns a's memory (NumPy points a view's base at it), or None when the
    memory belongs to something else (a buffer, a device) and only a byte-level test can tell."""
    if not isinstance(a, np.ndarray):
        return None
    base = a.base
    if base is None:
        return a
    return base if isinstance(base, np.ndarray) and base.base is None else None


def _overlap(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return bool(np.shares_memory(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False  # host and device memory never overlap
    ea, eb = _device_extent(a), _device_extent(b)
    return ea is not None and eb is not None and ea[0] <= eb[1] and eb[0] <= ea[1]


def separate(written: tuple, read: tuple, names: str) -> None:
    """Refuse an argument the op writes (an ``out``/``grads`` buffer, an array updated in place)
    that shares memory with any other argument: kernels read and write in their own order (rows,
    chunks, fused passes, BLAS blocks), so an overlap would give a different wrong answer on each
    backend. ``written`` and ``read`` are arrays; ``names`` names them all in that order,
    comma-separated, for the error.

    Distinct ndarrays that own their memory cannot overlap: that common case (parameters,
    optimizer states, fresh buffers) is settled by one attribute read per array (benches/NOTES.md
    change 21)."""
    args = written + read
    for a in args:
        if a.__class__ is not _NDARRAY or a.base is not None:
            break
    else:
        if len(set(map(id, args))) == len(args):
            return
    labels = [n.strip() for n in names.split(",")]
    owners = [_owner(a) for a in args]
    for i in range(len(written)):
        a = args[i]
        for j in range(i + 1, len(args)):
            b = args[j]
            if owners[i] is not None and owners[j] is not None and owners[i] is not owners[j]:
                continue  # views of two different NumPy allocations: disjoint, no byte-level test needed
            if a is b or _overlap(a, b):
                raise ValueError(
                    f"{labels[i]} shares memory with {labels[j]}; this op writes {labels[i]}, so it must not "
                    f"overlap any other argument (pass a separate array)"
                )


_NDARRAY = np.ndarray


# ----------------------------------------------------------------------------------------------
# Device arrays. The cuda backend owns device code, so its array helpers do the work; nothing
# here imports numba unless a device array actually arrives.
# ----------------------------------------------------------------------------------------------


_device_helpers: list[Any] = []


def _dev() -> Any:
    """The cuda backend's array helpers, or the reason it cannot run here."""
    if not _device_helpers:
        if not backends.is_available("cuda"):
            raise backends.BackendUnavailableError(
                "CUDA device arrays need the cuda backend, which is not "
                f"available: {backends.unavailable_reason('cuda')}"
            )
        from ..kernels.cuda import _arrays

        _device_helpers.append(_arrays)
    return _device_helpers[0]


def _device_array(x: Any, name: str, ndim: Any) -> Any:
    """A Numba view of device array x (no copy) with float dtype and the given rank."""
    dev = _dev()
    x = dev.adopt(x)
    if x.dtype.char not in FLOAT_CHARS:
        if x.dtype.kind in "iubf":  # the host rule: ints, bools, float16 compute in float64
            x = dev.tag_like(dev.contiguous(x, F64), x)
        else:
            raise _kind_error(x, name)
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ValueError(f"{name} must be {want}-dimensional, got shape {x.shape}")
    return x


def _device_inplace(x: Any, name: str) -> Any:
    """A device array updated in place: float, writeable, non-empty and C-contiguous."""
    dev = _dev()
    if dev.is_readonly(x):
        raise ValueError(f"{name} is updated in place but is read-only")
    x = dev.adopt(x)
    if x.dtype.char not in FLOAT_CHARS:
        raise _kind_error(x, name)
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if not x.is_c_contiguous():
        raise ValueError(f"{name} is a non-contiguous device array; in-place updates need a C-contiguous one")
    return x


def device_flags(fired: Any, units: int) -> Any:
    """A bool device array (units,) OR-ed in place (dead_relu_fraction's running record)."""
    dev = _dev()
    fired = dev.adopt(fired)
    if fired.dtype != np.bool_:
        raise TypeError(f"fired must be a bool array (it is updated in place), got dtype {fired.dtype}")
    if fired.shape != (units,):
        raise ValueError(f"fired has shape {fired.shape} but h has {units} units")
    if not fired.is_c_contiguous():
        raise ValueError("fired is a non-contiguous device array; in-place updates need a C-contiguous one")
    return fired


# ----- caller-provided output buffers (zero-allocation training steps) -----------------------


def out_array(out: Any, shape: tuple[int, ...], dtype: np.dtype, name: str = "out") -> np.ndarray:
    """A buffer the op writes into: a writeable C-contiguous ndarray of exactly this shape and dtype."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array to write into, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name} has shape {out.shape} but the result has shape {shape}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype} but the result is {dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{name} must be a writeable C-contiguous array")
    return out


def grad_buffers(
    grads: Any, need_dx: bool, x: np.ndarray, w: np.ndarray, reads: tuple = (), read_names: str = ""
) -> tuple | None:
    """``grads = (dx, dw, db)`` buffers for a dense backward (dx may be None when not needed),
    overlapping neither each other nor the op's inputs ``reads`` (named by ``read_names``)."""
    if grads is None:
        return None
    if not isinstance(grads, tuple) or len(grads) != 3:
        raise TypeError("grads must be a tuple (dx, dw, db) of arrays to write into")
    dx, dw, db = grads
    if need_dx or dx is not None:
        dx = out_array(dx, x.shape, x.dtype, "grads[0] (dx)")
    dw = out_array(dw, w.shape, w.dtype, "grads[1] (dw)")
    db = out_array(db, (w.shape[1],), w.dtype, "grads[2] (db)")
    if dx is None:  # the first layer's backward: no dx buffer (and the fast path takes no None)
        separate((dw, db), reads, "grads[1] (dw), grads[2] (db), " + read_names)
    else:
        separate((dx, dw, db), reads, "grads[0] (dx), grads[1] (dw), grads[2] (db), " + read_names)
    return dx, dw, db
