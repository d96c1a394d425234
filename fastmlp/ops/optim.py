"""Optimizer updates and the max-norm constraint. All update their arrays IN PLACE.

``w`` and the state arrays may have any layout and byte order: others than C-contiguous native
ones are updated through a copy that is written back. ``weight_decay`` is the L2 strength: the step uses
``dw + weight_decay * w`` (from ``loss += 0.5 * weight_decay * ||w||^2``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backends
from . import _checks as chk
from ._dispatch import kernel


def _ready(w: Any, dw: Any, states: tuple) -> bool:
    """The common case, checked in one go at a fraction of the general path's cost (that path also
    says what is wrong; benches/NOTES.md change 12): ``chk.ready`` arrays of w's shape, w non-empty,
    the updated ones writeable."""
    if not chk.ready(w, dw, *states) or w.size == 0:
        return False
    shape = w.shape
    if dw.shape != shape or not w.flags.writeable:
        return False
    for s in states:  # a plain loop: all() over a generator adds its own overhead to every op
        if s.shape != shape or not s.flags.writeable:
            break
    else:
        return True
    return False


# the names of (w, *states, dw) for separate()'s message, per state-name tuple
_NAMES = {names: ", ".join(("w", *names, "dw")) for names in ((), ("velocity",), ("m", "v"), ("cache",))}


def _run(op: str, backend: str | None, w: Any, dw: Any, states: tuple, names: tuple, *hyper: Any) -> None:
    if _ready(w, dw, states):
        chk.separate((w, *states), (dw,), _NAMES[names])
        backends.kernel(op, backend)(w, dw, *states, *hyper)
        return
    w = chk.inplace(w, "w")
    dw = chk.grad_like(dw, w)
    states = tuple(chk.state_like(s, w, n) for s, n in zip(states, names))
    chk.separate((w, *states), (dw,), _NAMES[names])
    targets = (w, *states)
    work = [chk.workable(a) for a in targets]
    kernel(op, backend, *work, dw)(work[0], dw, *work[1:], *hyper)
    for original, used in zip(targets, work):
        if used is not original:
            original[...] = used


def _lr(lr: Any) -> float:
    return chk.number(lr, "lr", 0.0, low_open=True)


def _wd(weight_decay: Any) -> float:
    return chk.number(weight_decay, "weight_decay", 0.0)


def sgd_update(w: np.ndarray, dw: Any, lr: float, weight_decay: float = 0.0, *, backend: str | None = None) -> None:
    """Vanilla SGD, in place: ``w -= lr * (dw + weight_decay * w)``.

    Parameters
    ----------
    w : float ndarray, updated in place
    dw : array, w's shape
    lr : float > 0
    weight_decay : float >= 0
    """
    _run("sgd_update", backend, w, dw, (), (), _lr(lr), _wd(weight_decay))


def momentum_update(
    w: np.ndarray,
    dw: Any,
    velocity: np.ndarray,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    *,
    backend: str | None = None,
) -> None:
    """Momentum SGD, in place: ``v = mu v - lr g; w += v``.

    Nesterov (the notes' form): ``w += -mu v_prev + (1 + mu) v``.

    Parameters
    ----------
    w : float ndarray, updated in place
    dw : array, w's shape
    velocity : float ndarray, w's shape and dtype, updated in place (start at zeros)
    lr : float > 0
    momentum : float in [0, 1)
    weight_decay : float >= 0
    nesterov : bool
    """
    mu = chk.number(momentum, "momentum", 0.0, 1.0, high_open=True)
    _run("momentum_update", backend, w, dw, (velocity,), ("velocity",), _lr(lr), mu, _wd(weight_decay), bool(nesterov))


def adam_update(
    w: np.ndarray,
    dw: Any,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    backend: str | None = None,
) -> None:
    """Adam (Kingma & Ba), in place, with bias correction.

    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.

    Parameters
    ----------
    w : float ndarray, updated in place
    dw : array, w's shape
    m, v : float ndarrays, w's shape and dtype, updated in place (start at zeros)
    t : int >= 1
        Number of this step (1 for the first update).
    """
    t = chk.integer(t, "t", 1)
    b1 = chk.number(beta1, "beta1", 0.0, 1.0, high_open=True)
    b2 = chk.number(beta2, "beta2", 0.0, 1.0, high_open=True)
    e = chk.positive_in(chk.number(eps, "eps", 0.0, low_open=True), w, "eps")
    _run("adam_update", backend, w, dw, (m, v), ("m", "v"), t, _lr(lr), b1, b2, e, _wd(weight_decay))


def rmsprop_update(
    w: np.ndarray,
    dw: Any,
    cache: np.ndarray,
    lr: float = 1e-2,
    decay_rate: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    backend: str | None = None,
) -> None:
    """RMSprop, in place: ``cache = rho cache + (1-rho) g^2; w -= lr g / (sqrt(cache) + eps)``.

    Parameters
    ----------
    w : float ndarray, updated in place
    dw : array, w's shape
    cache : float ndarray, w's shape and dtype, updated in place (start at zeros)
    decay_rate : float in [0, 1)
    """
    rho = chk.number(decay_rate, "decay_rate", 0.0, 1.0, high_open=True)
    e = chk.positive_in(chk.number(eps, "eps", 0.0, low_open=True), w, "eps")
    _run("rmsprop_update", backend, w, dw, (cache,), ("cache",), _lr(lr), rho, e, _wd(weight_decay))


def adagrad_update(
    w: np.ndarray,
    dw: Any,
    cache: np.ndarray,
    lr: float = 1e-2,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    backend: str | None = None,
) -> None:
    """Adagrad, in place: ``cache += g^2; w -= lr g / (sqrt(cache) + eps)``.

    Parameters
    ----------
    w : float ndarray, updated in place
    dw : array, w's shape
    cache : float ndarray, w's shape and dtype, updated in place (start at zeros)
    """
    e = chk.positive_in(chk.number(eps, "eps", 0.0, low_open=True), w, "eps")
    _run("adagrad_update", backend, w, dw, (cache,), ("cache",), _lr(lr), e, _wd(weight_decay))


def max_norm_(w: np.ndarray, max_norm: float, *, backend: str | None = None) -> None:
    """Max-norm constraint, in place: each column ``w[:, j]`` (a unit's incoming weights) is
    rescaled to ``||w[:, j]||_2 <= max_norm`` (the notes suggest 3 or 4).

    Parameters
    ----------
    w : float ndarray (D_in, D_out), updated in place
    max_norm : float > 0
    """
    w = chk.inplace(w, "w")
    if w.ndim != 2:
        raise ValueError(f"w must be 2-dimensional (D_in, D_out), got shape {w.shape}")
    c = chk.number(max_norm, "max_norm", 0.0, low_open=True)
    work = chk.workable(w)
    chk.finite(work, "w")  # a NaN column has no norm to compare: backends would each do something else
    kernel("max_norm_", backend, work)(work, c)
    if work is not w:
        w[...] = work
