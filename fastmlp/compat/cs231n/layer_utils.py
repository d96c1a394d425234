"""``cs231n/layer_utils.py``: the "sandwich" layers of assignment 2 (affine then ReLU), each one
fused fastmlp kernel. The convolutional sandwiches are not provided (no conv kernels)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import ops
from .layers import _flat


def affine_relu_forward(x: Any, w: Any, b: Any) -> tuple:
    """Affine layer then ReLU, fused into one kernel (bias add and ReLU in a single pass).

    Returns
    -------
    out : ndarray (N, M)
    cache : tuple ``(fc_cache, relu_cache)`` with ``fc_cache = (x, w, b)`` and ``relu_cache`` the
        ReLU output, so that ``relu_backward`` then ``affine_backward`` also work on it.
    """
    out = ops.dense_forward(_flat(x), w, b, "relu")
    return out, ((x, w, b), out)


def affine_relu_backward(dout: Any, cache: tuple) -> tuple:
    """Backward pass of :func:`affine_relu_forward`, fused.

    Returns
    -------
    dx : ndarray, x's shape
    dw : ndarray (D, M)
    db : ndarray (M,)
    """
    (x, w, _), out = cache
    dx, dw, db = ops.dense_backward(dout, _flat(x), w, out, "relu")
    return dx.reshape(np.shape(x)), dw, db
