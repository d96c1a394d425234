"""CS231n ``optim.py``: update rules ``next_w, config = rule(w, dw, config=None)``.

Config keys and defaults are the assignment's. ``next_w`` is always a NEW array: the caller's
``w`` is left untouched (the assignment's ``sgd`` updates ``w`` in place, the others return new
arrays; callers do ``params[k] = next_w`` either way, so a copy is the safe common choice). State
arrays in ``config`` (``velocity``, ``cache``, ``m``, ``v``) are likewise replaced by new arrays.

The update itself is fastmlp's fused, in-place optimizer kernel applied to that copy. Hyper-
parameters outside the range fastmlp accepts (e.g. ``learning_rate <= 0``) use the same formula in
plain NumPy, so every config the assignment accepts works.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import ops


def _new_weights(w: Any) -> np.ndarray:
    """A float copy of w (its dtype when float32/float64, else float64)."""
    w = np.asarray(w)
    dt = w.dtype if w.dtype in (np.float32, np.float64) else np.float64
    return np.array(w, dtype=dt, copy=True)


def _new_state(config: dict, key: str, w: np.ndarray) -> np.ndarray:
    """A copy of ``config[key]`` in w's dtype (zeros when absent); fastmlp updates it in place."""
    old = config.get(key)
    if old is None:
        return np.zeros_like(w)
    state = np.array(old, dtype=w.dtype, copy=True)
    if state.shape != w.shape:
        raise ValueError(f"config[{key!r}] has shape {state.shape} but w has shape {w.shape}")
    return state


def _fraction(value: float) -> bool:
    return 0.0 <= value < 1.0


def sgd(w: Any, dw: Any, config: dict | None = None) -> tuple:
    """Vanilla SGD: ``next_w = w - learning_rate * dw``.

    Parameters
    ----------
    w : array
    dw : array, w's shape
    config : dict, optional
        ``learning_rate`` (default 1e-2).

    Returns
    -------
    next_w : ndarray (a new array)
    config : dict
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    lr = config["learning_rate"]
    next_w = _new_weights(w)
    if lr > 0:
        ops.sgd_update(next_w, dw, lr)
    else:
        next_w -= lr * np.asarray(dw, dtype=next_w.dtype)
    return next_w, config


def sgd_momentum(w: Any, dw: Any, config: dict | None = None) -> tuple:
    """SGD with momentum: ``v = momentum * v - learning_rate * dw``, ``next_w = w + v``.

    Parameters
    ----------
    w : array
    dw : array, w's shape
    config : dict, optional
        ``learning_rate`` (1e-2), ``momentum`` (0.9), ``velocity`` (zeros).

    Returns
    -------
    next_w : ndarray (a new array)
    config : dict, with the new ``velocity``
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    lr, mu = config["learning_rate"], config["momentum"]
    next_w = _new_weights(w)
    v = _new_state(config, "velocity", next_w)
    if lr > 0 and _fraction(mu):
        ops.momentum_update(next_w, dw, v, lr, mu)
    else:
        v *= mu
        v -= lr * np.asarray(dw, dtype=v.dtype)
        next_w += v
    config["velocity"] = v
    return next_w, config


def rmsprop(w: Any, dw: Any, config: dict | None = None) -> tuple:
    """RMSProp: ``cache = decay_rate * cache + (1 - decay_rate) * dw**2``,
    ``next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)``.

    Parameters
    ----------
    w : array
    dw : array, w's shape
    config : dict, optional
        ``learning_rate`` (1e-2), ``decay_rate`` (0.99), ``epsilon`` (1e-8), ``cache`` (zeros).

    Returns
    -------
    next_w : ndarray (a new array)
    config : dict, with the new ``cache``
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    lr, rho, eps = config["learning_rate"], config["decay_rate"], config["epsilon"]
    next_w = _new_weights(w)
    cache = _new_state(config, "cache", next_w)
    if lr > 0 and _fraction(rho) and eps > 0:
        ops.rmsprop_update(next_w, dw, cache, lr, rho, eps)
    else:
        g = np.asarray(dw, dtype=next_w.dtype)
        cache[...] = rho * cache + (1 - rho) * g**2
        next_w -= lr * g / (np.sqrt(cache) + eps)
    config["cache"] = cache
    return next_w, config


def adam(w: Any, dw: Any, config: dict | None = None) -> tuple:
    """Adam with bias correction; ``t`` is incremented BEFORE use, as the assignment requires.

    ``m = beta1 m + (1 - beta1) dw``, ``v = beta2 v + (1 - beta2) dw**2``,
    ``next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)``.

    Parameters
    ----------
    w : array
    dw : array, w's shape
    config : dict, optional
        ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon`` (1e-8),
        ``m``, ``v`` (zeros), ``t`` (0).

    Returns
    -------
    next_w : ndarray (a new array)
    config : dict, with the new ``m``, ``v`` and ``t``
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    lr, b1, b2, eps = config["learning_rate"], config["beta1"], config["beta2"], config["epsilon"]
    config["t"] += 1
    t = config["t"]
    next_w = _new_weights(w)
    m = _new_state(config, "m", next_w)
    v = _new_state(config, "v", next_w)
    if lr > 0 and _fraction(b1) and _fraction(b2) and eps > 0 and float(t).is_integer() and t >= 1:
        ops.adam_update(next_w, dw, m, v, int(t), lr, b1, b2, eps)
    else:
        g = np.asarray(dw, dtype=next_w.dtype)
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g**2
        next_w -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    config["m"], config["v"] = m, v
    return next_w, config
