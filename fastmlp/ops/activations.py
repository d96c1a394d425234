"""Elementwise activations, PReLU, maxout and dead-ReLU monitoring."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import kernel
from . import _checks as chk


def _one(x: Any, name: str = "x") -> np.ndarray:
    x = chk.as_array(x, name)
    if x.ndim == 0 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty array, got shape {x.shape}")
    return np.ascontiguousarray(x)


def _pair(dy: Any, y: Any, name: str = "y") -> list[np.ndarray]:
    dy, y = _one(dy, "dy"), _one(y, name)
    chk.same_shape(dy, y, "dy", name)
    return chk.common(dy, y)


def _alpha(alpha: Any) -> float:
    return chk.number(alpha, "alpha")


def relu_forward(x: Any, *, backend: str | None = None) -> np.ndarray:
    """ReLU ``max(0, x)``, elementwise, any shape.

    Returns
    -------
    y : ndarray, same shape and float dtype as x
    """
    return kernel("relu_forward", backend)(_one(x))


def relu_backward(dy: Any, y: Any, *, backend: str | None = None) -> np.ndarray:
    """ReLU gradient from the forward output: ``dx = dy * (y > 0)`` (0 for x <= 0).

    Parameters
    ----------
    dy, y : arrays of the same shape
    """
    return kernel("relu_backward", backend)(*_pair(dy, y))


def leaky_relu_forward(x: Any, alpha: float = 0.01, *, backend: str | None = None) -> np.ndarray:
    """Leaky ReLU: ``x if x >= 0 else alpha * x``."""
    return kernel("leaky_relu_forward", backend)(_one(x), _alpha(alpha))


def leaky_relu_backward(dy: Any, x: Any, alpha: float = 0.01, *, backend: str | None = None) -> np.ndarray:
    """Leaky ReLU gradient from the forward input: ``dy if x >= 0 else alpha * dy``."""
    dy, x = _pair(dy, x, "x")
    return kernel("leaky_relu_backward", backend)(dy, x, _alpha(alpha))


def _prelu_args(x: Any, alpha: Any) -> list[np.ndarray]:
    x = chk.batch(x, "x")
    alpha = chk.as_array(alpha, "alpha", 1)
    if alpha.shape[0] != x.shape[1]:
        raise ValueError(f"alpha has {alpha.shape[0]} slopes but x has {x.shape[1]} units")
    return chk.common(x, alpha)


def prelu_forward(x: Any, alpha: Any, *, backend: str | None = None) -> np.ndarray:
    """PReLU (He et al. 2015): ``x if x >= 0 else alpha_j * x``, one learned slope per unit.

    Parameters
    ----------
    x : array (N, M)
    alpha : array (M,)
    """
    return kernel("prelu_forward", backend)(*_prelu_args(x, alpha))


def prelu_backward(dy: Any, x: Any, alpha: Any, *, backend: str | None = None) -> tuple:
    """PReLU gradients: ``dx`` and ``dalpha_j = sum_i dy_ij x_ij [x_ij < 0]``.

    Returns
    -------
    dx : ndarray (N, M)
    dalpha : ndarray (M,)
    """
    x, alpha = _prelu_args(x, alpha)
    dy = chk.as_array(dy, "dy", 2)
    chk.same_shape(dy, x, "dy", "x")
    dy, x, alpha = chk.common(dy, x, alpha)
    return kernel("prelu_backward", backend)(dy, x, alpha)


def sigmoid_forward(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + e^-x)``, stable for large |x|."""
    return kernel("sigmoid_forward", backend)(_one(x))


def sigmoid_backward(dy: Any, y: Any, *, backend: str | None = None) -> np.ndarray:
    """Sigmoid gradient from the forward output: ``dx = dy * y * (1 - y)``."""
    return kernel("sigmoid_backward", backend)(*_pair(dy, y))


def tanh_forward(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Hyperbolic tangent ``tanh(x) = 2 sigmoid(2x) - 1``, stable for large |x|."""
    return kernel("tanh_forward", backend)(_one(x))


def tanh_backward(dy: Any, y: Any, *, backend: str | None = None) -> np.ndarray:
    """Tanh gradient from the forward output: ``dx = dy * (1 - y**2)``."""
    return kernel("tanh_backward", backend)(*_pair(dy, y))


def maxout_forward(z: Any, k: int, *, backend: str | None = None) -> tuple:
    """Maxout over ``k`` pieces (Goodfellow et al. 2013): ``y_ij = max_p z_i,(j k + p)``.

    Parameters
    ----------
    z : array (N, M*k)
        Pre-activations of ``k`` affine pieces per unit, the pieces of unit j adjacent.
    k : int >= 1

    Returns
    -------
    y : ndarray (N, M)
    idx : ndarray (N, M) of int64
        Winning piece per unit (first on ties), needed by :func:`maxout_backward`.
    """
    z = np.ascontiguousarray(chk.batch(z, "z"))
    k = chk.integer(k, "k", 1)
    if z.shape[1] % k:
        raise ValueError(f"z has {z.shape[1]} columns, not a multiple of k={k} pieces")
    return kernel("maxout_forward", backend)(z, k)


def maxout_backward(dy: Any, idx: Any, k: int, *, backend: str | None = None) -> np.ndarray:
    """Maxout gradient: routes ``dy`` (N, M) to the winning pieces; returns ``dz`` (N, M*k)."""
    dy = np.ascontiguousarray(chk.batch(dy, "dy"))
    k = chk.integer(k, "k", 1)
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"idx must hold integer piece indices, got dtype {idx.dtype}")
    chk.same_shape(idx, dy, "idx", "dy")
    if idx.min() < 0 or idx.max() >= k:  # an index outside [0, k) would write out of bounds
        raise ValueError(f"idx must be in [0, {k}), got values in [{idx.min()}, {idx.max()}]")
    return kernel("maxout_backward", backend)(dy, np.ascontiguousarray(idx, dtype=np.int64), k)


def dead_relu_fraction(h: Any, fired: Any = None, *, backend: str | None = None) -> float:
    """Fraction of units (columns of ``h``) that never fired (``h > 0``).

    Parameters
    ----------
    h : array (N, M)
        ReLU outputs of one batch.
    fired : bool ndarray (M,), optional
        Running record, OR-ed in place with this batch; the fraction then covers every batch
        seen so far (scan a dataset batch by batch to get the notes' "dead units" figure).

    Returns
    -------
    float in [0, 1]
    """
    h = np.ascontiguousarray(chk.batch(h, "h"))
    if fired is not None:
        if not isinstance(fired, np.ndarray) or fired.dtype != np.bool_:
            raise TypeError("fired must be a bool NumPy array (it is updated in place)")
        if fired.shape != (h.shape[1],):
            raise ValueError(f"fired has shape {fired.shape} but h has {h.shape[1]} units")
        if not fired.flags.writeable:
            raise ValueError("fired is updated in place but is read-only")
        if not fired.flags.c_contiguous:
            work = np.ascontiguousarray(fired)
            fraction = kernel("dead_relu_fraction", backend)(h, work)
            fired[...] = work
            return fraction
    return kernel("dead_relu_fraction", backend)(h, fired)
