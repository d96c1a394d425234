"""Elementwise activations and maxout, forward and backward, in plain NumPy."""

import numpy as np
from scipy import special

from ..activation_table import BY_NAME


def relu_forward(x):
    """max(0, x)."""
    return np.maximum(x, 0)


def relu_backward(dy, y):
    """dy where the unit fired (y > 0), else 0: the gradient is 0 for x <= 0."""
    return np.where(y > 0, dy, 0).astype(dy.dtype, copy=False)


def leaky_relu_forward(x, alpha=0.01):
    """x if x >= 0 else alpha * x."""
    return np.where(x >= 0, x, x * x.dtype.type(alpha))


def leaky_relu_backward(dy, x, alpha=0.01):
    """dy if x >= 0 else alpha * dy."""
    return np.where(x >= 0, dy, dy * dy.dtype.type(alpha))


def prelu_forward(x, alpha):
    """Leaky ReLU with one learned slope per unit: x (N, M), alpha (M,)."""
    return np.where(x >= 0, x, x * alpha)


def prelu_backward(dy, x, alpha):
    """Returns dx and dalpha = Σ_rows dy·x over the negative part (He et al. 2015)."""
    neg = x < 0
    dx = np.where(neg, dy * alpha, dy)
    dalpha = np.where(neg, dy * x, 0).sum(axis=0).astype(x.dtype, copy=False)
    return dx, dalpha


def sigmoid_forward(x):
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    z = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)


def sigmoid_backward(dy, y):
    """dy · σ(1 − σ), from the forward output."""
    return dy * y * (1 - y)


def tanh_forward(x):
    """tanh(x) (np.tanh saturates to ±1 without overflow)."""
    return np.tanh(x)


def tanh_backward(dy, y):
    """dy · (1 − tanh²), from the forward output."""
    return dy * (1 - y * y)


def maxout_forward(z, k):
    """Max over k adjacent pieces: z (N, M·k) with piece p of unit j in column j·k + p.

    Returns y (N, M) and the winning piece index (N, M) as int64 (first maximum on ties).
    """
    n, mk = z.shape
    pieces = z.reshape(n, mk // k, k)
    idx = pieces.argmax(axis=2)
    y = np.take_along_axis(pieces, idx[:, :, None], axis=2)[:, :, 0]
    return y, idx.astype(np.int64)


def maxout_backward(dy, idx, k):
    """Routes dy (N, M) to the winning piece of each unit; returns dz (N, M·k)."""
    n, m = dy.shape
    dz = np.zeros((n, m, k), dtype=dy.dtype)
    np.put_along_axis(dz, idx[:, :, None], dy[:, :, None], axis=2)
    return dz.reshape(n, m * k)


def dead_relu_fraction(h, fired=None):
    """Fraction of units (columns of h (N, M)) that never fired (h > 0) in this batch.

    If ``fired`` (bool (M,)) is given it is OR-ed in place with this batch's firing, and the
    fraction is over everything accumulated so far: a dataset is scanned batch by batch.
    """
    batch_fired = (h > 0).any(axis=0)
    if fired is not None:
        fired |= batch_fired
        batch_fired = fired
    return float(1.0 - batch_fired.mean()) if batch_fired.size else 0.0


def elu_forward(x, alpha=1.0):
    """x if x > 0 else alpha (e^x - 1) (Clevert et al. 2015)."""
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def elu_backward(dy, x, alpha=1.0):
    """dy if x > 0 else dy alpha e^x, from the forward input."""
    return dy * np.where(x > 0, 1, x.dtype.type(alpha) * np.exp(np.minimum(x, 0))).astype(dy.dtype, copy=False)


def _phi(x):
    """The standard normal CDF, 0.5 (1 + erf(x / sqrt 2)), in x's dtype."""
    return (0.5 * (1 + special.erf(x / np.sqrt(2.0)))).astype(x.dtype, copy=False)


def gelu_forward(x):
    """x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016, the exact erf form)."""
    return x * _phi(x)


def gelu_backward(dy, x):
    """dy (Phi(x) + x phi(x)), phi the standard normal density; from the forward input."""
    pdf = (np.exp(-0.5 * np.square(x.astype(np.float64))) / np.sqrt(2 * np.pi)).astype(x.dtype, copy=False)
    return dy * (_phi(x) + x * pdf)


def _gelu_tanh_parts(x):
    """(u, tanh u) with u = sqrt(2/pi) (x + 0.044715 x^3), in float64."""
    x = x.astype(np.float64)
    u = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    return x, np.tanh(u)


def gelu_tanh_forward(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): GELU's tanh approximation."""
    x64, t = _gelu_tanh_parts(x)
    return (0.5 * x64 * (1 + t)).astype(x.dtype)


def gelu_tanh_backward(dy, x):
    """dy times the tanh approximation's derivative, from the forward input."""
    x64, t = _gelu_tanh_parts(x)
    d = 0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * x64**2)
    return dy * d.astype(x.dtype)


def silu_forward(x):
    """x sigmoid(x) (SiLU, also called swish)."""
    return x * sigmoid_forward(x)


def silu_backward(dy, x):
    """dy s (1 + x (1 - s)), s = sigmoid(x); from the forward input."""
    s = sigmoid_forward(x)
    return dy * (s * (1 + x * (1 - s)))


def softplus_forward(x):
    """log(1 + e^x) as max(x, 0) + log1p(e^-|x|): no overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_backward(dy, x):
    """dy sigmoid(x); from the forward input."""
    return dy * sigmoid_forward(x)


def mish_forward(x):
    """x tanh(softplus(x)) (Misra 2019)."""
    return x * np.tanh(softplus_forward(x))


def mish_backward(dy, x):
    """dy (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x)); from the forward input."""
    t = np.tanh(softplus_forward(x))
    return dy * (t + x * sigmoid_forward(x) * (1 - t * t))


# ----- the fused dense layer's view of the activations (kernels/activation_table.py) ---------


def _activation_forward(activation, z, alpha):
    """f(z) for the dense layer's activation (alpha used by leaky_relu and elu)."""
    if activation == "identity":
        return z
    row = BY_NAME[activation]
    fn = globals()[f"{activation}_forward"]
    return fn(z, alpha) if row.alpha is not None else fn(z)


def _activation_gradient(activation, g, z, alpha):
    """g f'(z) from the pre-activation z, for activations whose f' the output does not give."""
    row = BY_NAME[activation]
    fn = globals()[f"{activation}_backward"]
    return fn(g, z, alpha) if row.alpha is not None else fn(g, z)


def _derivative_from_output(activation, a, alpha=0.01):
    """f'(z) expressed through a = f(z), for the activations whose output gives it (from_output)."""
    one = a.dtype.type(1)
    if activation == "identity":
        return np.ones_like(a)
    if activation == "relu":
        return (a > 0).astype(a.dtype)
    if activation == "leaky_relu":  # alpha > 0, so sign(a) = sign(z)
        return np.where(a >= 0, one, a.dtype.type(alpha))
    if activation == "sigmoid":
        return a * (one - a)
    if activation == "tanh":
        return one - a * a
    if activation == "elu":  # alpha e^z = a + alpha where z <= 0 (alpha > 0, so sign(a) = sign(z))
        return np.where(a > 0, one, a + a.dtype.type(alpha))
    raise ValueError(f"f' of {activation!r} is not recoverable from its output")
