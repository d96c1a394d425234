"""Dense layers: affine and the fused affine + activation + inverted dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks as chk
from ._checks import kernel

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")


def _affine_args(x: Any, w: Any, b: Any) -> list[np.ndarray]:
    if (
        chk.ready(x, w, b)
        and x.ndim == w.ndim == 2
        and b.ndim == 1
        and x.shape[0] > 0
        and x.shape[1] == w.shape[0] > 0
        and b.shape[0] == w.shape[1] > 0
    ):
        return [x, w, b]
    x = chk.batch(x, "x")
    w = chk.as_array(w, "w", 2)
    b = chk.as_array(b, "b", 1)
    if w.shape[1] == 0:
        raise ValueError(f"w has no columns (shape {w.shape}): a layer needs at least one output unit")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[1]} features but w has {w.shape[0]} rows (w is (D_in, D_out))")
    if b.shape[0] != w.shape[1]:
        raise ValueError(f"b has {b.shape[0]} entries but w has {w.shape[1]} columns")
    return chk.common(x, w, b)


def _backward_args(dy: Any, x: Any, w: Any, name: str = "dy") -> list[np.ndarray]:
    if (
        chk.ready(dy, x, w)
        and dy.ndim == x.ndim == w.ndim == 2
        and x.shape[0] > 0
        and x.shape[1] == w.shape[0] > 0
        and dy.shape == (x.shape[0], w.shape[1])
        and dy.size > 0
    ):
        return [dy, x, w]
    dy = chk.batch(dy, name)
    x = chk.batch(x, "x")
    w = chk.as_array(w, "w", 2)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[1]} features but w has {w.shape[0]} rows (w is (D_in, D_out))")
    if dy.shape != (x.shape[0], w.shape[1]):
        raise ValueError(f"{name} has shape {dy.shape} but x @ w has shape {(x.shape[0], w.shape[1])}")
    return chk.common(dy, x, w)


def _fused_args(activation: Any, keep_prob: Any, seed: Any, stream: Any, alpha: Any) -> tuple:
    activation = chk.choice(activation, "activation", ACTIVATIONS)
    p = chk.keep_prob(keep_prob)
    seed, stream = chk.seed_stream(seed, stream)
    # alpha > 0 keeps sign(f(z)) = sign(z), which the backward pass relies on
    a = chk.number(alpha, "alpha", 0.0, low_open=True)
    return activation, p, seed, stream, a


def _out_for(out: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    if out is None:
        return None
    out = chk.out_array(out, (x.shape[0], w.shape[1]), x.dtype)
    chk.separate((out,), (x, w, b), "out, x, w, b")
    return out


def affine_forward(x: Any, w: Any, b: Any, *, out: np.ndarray | None = None, backend: str | None = None) -> np.ndarray:
    """Affine map of a batch of rows: ``y = x @ w + b``.

    Parameters
    ----------
    x : array (N, D)
    w : array (D, M)
    b : array (M,)
    out : ndarray (N, M), optional
        Buffer for the result (C-contiguous, the computation's dtype): no allocation.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    y : ndarray (N, M) (``out`` when given)

    Raises
    ------
    ValueError, TypeError
        Wrong ranks or mismatched shapes, empty batch, non-numeric dtype.
    """
    x, w, b = _affine_args(x, w, b)
    return chk.call_out(kernel("affine_forward", backend, x, w, b), (x, w, b), _out_for(out, x, w, b))


def affine_backward(
    dy: Any, x: Any, w: Any, *, need_dx: bool = True, grads: tuple | None = None, backend: str | None = None
) -> tuple:
    """Gradients of ``y = x @ w + b``: ``dx = dy @ w.T``, ``dw = x.T @ dy``, ``db = dy.sum(0)``.

    Parameters
    ----------
    dy : array (N, M)
    x : array (N, D)
    w : array (D, M)
    need_dx : bool, default True
        False skips the ``dy @ w.T`` GEMM (the first layer's input needs no gradient); dx is None.
    grads : tuple (dx, dw, db) of ndarrays, optional
        Buffers to write into (dx may be None when ``need_dx`` is False): no allocation.

    Returns
    -------
    dx : ndarray (N, D) or None
    dw : ndarray (D, M)
    db : ndarray (M,)
    """
    dy, x, w = _backward_args(dy, x, w)
    buffers = chk.grad_buffers(grads, bool(need_dx), x, w, (dy, x, w), "dy, x, w")
    fn = kernel("affine_backward", backend, dy, x, w)
    return chk.call_backward(fn, (dy, x, w), bool(need_dx), buffers)


def dense_forward(
    x: Any,
    w: Any,
    b: Any,
    activation: str = "relu",
    keep_prob: float = 1.0,
    seed: int = 0,
    stream: int = 0,
    alpha: float = 0.01,
    *,
    out: np.ndarray | None = None,
    backend: str | None = None,
) -> np.ndarray:
    """Fused dense layer: ``out = f(x @ w + b) * mask``.

    ``mask`` is the inverted-dropout mask :func:`dropout_mask` ``(shape, keep_prob, seed,
    stream)``: kept units are scaled by ``1/keep_prob``, so prediction needs no rescaling.

    Parameters
    ----------
    x : array (N, D)
    w : array (D, M)
    b : array (M,)
    activation : {"identity", "relu", "leaky_relu", "sigmoid", "tanh"}
    keep_prob : float in (0, 1]
        Probability of keeping a unit; 1 disables dropout.
    seed, stream : int
        Key of the counter-based RNG; the backward pass regenerates the same mask from them.
    alpha : float > 0
        Negative slope of ``leaky_relu``.
    out : ndarray (N, M), optional
        Buffer for the result: no allocation.

    Returns
    -------
    out : ndarray (N, M)
    """
    x, w, b = _affine_args(x, w, b)
    args = _fused_args(activation, keep_prob, seed, stream, alpha)
    return chk.call_out(kernel("dense_forward", backend, x, w, b), (x, w, b, *args), _out_for(out, x, w, b))


def dense_backward(
    dout: Any,
    x: Any,
    w: Any,
    out: Any,
    activation: str = "relu",
    keep_prob: float = 1.0,
    seed: int = 0,
    stream: int = 0,
    alpha: float = 0.01,
    *,
    need_dx: bool = True,
    grads: tuple | None = None,
    backend: str | None = None,
) -> tuple:
    """Gradients of :func:`dense_forward` from its output ``out`` and the same RNG key.

    ``dz = dout * mask * f'(z)`` (``f'`` recovered from ``out``), then the affine backward.

    Parameters
    ----------
    dout : array (N, M), gradient of the loss wrt ``out``
    x, w : the forward's input (N, D) and weights (D, M)
    out : array (N, M), the forward's output
    activation, keep_prob, seed, stream, alpha : exactly as given to :func:`dense_forward`
    need_dx : bool, default True — False skips the dx GEMM (dx is None)
    grads : tuple (dx, dw, db) of ndarrays, optional — buffers to write into

    Returns
    -------
    dx : ndarray (N, D) or None
    dw : ndarray (D, M)
    db : ndarray (M,)
    """
    dout, x, w = _backward_args(dout, x, w, "dout")
    out = chk.as_array(out, "out", 2)
    chk.same_shape(out, dout, "out", "dout")
    out = chk.contiguous(out, dout.dtype)
    args = _fused_args(activation, keep_prob, seed, stream, alpha)
    buffers = chk.grad_buffers(grads, bool(need_dx), x, w, (dout, x, w, out), "dout, x, w, out")
    fn = kernel("dense_backward", backend, dout, x, w, out)
    return chk.call_backward(fn, (dout, x, w, out, *args), bool(need_dx), buffers)
