"""Dense (fully connected) layers in plain NumPy: the oracle for every backend.

Batch = rows: x (N, D), w (D, M), b (M,), y (N, M).
"""

from .activations import ACTIVATION_FORWARD, activation_derivative_from_output
from .dropout import dropout_mask


def affine_forward(x, w, b):
    """y = x @ w + b."""
    return x @ w + b


def affine_backward(dy, x, w):
    """Gradients of y = x @ w + b: dx = dy wᵀ, dw = xᵀ dy, db = Σ_rows dy."""
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01):
    """out = f(x @ w + b) * mask, mask the inverted-dropout mask (all ones when keep_prob = 1)."""
    a = ACTIVATION_FORWARD[activation](x @ w + b, alpha)
    if keep_prob < 1.0:
        a = a * dropout_mask(a.shape, keep_prob, seed, stream, a.dtype)
    return a


def dense_backward(dout, x, w, out, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01):
    """Gradients of dense_forward given its output; the dropout mask is regenerated from the seed.

    Where a unit was kept, its activation is out * keep_prob, from which f'(z) follows
    (relu: a > 0; leaky: 1 if a >= 0 else alpha; sigmoid: a(1 - a); tanh: 1 - a²).
    """
    if keep_prob < 1.0:
        mask = dropout_mask(out.shape, keep_prob, seed, stream, out.dtype)
        a = out * out.dtype.type(keep_prob)
        dz = dout * mask * activation_derivative_from_output(activation, a, alpha)
    else:
        dz = dout * activation_derivative_from_output(activation, out, alpha)
    return affine_backward(dz, x, w)
