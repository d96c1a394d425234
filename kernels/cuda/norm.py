"""Batch normalization on the GPU: one thread per feature for the statistics, elementwise apply."""

import math

from numba import cuda

from ._arrays import deliver_all, empty, flat, launch, result_kind, scalar_type, to_dev, write_back


@cuda.jit
def _stats_kernel(x, rmean, rvar, mean, inv_std, training, mom, one_minus_mom, eps, one):
    """Per feature j: batch (or running) mean and 1/sqrt(var + eps); running stats updated in place.

    Sums accumulate in float64; ``mean`` / ``inv_std`` are stored in x's dtype and read back so
    every later step rounds like the reference does in that dtype.
    """
    n = x.shape[0]
    for j in range(cuda.grid(1), x.shape[1], cuda.gridsize(1)):
        if training:
            acc = 0.0
            for i in range(n):
                acc += x[i, j]
            mean[j] = acc / n
            mu = mean[j]
            acc = 0.0
            for i in range(n):
                c = x[i, j] - mu
                acc += c * c
            inv_std[j] = acc / n  # the variance, parked here in x's dtype
            var = inv_std[j]
            rmean[j] = rmean[j] * mom + one_minus_mom * mu
            rvar[j] = rvar[j] * mom + one_minus_mom * var
        else:
            mean[j] = rmean[j]
            var = rvar[j]
        inv_std[j] = one / math.sqrt(var + eps)


@cuda.jit
def _apply_kernel(x, gamma, beta, mean, inv_std, y):
    """y = gamma · ((x − mean) · inv_std) + beta (flat x, y)."""
    m = gamma.shape[0]
    for e in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        j = e % m
        y[e] = gamma[j] * ((x[e] - mean[j]) * inv_std[j]) + beta[j]


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.9, eps=1e-5):
    """y = gamma · (x − mean) / sqrt(var + eps) + beta per feature; returns y, mean, inv_std.

    Training uses the batch statistics and updates the running ones in place (running =
    momentum · running + (1 − momentum) · batch); evaluation uses the running statistics.
    """
    kind = result_kind(x, gamma, beta, running_mean, running_var)
    xd, gamma, beta = to_dev(x), to_dev(gamma), to_dev(beta)
    rm, rv = to_dev(running_mean), to_dev(running_var)
    dt = scalar_type(xd.dtype)
    d = xd.shape[1]
    mean, inv_std = empty(d, xd.dtype), empty(d, xd.dtype)
    _stats_kernel[launch(d)](xd, rm, rv, mean, inv_std, bool(training), dt(momentum), dt(1 - momentum), dt(eps), dt(1))
    write_back(running_mean, rm)
    write_back(running_var, rv)
    y = empty(xd.shape, xd.dtype)
    _apply_kernel[launch(xd.size)](flat(xd), gamma, beta, mean, inv_std, flat(y))
    return deliver_all(kind, y, mean, inv_std)


@cuda.jit
def _backward_kernel(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, s1, s2, training, nf):
    """Per feature j: dgamma, dbeta, and dx through the batch statistics when training.

    dx = (inv_std / N) (N dxhat − Σ dxhat − xhat Σ dxhat·xhat), dxhat = dy · gamma.
    """
    n = x.shape[0]
    for j in range(cuda.grid(1), x.shape[1], cuda.gridsize(1)):
        mu = mean[j]
        istd = inv_std[j]
        gj = gamma[j]
        acc_g = 0.0
        acc_b = 0.0
        acc_1 = 0.0
        acc_2 = 0.0
        for i in range(n):
            g = dy[i, j]
            xhat = (x[i, j] - mu) * istd
            acc_g += g * xhat
            acc_b += g
            dxhat = g * gj
            acc_1 += dxhat
            acc_2 += dxhat * xhat
        dgamma[j] = acc_g
        dbeta[j] = acc_b
        if training:
            s1[j] = acc_1
            s2[j] = acc_2
            sum1 = s1[j]
            sum2 = s2[j]
            scale = istd / nf
            for i in range(n):
                xhat = (x[i, j] - mu) * istd
                dxhat = dy[i, j] * gj
                dx[i, j] = scale * (nf * dxhat - sum1 - xhat * sum2)
        else:
            for i in range(n):
                dx[i, j] = dy[i, j] * gj * istd


def batchnorm_backward(dy, x, gamma, mean, inv_std, training=True):
    """Gradients dx, dgamma, dbeta; training mode back-propagates through the batch statistics."""
    kind = result_kind(dy, x, gamma, mean, inv_std)
    dy, x, gamma, mean, inv_std = (to_dev(a) for a in (dy, x, gamma, mean, inv_std))
    n, d = x.shape
    dx = empty(x.shape, x.dtype)
    dgamma, dbeta, s1, s2 = (empty(d, x.dtype) for _ in range(4))
    _backward_kernel[launch(d)](
        dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, s1, s2, bool(training), scalar_type(x.dtype)(n)
    )
    return deliver_all(kind, dx, dgamma, dbeta)
