"""Parameter updates on the GPU, in place, each one fused pass: weight decay + state + step.

weight_decay is the L2 strength λ: the gradient used is dw + λ·w. Device arrays are updated where
they live; NumPy arrays go to the device and the results are copied back into them. Constants
arrive in w's dtype, computed on the host exactly as the reference computes them.
"""

import math

import numpy as np
from numba import cuda

from ._arrays import empty, flat, launch, scalar_type, to_dev, write_back


@cuda.jit
def _sgd_kernel(w, dw, lr, wd, decay):
    """w −= lr · (dw + λ w)."""
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        g = dw[i] + wd * w[i] if decay else dw[i]
        w[i] = w[i] - lr * g


@cuda.jit
def _momentum_kernel(w, dw, vel, lr, mu, one_plus_mu, wd, decay, nesterov):
    """v = μ v − lr g; w += v, or w += −μ v_prev + (1 + μ) v (Nesterov, the notes' form)."""
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        g = dw[i] + wd * w[i] if decay else dw[i]
        v_prev = vel[i]
        v = v_prev * mu - lr * g
        vel[i] = v
        if nesterov:
            w[i] = w[i] + (-mu * v_prev + one_plus_mu * v)
        else:
            w[i] = w[i] + v


@cuda.jit
def _adam_kernel(w, dw, m, v, lr, b1, om_b1, b2, om_b2, c1, c2, eps, wd, decay):
    """Adam: m, v moving moments; w −= lr (m / c1) / (sqrt(v / c2) + eps), c = 1 − β^t."""
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        g = dw[i] + wd * w[i] if decay else dw[i]
        mi = m[i] * b1 + om_b1 * g
        vi = v[i] * b2 + om_b2 * (g * g)
        m[i] = mi
        v[i] = vi
        w[i] = w[i] - lr * (mi / c1) / (math.sqrt(vi / c2) + eps)


@cuda.jit
def _cache_kernel(w, dw, cache, lr, rho, om_rho, eps, wd, decay, rmsprop):
    """RMSprop (cache = ρ cache + (1 − ρ) g²) or Adagrad (cache += g²); w −= lr g / (√cache + eps)."""
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        g = dw[i] + wd * w[i] if decay else dw[i]
        c = cache[i] * rho + om_rho * (g * g) if rmsprop else cache[i] + g * g
        cache[i] = c
        w[i] = w[i] - lr * g / (math.sqrt(c) + eps)


def _run(kernel, w, dw, states, *consts):
    """Launch an update over flat views; host arrays get their new values copied back."""
    wd_ = to_dev(w)
    sd = [to_dev(s) for s in states]
    kernel[launch(wd_.size)](flat(wd_), flat(to_dev(dw)), *(flat(s) for s in sd), *consts)
    for original, dev in zip((w, *states), (wd_, *sd)):
        write_back(original, dev)


def _decay(dt, weight_decay):
    return dt(weight_decay), bool(weight_decay)


def sgd_update(w, dw, lr, weight_decay=0.0):
    """w −= lr · g."""
    dt = scalar_type(w.dtype)
    _run(_sgd_kernel, w, dw, (), dt(lr), *_decay(dt, weight_decay))


def momentum_update(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    """v = μ v − lr g; w += v, or for Nesterov (the notes' form) w += −μ v_prev + (1 + μ) v."""
    dt = scalar_type(w.dtype)
    _run(
        _momentum_kernel,
        w,
        dw,
        (velocity,),
        dt(lr),
        dt(momentum),
        dt(1 + momentum),
        *_decay(dt, weight_decay),
        bool(nesterov),
    )


def adam_update(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam with bias correction; t is the 1-based step number of this update."""
    dt = scalar_type(w.dtype)
    _run(
        _adam_kernel,
        w,
        dw,
        (m, v),
        dt(lr),
        dt(beta1),
        dt(1 - beta1),
        dt(beta2),
        dt(1 - beta2),
        dt(1 - beta1**t),
        dt(1 - beta2**t),
        dt(eps),
        *_decay(dt, weight_decay),
    )


def rmsprop_update(w, dw, cache, lr=1e-2, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
    """cache = ρ cache + (1 − ρ) g²; w −= lr g / (sqrt(cache) + eps)."""
    dt = scalar_type(w.dtype)
    _run(
        _cache_kernel,
        w,
        dw,
        (cache,),
        dt(lr),
        dt(decay_rate),
        dt(1 - decay_rate),
        dt(eps),
        *_decay(dt, weight_decay),
        True,
    )


def adagrad_update(w, dw, cache, lr=1e-2, eps=1e-8, weight_decay=0.0):
    """cache += g²; w −= lr g / (sqrt(cache) + eps)."""
    dt = scalar_type(w.dtype)
    _run(_cache_kernel, w, dw, (cache,), dt(lr), dt(1), dt(0), dt(eps), *_decay(dt, weight_decay), False)


@cuda.jit
def _max_norm_kernel(w, scales, limit, tiny):
    """Column j of w scaled by min(1, limit / max(‖w_j‖₂, tiny)), the norm in float64 (as
    kernels/_norms.py: a column whose Σ w² overflows float64 is measured again, scaled by its
    largest entry); scales is w-dtype scratch, so the product rounds like the reference's."""
    n = w.shape[0]
    for j in range(cuda.grid(1), w.shape[1], cuda.gridsize(1)):
        acc = 0.0
        for i in range(n):
            v = float(w[i, j])
            acc += v * v
        norm = math.sqrt(acc)
        if math.isinf(norm):
            peak = 0.0
            for i in range(n):
                peak = max(peak, abs(float(w[i, j])))
            acc = 0.0
            for i in range(n):
                v = float(w[i, j]) / peak
                acc += v * v
            norm = peak * math.sqrt(acc)
        scales[j] = min(1.0, limit / max(norm, tiny))
        for i in range(n):
            w[i, j] = w[i, j] * scales[j]


def max_norm_(w, max_norm):
    """Project each unit's incoming weights (a column of w (D_in, D_out)) onto ‖w_j‖₂ ≤ max_norm."""
    wd_ = to_dev(w)
    scales = empty(wd_.shape[1], wd_.dtype)
    _max_norm_kernel[launch(wd_.shape[1])](wd_, scales, float(max_norm), float(np.finfo(np.float64).tiny))
    write_back(w, wd_)
