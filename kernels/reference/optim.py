"""Parameter updates, in place (w and the optimizer state are overwritten), in plain NumPy.

weight_decay is the L2 strength λ: the gradient used is dw + λ·w (from loss += ½λ‖w‖²).
"""

import numpy as np

from .._norms import column_scale


def _grad(w, dw, weight_decay):
    return dw + w.dtype.type(weight_decay) * w if weight_decay else dw


def sgd_update(w, dw, lr, weight_decay=0.0):
    """w −= lr · g."""
    w -= w.dtype.type(lr) * _grad(w, dw, weight_decay)


def momentum_update(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    """v = μ v − lr g; w += v, or for Nesterov (the notes' form) w += −μ v_prev + (1 + μ) v."""
    dt = w.dtype.type
    g = _grad(w, dw, weight_decay)
    v_prev = velocity.copy()
    velocity *= dt(momentum)
    velocity -= dt(lr) * g
    if nesterov:
        w += -dt(momentum) * v_prev + dt(1 + momentum) * velocity
    else:
        w += velocity


def adam_update(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam with bias correction; t is the 1-based step number of this update."""
    dt = w.dtype.type
    g = _grad(w, dw, weight_decay)
    m *= dt(beta1)
    m += dt(1 - beta1) * g
    v *= dt(beta2)
    v += dt(1 - beta2) * (g * g)
    m_hat = m / dt(1 - beta1**t)
    v_hat = v / dt(1 - beta2**t)
    w -= dt(lr) * m_hat / (np.sqrt(v_hat) + dt(eps))


def rmsprop_update(w, dw, cache, lr=1e-2, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
    """cache = ρ cache + (1 − ρ) g²; w −= lr g / (sqrt(cache) + eps)."""
    dt = w.dtype.type
    g = _grad(w, dw, weight_decay)
    cache *= dt(decay_rate)
    cache += dt(1 - decay_rate) * (g * g)
    w -= dt(lr) * g / (np.sqrt(cache) + dt(eps))


def adagrad_update(w, dw, cache, lr=1e-2, eps=1e-8, weight_decay=0.0):
    """cache += g²; w −= lr g / (sqrt(cache) + eps)."""
    dt = w.dtype.type
    g = _grad(w, dw, weight_decay)
    cache += g * g
    w -= dt(lr) * g / (np.sqrt(cache) + dt(eps))


def max_norm_(w, max_norm):
    """Project each unit's incoming weights (a column of w (D_in, D_out)) onto ‖w_j‖₂ ≤ max_norm.

    Norms in float64 (kernels/_norms.py: no overflow for weights near the dtype's range)."""
    w64 = w.astype(np.float64)
    w *= column_scale(np.einsum("ij,ij->j", w64, w64), w, max_norm)
