"""Batch normalization over the batch axis, with running statistics for inference."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks as chk
from ._dispatch import kernel


def _features(a: Any, name: str, d: int) -> np.ndarray:
    a = chk.as_array(a, name, 1)
    if a.shape[0] != d:
        raise ValueError(f"{name} has {a.shape[0]} entries but x has {d} features")
    return a


def batchnorm_forward(
    x: Any,
    gamma: Any,
    beta: Any,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    training: bool = True,
    momentum: float = 0.9,
    eps: float = 1e-5,
    *,
    backend: str | None = None,
) -> tuple:
    """Batch norm: ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` per feature.

    Training normalises with the batch mean and (biased) variance and updates
    ``running_mean``/``running_var`` in place: ``r = momentum * r + (1 - momentum) * batch``.
    Evaluation (``training=False``) uses the running statistics.

    Parameters
    ----------
    x : array (N, D)
    gamma, beta : arrays (D,)
    running_mean, running_var : float ndarrays (D,), x's dtype, updated in place when training
    momentum : float in [0, 1]
    eps : float > 0

    Returns
    -------
    y : ndarray (N, D)
    mean : ndarray (D,)
        Mean used (batch or running).
    inv_std : ndarray (D,)
        ``1 / sqrt(var + eps)`` used; ``mean`` and ``inv_std`` feed :func:`batchnorm_backward`.
    """
    x = chk.batch(x, "x")
    d = x.shape[1]
    gamma, beta = _features(gamma, "gamma", d), _features(beta, "beta", d)
    x, gamma, beta = chk.common(x, gamma, beta)
    running_mean, running_var = chk.inplace(running_mean, "running_mean"), chk.inplace(running_var, "running_var")
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat.shape != (d,):
            raise ValueError(f"{name} has shape {stat.shape} but x has {d} features")
        if chk.native(stat.dtype) != x.dtype:
            raise TypeError(f"{name} has dtype {stat.dtype} but the computation is {x.dtype}")
    names = "running_mean, running_var, x, gamma, beta"
    chk.separate((running_mean, running_var), (x, gamma, beta), names)
    if not training and chk.value_range(running_var)[0] < 0:
        raise ValueError("running_var has negative entries")
    momentum = chk.number(momentum, "momentum", 0.0, 1.0)
    eps = chk.positive_in(chk.number(eps, "eps", 0.0, low_open=True), x, "eps")
    if training and x.shape[0] == 1:
        raise ValueError("batch norm in training mode needs at least 2 rows (the variance of 1 row is 0)")
    rm, rv = chk.workable(running_mean), chk.workable(running_var)
    out = kernel("batchnorm_forward", backend, x, rm)(x, gamma, beta, rm, rv, bool(training), momentum, eps)
    if rm is not running_mean:
        running_mean[...] = rm
    if rv is not running_var:
        running_var[...] = rv
    return out


def batchnorm_backward(
    dy: Any, x: Any, gamma: Any, mean: Any, inv_std: Any, training: bool = True, *, backend: str | None = None
) -> tuple:
    """Batch-norm gradients, through the batch statistics when ``training``.

    ``dx = inv_std / N * (N dxhat - sum dxhat - xhat * sum(dxhat * xhat))``, ``dxhat = dy * gamma``.

    Returns
    -------
    dx : ndarray (N, D)
    dgamma, dbeta : ndarrays (D,)
    """
    dy, x = chk.batch(dy, "dy"), chk.batch(x, "x")
    chk.same_shape(dy, x, "dy", "x")
    d = x.shape[1]
    gamma = _features(gamma, "gamma", d)
    mean = _features(mean, "mean", d)
    inv_std = _features(inv_std, "inv_std", d)
    args = chk.common(dy, x, gamma, mean, inv_std)
    return kernel("batchnorm_backward", backend, *args)(*args, bool(training))
