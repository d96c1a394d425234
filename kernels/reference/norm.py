"""Batch normalization (Ioffe & Szegedy 2015) over the batch axis, in plain NumPy."""

import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.9, eps=1e-5):
    """y = gamma · (x − mean) / sqrt(var + eps) + beta, per feature.

    Training uses the batch mean and biased variance and updates the running statistics in place
    (running = momentum · running + (1 − momentum) · batch, the CS231n convention); evaluation uses
    the running statistics. Returns y, the mean used and inv_std = 1 / sqrt(var + eps).
    """
    dt = x.dtype.type
    if training:
        mean = x.mean(axis=0)
        var = ((x - mean) ** 2).mean(axis=0)
        running_mean *= dt(momentum)
        running_mean += dt(1 - momentum) * mean
        running_var *= dt(momentum)
        running_var += dt(1 - momentum) * var
    else:
        mean = running_mean.copy()
        var = running_var
    inv_std = (1 / np.sqrt(var + dt(eps))).astype(x.dtype)
    y = gamma * ((x - mean) * inv_std) + beta
    return y, mean.astype(x.dtype), inv_std


def batchnorm_backward(dy, x, gamma, mean, inv_std, training=True):
    """Gradients dx, dgamma, dbeta; training mode back-propagates through the batch statistics."""
    xhat = (x - mean) * inv_std
    dgamma = (dy * xhat).sum(axis=0)
    dbeta = dy.sum(axis=0)
    if not training:  # the statistics are constants
        return dy * gamma * inv_std, dgamma, dbeta
    n = x.shape[0]
    dxhat = dy * gamma
    dx = (inv_std / n) * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx.astype(x.dtype, copy=False), dgamma, dbeta
