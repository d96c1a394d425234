"""Dense layers: affine and the fused affine + activation + inverted dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.activation_table import BY_NAME, NAMES
from . import _checks as chk
from ._dispatch import buffers, kernel


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
    activation = chk.choice(activation, "activation", NAMES)
    p = chk.keep_prob(keep_prob)
    seed, stream = chk.seed_stream(seed, stream)
    default = BY_NAME[activation].alpha
    if alpha is None:
        a = 0.0 if default is None else default
    else:
        # alpha > 0 keeps sign(f(z)) = sign(z), which the backward pass relies on (leaky ReLU, ELU)
        a = chk.number(alpha, "alpha", 0.0, low_open=True)
    return activation, p, seed, stream, a


def _pre_buffer(pre: Any, x: np.ndarray, w: np.ndarray, reads: tuple, names: str) -> np.ndarray | None:
    """The buffer that receives (forward) or holds (backward) the pre-activation x @ w + b."""
    if pre is None:
        return None
    pre = chk.out_array(pre, (x.shape[0], w.shape[1]), x.dtype, "pre")
    chk.separate((pre,), reads, "pre, " + names)
    return pre


def _out_for(out: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    if out is None:
        return None
    out = chk.out_array(out, (x.shape[0], w.shape[1]), x.dtype)
    chk.separate((out,), (x, w, b), "out, x, w, b")
    return out


@buffers("out")
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
    return kernel("affine_forward", backend, x, w, b)(x, w, b, out=_out_for(out, x, w, b))


@buffers("need_dx", "grads")
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
    return kernel("affine_backward", backend, dy, x, w)(dy, x, w, need_dx=bool(need_dx), grads=buffers)


@buffers("out", "pre")
def dense_forward(
    x: Any,
    w: Any,
    b: Any,
    activation: str = "relu",
    keep_prob: float = 1.0,
    seed: int = 0,
    stream: int = 0,
    alpha: float | None = None,
    *,
    out: np.ndarray | None = None,
    pre: np.ndarray | None = None,
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
    activation : str
        A name of ``fastmlp.ops.ACTIVATIONS`` (kernels/activation_table.py).
    keep_prob : float in (0, 1]
        Probability of keeping a unit; 1 disables dropout.
    seed, stream : int
        Key of the counter-based RNG; the backward pass regenerates the same mask from them.
    alpha : float > 0, optional
        The activation's parameter, for those that take one (leaky_relu's negative slope,
        elu's scale); default the activation table's.
    out : ndarray (N, M), optional
        Buffer for the result: no allocation.
    pre : ndarray (N, M), optional
        Buffer that receives the pre-activation ``x @ w + b``. :func:`dense_backward` needs it
        for the activations whose derivative their output does not give (the activation table's
        rows without ``from_output``: GELU, for one).

    Returns
    -------
    out : ndarray (N, M)
    """
    x, w, b = _affine_args(x, w, b)
    args = _fused_args(activation, keep_prob, seed, stream, alpha)
    out = _out_for(out, x, w, b)
    pre = _pre_buffer(
        pre, x, w, (x, w, b) if out is None else (out, x, w, b), "x, w, b" if out is None else "out, x, w, b"
    )
    return kernel("dense_forward", backend, x, w, b)(x, w, b, *args, out=out, pre=pre)


@buffers("need_dx", "grads", "pre")
def dense_backward(
    dout: Any,
    x: Any,
    w: Any,
    out: Any,
    activation: str = "relu",
    keep_prob: float = 1.0,
    seed: int = 0,
    stream: int = 0,
    alpha: float | None = None,
    *,
    need_dx: bool = True,
    grads: tuple | None = None,
    pre: Any = None,
    backend: str | None = None,
) -> tuple:
    """Gradients of :func:`dense_forward` from its output ``out`` and the same RNG key.

    ``dz = dout * mask * f'(z)``, then the affine backward. ``f'`` is recovered from ``out`` for
    the activations whose output gives it (relu, sigmoid, tanh, ...: ``from_output`` in the
    activation table); the others need ``pre``, the pre-activation saved by :func:`dense_forward`.

    Parameters
    ----------
    dout : array (N, M), gradient of the loss wrt ``out``
    x, w : the forward's input (N, D) and weights (D, M)
    out : array (N, M), the forward's output
    activation, keep_prob, seed, stream, alpha : exactly as given to :func:`dense_forward`
    need_dx : bool, default True — False skips the dx GEMM (dx is None)
    grads : tuple (dx, dw, db) of ndarrays, optional — buffers to write into
    pre : array (N, M) — the pre-activation ``x @ w + b`` (``dense_forward(..., pre=buffer)``);
        required where the output does not give f', ignored elsewhere

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
    reads: tuple = (dout, x, w, out)
    names = "dout, x, w, out"
    if not BY_NAME[args[0]].from_output:
        if pre is None:
            raise ValueError(
                f"dense_backward of activation {args[0]!r} needs pre=, the pre-activation x @ w + b: "
                "its derivative cannot be recovered from the output (save it with dense_forward(..., pre=buffer))"
            )
        pre = chk.contiguous(chk.as_array(pre, "pre", 2), dout.dtype)
        chk.same_shape(pre, dout, "pre", "dout")
        reads, names = (*reads, pre), names + ", pre"
    else:
        pre = None
    buffers = chk.grad_buffers(grads, bool(need_dx), x, w, reads, names)
    fn = kernel("dense_backward", backend, *reads)
    return fn(dout, x, w, out, *args, need_dx=bool(need_dx), grads=buffers, pre=pre)
