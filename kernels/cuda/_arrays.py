"""Device arrays for the CUDA drivers: array kinds in and out, allocation, launch sizes, casts.

Drivers take NumPy arrays (copied to the device, results copied back) or anything exposing
``__cuda_array_interface__`` (Numba device arrays, CuPy arrays, torch CUDA tensors: viewed in
place, never copied) and hand results back in the caller's kind. Inside, everything is a Numba
device array. Every launch runs on the legacy default stream, which CuPy's and torch's default
streams also are, so kernels, cuBLAS calls and the caller's own work stay ordered without syncs.
"""

import math

import numpy as np
from numba import cuda

from .._device import is_device as _is_device
from . import _launch

if not hasattr(np, "row_stack"):
    # numba-cuda 0.30 overloads np.row_stack, without checking that it exists, when it first
    # compiles a kernel (the simulator never compiles); NumPy 2.5 removed that deprecated alias of
    # vstack, so every launch on a GPU would fail with an AttributeError. The stand-in is its own
    # function, as NumPy's was, so the overload does not register vstack's typing a second time.

    def _row_stack(tup, *, dtype=None, casting="same_kind"):
        return np.vstack(tup, dtype=dtype, casting=casting)

    np.row_stack = _row_stack  # noqa: NPY201 - defines the name; ruff's autofix would rebind np.vstack

try:  # numba-cuda >= 0.2x keeps its own config; older releases share numba's
    from numba.cuda.core import config as _nb_config
except ImportError:
    from numba.core import config as _nb_config

SIM = bool(_nb_config.ENABLE_CUDASIM)
KIND_ATTR = "_fastmlp_kind"  # set by fastmlp.ops on the Numba views it makes of CuPy / torch arrays

if SIM:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray as _NumbaArray
else:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray as _NumbaArray

_cupy_module = []  # [module or None], filled on first use


def _cupy():
    """CuPy when it is installed and sees a GPU (never under the simulator), else None."""
    if not _cupy_module:
        module = None
        if not SIM:
            try:
                import cupy

                if cupy.cuda.runtime.getDeviceCount() > 0:
                    module = cupy
            except Exception:  # not installed, or a CUDA mismatch: the Numba paths still work
                module = None
        _cupy_module.append(module)
    return _cupy_module[0]


def launch(n):
    """(blocks, threads) for n work items, read from :mod:`._launch` at call time (tests patch it)."""
    threads = int(_launch.CUDA_THREADS_PER_BLOCK)
    blocks = max(1, min(int(_launch.CUDA_MAX_BLOCKS), (int(n) + threads - 1) // threads))
    return blocks, threads


def is_device(a):
    """True for a Numba device array or any other device array (kernels/_device.py)."""
    return isinstance(a, _NumbaArray) or _is_device(a)


def kind_of(a):
    """'numpy', 'cupy', 'torch' or 'numba': the kind results for caller array ``a`` come back in."""
    if a is None or isinstance(a, np.ndarray) or not is_device(a):
        return "numpy"
    tag = getattr(a, KIND_ATTR, None)
    if tag:
        return tag
    package = type(a).__module__.split(".")[0]
    return package if package in ("cupy", "torch") else "numba"


def result_kind(*arrays):
    """The kind of the first device array among ``arrays``, else 'numpy'."""
    for a in arrays:
        kind = kind_of(a)
        if kind != "numpy":
            return kind
    return "numpy"


def _numba_view(obj):
    """Numba view of a CAI object. sync=False: everything here runs on the legacy default stream,
    so Numba's default stream sync per foreign argument would only stall the pipeline."""
    view = cuda.as_cuda_array(obj, sync=False)
    if type(obj).__module__.split(".")[0] == "cupy":
        view._cupy = obj  # lets cupy_view() skip re-wrapping (not free, and dozens of calls a training step)
    return view


def cupy_view(a):
    """The CuPy array behind (or viewing) Numba device array ``a``, for cuBLAS / cuSOLVER calls."""
    c = getattr(a, "_cupy", None)
    return c if c is not None else _cupy().asarray(a)


def to_dev(a):
    """A Numba device array for ``a``: NumPy is copied over, device memory is viewed (no copy)."""
    if isinstance(a, _NumbaArray):
        return a
    if isinstance(a, np.ndarray):
        cp = _cupy()
        if cp is not None:  # CuPy's pool: no cudaMalloc / cudaFree per transfer
            return _numba_view(cp.asarray(np.ascontiguousarray(a)))
        return cuda.to_device(np.ascontiguousarray(a))
    return _numba_view(a)


def empty(shape, dtype):
    """Uninitialised device memory; from CuPy's pool when CuPy is there (cudaFree syncs the device)."""
    cp = _cupy()
    if cp is not None:
        return _numba_view(cp.empty(shape, dtype=dtype))
    return cuda.device_array(shape, dtype=dtype)


def zeros(shape, dtype):
    """Zero-filled device memory."""
    out = empty(shape, dtype)
    n = out.size
    if n:
        _fill_kernel[launch(n)](flat(out), np.dtype(dtype).type(0))
    return out


def flat(a):
    """1-D view of a C-contiguous device array."""
    return a.reshape(a.size)


def deliver(kind, a):
    """Device result ``a`` in the caller's kind: NumPy copies back, the others are zero-copy views."""
    if kind == "numpy":
        return a.copy_to_host()
    if kind == "cupy":
        return cupy_view(a)
    if kind == "torch":
        import torch

        return torch.as_tensor(a, device="cuda")
    return a


def deliver_all(kind, *arrays):
    """:func:`deliver` for several results, as a tuple."""
    return tuple(deliver(kind, a) for a in arrays)


def to_host(a):
    """A NumPy copy of any array (used for label validation, loss scalars, the host eigensolver)."""
    if isinstance(a, np.ndarray):
        return a
    if type(a).__module__.split(".")[0] == "cupy":
        return a.get()
    return to_dev(a).copy_to_host()


def scalar_type(dtype):
    """The NumPy scalar type kernels are given their constants in (so float32 stays float32)."""
    return np.dtype(dtype).type


# ----------------------------------------------------------------------------------------------
# Layout and dtype changes on the device (the ops layer's C-contiguous, one-dtype guarantee).
# ----------------------------------------------------------------------------------------------


@cuda.jit
def _fill_kernel(out, value):
    """out[:] = value."""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[i] = value


@cuda.jit
def _copy1_kernel(src, dst):
    """dst[i] = src[i] for a strided 1-D src (casting to dst's dtype)."""
    for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
        dst[i] = src[i]


@cuda.jit
def _copy2_kernel(src, dst):
    """dst[i, j] = src[i, j] for any-strided 2-D src (casting to dst's dtype)."""
    cols = dst.shape[1]
    for e in range(cuda.grid(1), dst.shape[0] * cols, cuda.gridsize(1)):
        i = e // cols
        j = e - i * cols
        dst[i, j] = src[i, j]


def contiguous(a, dtype=None):
    """``a`` as a C-contiguous device array of ``dtype`` (itself when it already is one)."""
    a = to_dev(a)
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    if a.dtype == dtype and a.is_c_contiguous():
        return a
    out = empty(a.shape, dtype)
    if a.size == 0:
        return out
    if a.is_c_contiguous():
        _copy1_kernel[launch(a.size)](flat(a), flat(out))
    elif a.ndim == 1:
        _copy1_kernel[launch(a.size)](a, out)
    elif a.ndim == 2:
        _copy2_kernel[launch(a.size)](a, out)
    else:
        raise TypeError(
            f"non-contiguous device arrays of {a.ndim} dimensions are not supported; pass a C-contiguous one"
        )
    return out


def adopt(x):
    """Numba view of caller device array ``x`` (no copy), remembering the caller's kind."""
    if isinstance(x, _NumbaArray):
        return x
    kind = kind_of(x)
    try:
        view = _numba_view(x)
    except RuntimeError as exc:  # torch: "Can't get __cuda_array_interface__ on Variable that requires grad"
        raise TypeError(f"this device array cannot be shared without a copy ({exc}); pass x.detach()") from None
    setattr(view, KIND_ATTR, kind)
    return view


def tag_like(a, like):
    """``a`` carrying the caller kind of ``like`` (for arrays the ops layer moved or cast)."""
    kind = getattr(like, KIND_ATTR, None)
    if kind and getattr(a, KIND_ATTR, None) != kind:
        setattr(a, KIND_ATTR, kind)
    return a


def is_readonly(x):
    """The read-only flag of the cuda array interface (False for Numba / simulator arrays)."""
    try:
        return bool(x.__cuda_array_interface__["data"][1])
    except AttributeError:
        return False


# ----------------------------------------------------------------------------------------------
# Small device reductions for input validation: a handful of scalars come back, never the data.
# ----------------------------------------------------------------------------------------------

_STATS = 5  # lo, hi, lo_abs, hi_abs over finite values; count of NaN/Inf


@cuda.jit
def _stats_kernel(x, out):
    """Atomically fold min, max, min|.|, max|.| of the finite entries and the non-finite count."""
    lo = math.inf
    hi = -math.inf
    lo_abs = math.inf
    hi_abs = 0.0
    bad = 0.0
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        v = float(x[i])
        if math.isfinite(v):
            lo = min(lo, v)
            hi = max(hi, v)
            lo_abs = min(lo_abs, abs(v))
            hi_abs = max(hi_abs, abs(v))
        else:
            bad += 1.0
    cuda.atomic.min(out, 0, lo)
    cuda.atomic.max(out, 1, hi)
    cuda.atomic.min(out, 2, lo_abs)
    cuda.atomic.max(out, 3, hi_abs)
    cuda.atomic.add(out, 4, bad)


def stats(a):
    """(min, max, min |a|, max |a|) over the finite entries and the number of NaN/Inf entries."""
    a = contiguous(a)
    init = np.array([math.inf, -math.inf, math.inf, 0.0, 0.0])
    out = cuda.to_device(init)
    if a.size:
        blocks, threads = launch(a.size)
        # few blocks: one atomic per thread on 5 addresses must not become the bottleneck
        _stats_kernel[min(blocks, 64), threads](flat(a), out)
    lo, hi, lo_abs, hi_abs, bad = out.copy_to_host()
    return lo, hi, lo_abs, hi_abs, int(bad)


@cuda.jit
def _asym_kernel(a, rtol, atol, out):
    """Count entries with |a_ij - a_ji| > atol + rtol |a_ji| (NumPy's allclose rule)."""
    d = a.shape[0]
    bad = 0.0
    for e in range(cuda.grid(1), d * d, cuda.gridsize(1)):
        i = e // d
        j = e - i * d
        u = float(a[i, j])
        v = float(a[j, i])
        if not abs(u - v) <= atol + rtol * abs(v):
            bad += 1.0
    cuda.atomic.add(out, 0, bad)


def asymmetric_count(a, rtol, atol):
    """How many entries of square device matrix ``a`` break symmetry beyond the tolerances."""
    a = contiguous(a)
    out = cuda.to_device(np.zeros(1))
    blocks, threads = launch(a.size)
    _asym_kernel[min(blocks, 64), threads](a, float(rtol), float(atol), out)
    return int(out.copy_to_host()[0])


def write_back(original, dev):
    """After an in-place kernel on ``dev``: copy it into ``original`` if that is a host array."""
    if isinstance(original, np.ndarray):
        if original.flags.c_contiguous:
            dev.copy_to_host(original)
        else:
            original[...] = dev.copy_to_host()
