# thinc's array types (Floats2d, ...) are nominal classes that mypy cannot relate to the ndarrays they
# are at run time; the signatures must use them (thinc's consistency test compares annotations).
# mypy: disable-error-code="arg-type,call-arg,call-overload,return-value,assignment"
"""A thinc backend on fastmlp's kernels: ``thinc.api.use_ops("fastmlp")``.

:class:`FastmlpOps` subclasses thinc's ``NumpyOps`` and overrides the hot dense-network methods
with the same signatures, semantics and dtypes:

- fastmlp kernels: ``relu``/``backprop_relu``, ``get_dropout_mask`` (counter-based RNG),
  ``maxout``/``backprop_maxout``, ``adam`` (fused update), and the activation table's rows thinc
  also has: ``gelu``, ``gelu_approx`` (fastmlp's ``gelu_tanh``), ``swish`` (``silu``), ``mish``
  with their backprops;
- NumPy's BLAS, fastmlp's GEMM path (threads follow :func:`fastmlp.set_num_threads`): ``gemm``
  and ``affine``;
- lean NumPy, as fastmlp has no standalone softmax kernel: ``softmax``/``backprop_softmax``.

Inputs it cannot serve (other dtypes, empty arrays, device arrays, ...) go to the parent
unchanged. It is registered under thinc's ``thinc_ops`` entry point (``pyproject.toml``), so
``thinc.api.get_ops("fastmlp")`` finds it once fastmlp is installed.

Needs the optional dependency thinc: ``pip install 'fastmlp[thinc]'``. ``import fastmlp`` never
imports this module.
"""

import functools
import itertools
import math
import threading
from typing import Any, Optional, Tuple  # noqa: UP035 - the annotations thinc's own Ops use (its tests compare them)

import numpy as np

try:
    from thinc.api import NumpyOps, registry
    from thinc.backends.ops import FloatsT, FloatsXdT
    from thinc.types import Floats1d, Floats2d, Floats3d, FloatsXd, Ints2d
except ImportError as exc:  # thinc is optional: say how to get it
    raise ImportError(
        f"fastmlp.thinc_ops needs thinc, which could not be imported ({exc}); "
        "install it with: pip install 'fastmlp[thinc]'"
    ) from exc

from . import backends, ops

__all__ = ["FastmlpOps"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SEED_HIGH = 2**63 - 1
_STREAMS = 2**32  # fastmlp's stream range; past it the seed moves on


def _served(*arrays: Any, ndim: int | None = None) -> bool:
    """True when every array is a non-empty host float32/float64 ndarray of one dtype (and rank)."""
    first = arrays[0]
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype not in _FLOATS or a.dtype != first.dtype or a.size == 0:
            return False
        if ndim is not None and a.ndim != ndim:
            return False
    return True


@functools.lru_cache(maxsize=64)
def _uncorrected_step(beta1: float, beta2: float) -> int:
    """A step t with ``1 - beta**t == 1.0`` exactly in float64 for both betas.

    fastmlp's Adam applies the bias corrections ``1 - beta**t``; thinc's ``ops.adam`` takes a
    learning rate already corrected by the caller, so it must see corrections of exactly 1. For
    beta in [0, 1) beta**t drops below half an ulp of 1 (2**-54) once t >= 54 ln2 / -ln(beta);
    the loop doubles t on the rare rounding miss. Returns 0 when t would not fit an int32 (betas
    within ~1e-8 of 1), and the caller then falls back to the parent.
    """
    t = 1
    for b in (beta1, beta2):
        if b > 0:
            t = max(t, math.ceil(54 * math.log(2) / -math.log(b)))
    while 1.0 - beta1**t != 1.0 or 1.0 - beta2**t != 1.0:
        t *= 2
    return t if t < 2**31 else 0


@registry.ops("FastmlpOps")
class FastmlpOps(NumpyOps):
    """thinc ``NumpyOps`` whose dense-network hot paths run on fastmlp's fused kernels.

    Parameters
    ----------
    device_type, device_id, use_blis
        As for ``NumpyOps``.
    seed : int, optional
        Seed of the dropout masks. By default one is drawn from NumPy's global RNG at the first
        mask, so ``thinc.api.fix_random_seed`` makes runs repeatable, as with ``NumpyOps``.
    backend : str, optional
        fastmlp CPU backend for the kernels (``"numba"``, ``"cython"``, ``"numpy"``); default
        :func:`fastmlp.get_backend`.

    Notes
    -----
    Successive dropout masks use successive streams of fastmlp's counter-based RNG under one
    seed, so every mask differs and none needs NumPy's generator.
    """

    name = "fastmlp"

    def __init__(
        self,
        device_type: str = "cpu",
        device_id: int = -1,
        *,
        use_blis: bool = True,
        seed: int | None = None,
        backend: str | None = None,
    ) -> None:
        super().__init__(device_type, device_id, use_blis=use_blis)
        if backend is not None and backend not in backends.available():
            raise ValueError(
                f"backend must be one of the available fastmlp backends {backends.available()}, got {backend!r}"
            )
        if backend == "cuda":
            raise ValueError("backend='cuda' does not apply: FastmlpOps works on NumPy (host) arrays")
        if seed is not None:
            seed = int(seed)
            if not 0 <= seed < 2**64:
                raise ValueError(f"seed must be in [0, 2**64), got {seed}")
        self.backend = backend
        self._seed = seed
        self._masks = itertools.count()  # next() is atomic under the GIL: no two masks share a stream
        self._seed_lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Picklable and deep-copyable (models built under ``use_ops("fastmlp")`` hold the ops): the
        lock is left out and remade; the copy continues with the next mask's stream."""
        state = dict(self.__dict__)
        state["_masks"] = next(self._masks)
        del state["_seed_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state["_masks"] = itertools.count(state["_masks"])
        self.__dict__.update(state)
        self._seed_lock = threading.Lock()

    # ------------------------------------------------------------------ dense

    def gemm(
        self,
        x: Floats2d,
        y: Floats2d,
        out: Optional[Floats2d] = None,  # noqa: UP045 - thinc's Ops.gemm annotation, compared by its tests
        trans1: bool = False,
        trans2: bool = False,
    ) -> Floats2d:
        """``x @ y`` (``x.T`` / ``y.T`` with ``trans1`` / ``trans2``), optionally into ``out``.

        The product goes to NumPy's BLAS (fastmlp's CPU GEMM: multithreaded, threads set by
        :func:`fastmlp.set_num_threads`) with the transposes passed as BLAS flags, not copies.
        """
        if not _served(x, y, ndim=2) or (out is not None and not self._writable_out(out, x.dtype)):
            return super().gemm(x, y, out=out, trans1=trans1, trans2=trans2)
        a = x.T if trans1 else x
        b = y.T if trans2 else y
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"gemm shape mismatch: {a.shape} @ {b.shape} (after trans1={trans1}, trans2={trans2})")
        if out is None:
            return np.matmul(a, b)
        if out.shape != (a.shape[0], b.shape[1]):
            raise ValueError(f"out has shape {out.shape} but the product has shape {(a.shape[0], b.shape[1])}")
        np.matmul(a, b, out=out)
        return out

    @staticmethod
    def _writable_out(out: Any, dtype: np.dtype) -> bool:
        return (
            type(out) is np.ndarray
            and out.dtype == dtype
            and out.flags.c_contiguous
            and out.flags.writeable
            and out.ndim == 2
        )

    def affine(self, X: Floats2d, W: Floats2d, b: Floats1d) -> Floats2d:
        """``Y = X @ W.T + b`` (thinc's W is (nO, nI)): :meth:`gemm` with W transposed by flag, then b.

        Not ``fastmlp.ops.affine_forward``: it takes w as (D_in, D_out) C-contiguous, so thinc's
        W would be copied on every call (measured 3.5x slower at batch 8, equal at 128+ with one
        BLAS thread), and its fused bias pass saves nothing measurable.
        """
        if not (_served(X, W, ndim=2) and _served(X, b) and b.ndim == 1):
            return super().affine(X, W, b)
        Y = self.gemm(X, W, trans2=True)
        Y += b
        return Y

    def relu(self, X: Floats2d, inplace: bool = False) -> Floats2d:
        """``max(0, X)``; with ``inplace`` the result is written into X and X returned."""
        if not _served(X):
            return super().relu(X, inplace=inplace)
        Y = ops.relu_forward(X, backend=self.backend)
        if inplace:
            X[...] = Y
            return X
        return Y

    def backprop_relu(self, dY: Floats2d, Y: Floats2d, inplace: bool = False) -> Floats2d:
        """``dY * (Y > 0)`` from the forward output Y; with ``inplace`` written into dY."""
        if not _served(dY, Y) or dY.shape != Y.shape:
            return super().backprop_relu(dY, Y, inplace)
        dX = ops.relu_backward(dY, Y, backend=self.backend)
        if inplace:
            dY[...] = dX
            return dY
        return dX

    # ------------------------------------------- activations of fastmlp's activation table

    def _table_forward(self, name: str, X: Any, inplace: bool) -> Any:
        """``ops.<name>_forward(X)``, written into X when ``inplace``; None when not served."""
        if not _served(X):
            return None
        Y = getattr(ops, f"{name}_forward")(X, backend=self.backend)
        if inplace:
            X[...] = Y
            return X
        return Y

    def _table_backward(self, name: str, dY: Any, X: Any, inplace: bool) -> Any:
        """``ops.<name>_backward(dY, X)`` (X the forward input), into dY when ``inplace``."""
        if not _served(dY, X) or dY.shape != X.shape:
            return None
        dX = getattr(ops, f"{name}_backward")(dY, X, backend=self.backend)
        if inplace:
            dY[...] = dX
            return dY
        return dX

    def gelu(self, X: FloatsXdT, inplace: bool = False) -> FloatsXdT:
        """GELU, ``X * Phi(X)``, with the exact erf (thinc's ``erf`` is a 1e-7 approximation)."""
        Y = self._table_forward("gelu", X, inplace)
        return super().gelu(X, inplace=inplace) if Y is None else Y

    def backprop_gelu(self, dY: FloatsXdT, X: FloatsXdT, inplace: bool = False) -> FloatsXdT:
        """``dY * (Phi(X) + X phi(X))`` from the forward input X."""
        dX = self._table_backward("gelu", dY, X, inplace)
        return super().backprop_gelu(dY, X, inplace=inplace) if dX is None else dX

    def gelu_approx(self, X: FloatsXdT, inplace: bool = False) -> FloatsXdT:
        """GELU's tanh approximation (fastmlp's ``gelu_tanh``, exact coefficients)."""
        Y = self._table_forward("gelu_tanh", X, inplace)
        return super().gelu_approx(X, inplace=inplace) if Y is None else Y

    def backprop_gelu_approx(self, dY: FloatsXdT, X: FloatsXdT, inplace: bool = False) -> FloatsXdT:
        """Gradient of :meth:`gelu_approx` from the forward input X."""
        dX = self._table_backward("gelu_tanh", dY, X, inplace)
        return super().backprop_gelu_approx(dY, X, inplace=inplace) if dX is None else dX

    def swish(self, X: FloatsXdT, inplace: bool = False) -> FloatsXdT:
        """Swish / SiLU, ``X * sigmoid(X)``."""
        Y = self._table_forward("silu", X, inplace)
        return super().swish(X, inplace=inplace) if Y is None else Y

    def backprop_swish(self, dY: FloatsXdT, X: FloatsXdT, Y: FloatsXdT, inplace: bool = False) -> FloatsXdT:
        """Gradient of :meth:`swish` from the forward input X (Y, its output, is not needed)."""
        # Y is not used, but its shape is checked as thinc's own does: thinc's tests expect the refusal
        dX = self._table_backward("silu", dY, X, inplace) if getattr(Y, "shape", None) == X.shape else None
        return super().backprop_swish(dY, X, Y, inplace=inplace) if dX is None else dX

    def mish(self, X: FloatsXdT, threshold: float = 20.0, inplace: bool = False) -> FloatsXdT:
        """Mish, ``X * tanh(softplus(X))``. At thinc's default threshold (20, above which thinc
        returns X) fastmlp's overflow-free formula gives X to the last bit; other thresholds
        change the function, so thinc's own code serves them."""
        Y = self._table_forward("mish", X, inplace) if threshold == 20.0 else None
        return super().mish(X, threshold=threshold, inplace=inplace) if Y is None else Y

    def backprop_mish(self, dY: FloatsXdT, X: Floats2d, threshold: float = 20.0, inplace: bool = False) -> FloatsXdT:
        """Gradient of :meth:`mish` from the forward input X (1 above the threshold, as thinc's)."""
        dX = self._table_backward("mish", dY, X, inplace) if threshold == 20.0 else None
        return super().backprop_mish(dY, X, threshold=threshold, inplace=inplace) if dX is None else dX

    # ------------------------------------------------------------------ dropout

    def _next_key(self) -> tuple[int, int]:
        """(seed, stream) of the next mask: a fresh stream each call, the seed drawn once."""
        n = next(self._masks)
        if self._seed is None:
            with self._seed_lock:
                if self._seed is None:
                    # NumPy's global RNG, which thinc.api.fix_random_seed seeds
                    self._seed = int(np.random.randint(0, _SEED_HIGH, dtype=np.int64))  # noqa: NPY002
        return (self._seed + n // _STREAMS) % 2**64, n % _STREAMS

    def get_dropout_mask(self, shape: Tuple[int, ...], drop: Optional[float]) -> FloatsXd:  # noqa: UP006, UP045
        """float32 mask of ``shape``: 0 with probability ``drop``, else ``1 / (1 - drop)``.

        ``drop`` is the DROP probability (thinc's convention): ``None`` or <= 0 gives ones, >= 1
        zeros, exactly as ``NumpyOps``.
        """
        if drop is None or drop <= 0 or drop >= 1:
            return super().get_dropout_mask(shape, drop)
        dims = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        if math.prod(dims) == 0:
            return super().get_dropout_mask(shape, drop)
        keep = 1.0 - drop
        seed, stream = self._next_key()
        mask = ops.dropout_mask(dims, keep, seed, stream, np.float32, backend=self.backend)
        # thinc's kept value is float32(1 / keep) rounded from float64; fastmlp divides in
        # float32, which can differ by one ulp: patch the kept entries only when it does
        want = np.float32(1.0 / keep)
        if np.float32(1) / np.float32(keep) != want:
            np.copyto(mask, want, where=mask != 0)
        return mask

    # ------------------------------------------------------------------ softmax

    def softmax(self, x: FloatsT, *, inplace: bool = False, axis: int = -1, temperature: float = 1.0) -> FloatsT:
        """Softmax over ``axis`` of ``x / temperature``, max-shifted, as ``Ops.softmax``.

        fastmlp has no standalone softmax kernel (its fused softmax kernel produces the
        cross-entropy gradient; recovering probabilities from it measured 3-7x slower than
        NumPy), so this is NumPy with one temporary fewer than the parent, bit-identical to it.
        """
        if not _served(x):
            return super().softmax(x, inplace=inplace, axis=axis, temperature=temperature)
        if temperature != 1.0:
            x = x / temperature
        y = x - x.max(axis=axis, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=axis, keepdims=True)
        return y

    def backprop_softmax(self, Y: FloatsT, dY: FloatsT, *, axis: int = -1, temperature: float = 1.0) -> FloatsT:
        """``dX = Y * (dY - sum(Y * dY, axis))`` (``dY / temperature`` first), as ``Ops``.

        NumPy, like :meth:`softmax`: the row sums come from one ``einsum`` pass with no
        temporary (measured up to 1.7x faster than the parent on wide inputs).
        """
        if not _served(Y, dY) or Y.shape != dY.shape:
            return super().backprop_softmax(Y, dY, axis=axis, temperature=temperature)
        if temperature != 1.0:
            dY = dY / temperature
        if Y.ndim == 2 and axis in (-1, 1):
            s = np.einsum("ij,ij->i", Y, dY)[:, None]
        else:
            s = (Y * dY).sum(axis=axis, keepdims=True)
        dX = dY - s
        dX *= Y
        return dX

    # ------------------------------------------------------------------ maxout

    def maxout(self, X: Floats3d) -> Tuple[Floats2d, Ints2d]:  # noqa: UP006
        """Max over the last axis of X (B, O, P): ``(best (B, O), which (B, O) int32)``.

        thinc's (B, O, P) C layout IS fastmlp's unit-major (B, O*P) layout (pieces of a unit
        adjacent), so the kernel runs on a reshaped view. Ties go to the first piece, as thinc.
        """
        if not _served(X, ndim=3):
            return super().maxout(X)
        B, O, P = X.shape
        best, which = ops.maxout_forward(X.reshape(B, O * P), P, backend=self.backend)
        return best, which.astype(np.int32)

    def backprop_maxout(self, dY: Floats2d, which: Ints2d, P: int) -> Floats3d:
        """Routes dY (B, O) to the winning pieces: dX (B, O, P), zeros elsewhere.

        A piece index outside [0, P) raises IndexError, as thinc's own ops do."""
        if not _served(dY, ndim=2) or np.shape(which) != dY.shape:
            return super().backprop_maxout(dY, which, P)
        which = np.asarray(which)
        if which.size and (which.min() < 0 or which.max() >= P):
            bad = int(which.min()) if which.min() < 0 else int(which.max())
            raise IndexError(f"maxout piece index {bad} is out of range for P={P}")
        dX = ops.maxout_backward(dY, which, P, backend=self.backend)
        return dX.reshape(dY.shape[0], dY.shape[1], P)

    # ------------------------------------------------------------------ optimizer

    def adam(
        self,
        weights: Floats1d,
        gradient: Floats1d,
        mom1: Floats1d,
        mom2: Floats1d,
        beta1: float,
        beta2: float,
        eps: float,
        learn_rate: float,
        mod_rate: float = 1.0,
    ) -> Tuple[Floats1d, Floats1d, Floats1d, Floats1d]:  # noqa: UP006
        """One Adam step IN PLACE, thinc's convention: ``learn_rate`` is already bias-corrected.

        ``mom1 = b1 mom1 + (1-b1) g``, ``mom2 = b2 mom2 + (1-b2) g**2``,
        ``weights -= learn_rate * mom1 / (mod_rate * sqrt(mom2) + eps)``; the gradient is zeroed
        afterwards, as ``NumpyOps`` leaves it. Runs fastmlp's fused Adam kernel with bias
        corrections of exactly 1 (see :func:`_uncorrected_step`). ``mod_rate`` acts as in
        thinc's reference ``Ops.adam`` (``NumpyOps`` ignores it; thinc's optimizer never sets it).

        Returns
        -------
        (weights, gradient, mom1, mom2) : the same arrays, updated
        """
        # NumpyOps takes the scalars as C floats: rounding them to float32 first reproduces its
        # constants (its 1 - beta2 is float32(1) - float32(beta2), ~1e-5 relative away from
        # float32(1 - beta2), which fastmlp would otherwise use)
        beta1, beta2, eps, learn_rate = (float(np.float32(a)) for a in (beta1, beta2, eps, learn_rate))
        t = _uncorrected_step(beta1, beta2) if 0 <= beta1 < 1 and 0 <= beta2 < 1 else 0
        arrays = (weights, gradient, mom1, mom2)
        if (
            not t
            or not _served(*arrays, ndim=1)
            or weights.dtype != np.float32
            or any(a.shape != weights.shape or not a.flags.writeable for a in arrays)
            or not (learn_rate > 0 and eps > 0 and mod_rate > 0)
        ):
            return super().adam(weights, gradient, mom1, mom2, beta1, beta2, eps, learn_rate, mod_rate)
        # lr m / (mod sqrt(v) + eps) == (lr / mod) m / (sqrt(v) + eps / mod)
        ops.adam_update(
            weights, gradient, mom1, mom2, t, learn_rate / mod_rate, beta1, beta2, eps / mod_rate, backend=self.backend
        )
        gradient.fill(0)
        return weights, gradient, mom1, mom2
