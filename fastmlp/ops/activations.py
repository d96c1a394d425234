"""Elementwise activations, PReLU, maxout and dead-ReLU monitoring.

ReLU, leaky ReLU, sigmoid and tanh have hand-written doors below (their backward takes the
forward output, or the input for leaky ReLU). Every other row of the activation table
(``fastmlp.kernels.activation_table``) gets its pair of ops generated: ``<name>_forward(x[,
alpha])`` and ``<name>_backward(dy, x[, alpha])``, the backward from the forward INPUT x.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..kernels.activation_table import ACTIVATIONS
from . import _checks as chk
from ._dispatch import kernel

# rows with a hand-written door below (and identity, which has no op of its own)
HAND_WRITTEN = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
# of those, the ones whose backward takes the forward OUTPUT (every other backward takes the input)
BACKWARD_FROM_OUTPUT = ("relu", "sigmoid", "tanh")


def _one(x: Any, name: str = "x") -> np.ndarray:
    x = chk.as_array(x, name)
    if x.ndim == 0 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty array, got shape {x.shape}")
    return chk.contiguous(x)


def _pair(dy: Any, y: Any, name: str = "y") -> list[np.ndarray]:
    dy, y = _one(dy, "dy"), _one(y, name)
    chk.same_shape(dy, y, "dy", name)
    return chk.common(dy, y)


def _alpha(alpha: Any) -> float:
    return chk.number(alpha, "alpha")


def relu_forward(x: Any, *, backend: str | None = None) -> np.ndarray:
    """ReLU ``max(0, x)``, elementwise, any shape.

    Returns
    -------
    y : ndarray, same shape and float dtype as x
    """
    x = _one(x)
    return kernel("relu_forward", backend, x)(x)


def relu_backward(dy: Any, y: Any, *, backend: str | None = None) -> np.ndarray:
    """ReLU gradient from the forward output: ``dx = dy * (y > 0)`` (0 for x <= 0).

    Parameters
    ----------
    dy, y : arrays of the same shape
    """
    dy, y = _pair(dy, y)
    return kernel("relu_backward", backend, dy, y)(dy, y)


def leaky_relu_forward(x: Any, alpha: float = 0.01, *, backend: str | None = None) -> np.ndarray:
    """Leaky ReLU: ``x if x >= 0 else alpha * x``.

    Parameters
    ----------
    x : array of any shape (not 0-d), non-empty
        float32 is kept; integer and bool inputs compute in float64.
    alpha : float, default 0.01
        Slope for negative inputs (any finite real number).
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    y : ndarray, same shape and float dtype as x

    Raises
    ------
    ValueError
        x is 0-d or empty; alpha is not finite.
    TypeError
        x is not numeric (complex, object, string); alpha is not a real number.
    """
    x = _one(x)
    return kernel("leaky_relu_forward", backend, x)(x, _alpha(alpha))


def leaky_relu_backward(dy: Any, x: Any, alpha: float = 0.01, *, backend: str | None = None) -> np.ndarray:
    """Leaky ReLU gradient from the forward input: ``dy if x >= 0 else alpha * dy``.

    Parameters
    ----------
    dy : array, x's shape
        Upstream gradient.
    x : array of any shape (not 0-d), non-empty
        The forward INPUT (the sign of the input selects the slope).
    alpha : float, default 0.01
        The slope used in :func:`leaky_relu_forward`.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    dx : ndarray, x's shape
        float32 only if dy and x are both float32, else float64.

    Raises
    ------
    ValueError
        dy and x differ in shape; either is 0-d or empty; alpha is not finite.
    TypeError
        Non-numeric arrays; alpha is not a real number.
    """
    dy, x = _pair(dy, x, "x")
    return kernel("leaky_relu_backward", backend, dy, x)(dy, x, _alpha(alpha))


def _prelu_args(x: Any, alpha: Any) -> list[np.ndarray]:
    x = chk.batch(x, "x")
    alpha = chk.as_array(alpha, "alpha", 1)
    if alpha.shape[0] != x.shape[1]:
        raise ValueError(f"alpha has {alpha.shape[0]} slopes but x has {x.shape[1]} units")
    return chk.common(x, alpha)


def prelu_forward(x: Any, alpha: Any, *, backend: str | None = None) -> np.ndarray:
    """PReLU (He et al. 2015): ``x if x >= 0 else alpha_j * x``, one learned slope per unit.

    Parameters
    ----------
    x : array (N, M)
    alpha : array (M,)
    """
    x, alpha = _prelu_args(x, alpha)
    return kernel("prelu_forward", backend, x, alpha)(x, alpha)


def prelu_backward(dy: Any, x: Any, alpha: Any, *, backend: str | None = None) -> tuple:
    """PReLU gradients: ``dx`` and ``dalpha_j = sum_i dy_ij x_ij [x_ij < 0]``.

    Returns
    -------
    dx : ndarray (N, M)
    dalpha : ndarray (M,)
    """
    x, alpha = _prelu_args(x, alpha)
    dy = chk.as_array(dy, "dy", 2)
    chk.same_shape(dy, x, "dy", "x")
    dy, x, alpha = chk.common(dy, x, alpha)
    return kernel("prelu_backward", backend, dy, x, alpha)(dy, x, alpha)


def sigmoid_forward(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + e^-x)``, stable for large |x|."""
    x = _one(x)
    return kernel("sigmoid_forward", backend, x)(x)


def sigmoid_backward(dy: Any, y: Any, *, backend: str | None = None) -> np.ndarray:
    """Sigmoid gradient from the forward output: ``dx = dy * y * (1 - y)``.

    Parameters
    ----------
    dy : array, y's shape
        Upstream gradient.
    y : array of any shape (not 0-d), non-empty
        The forward OUTPUT ``sigmoid(x)``, as returned by :func:`sigmoid_forward`.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    dx : ndarray, y's shape
        float32 only if dy and y are both float32, else float64.

    Raises
    ------
    ValueError
        dy and y differ in shape; either is 0-d or empty.
    TypeError
        Non-numeric arrays (complex, object, string).
    """
    dy, y = _pair(dy, y)
    return kernel("sigmoid_backward", backend, dy, y)(dy, y)


def tanh_forward(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Hyperbolic tangent ``tanh(x) = 2 sigmoid(2x) - 1``, stable for large |x|."""
    x = _one(x)
    return kernel("tanh_forward", backend, x)(x)


def tanh_backward(dy: Any, y: Any, *, backend: str | None = None) -> np.ndarray:
    """Tanh gradient from the forward output: ``dx = dy * (1 - y**2)``.

    Parameters
    ----------
    dy : array, y's shape
        Upstream gradient.
    y : array of any shape (not 0-d), non-empty
        The forward OUTPUT ``tanh(x)``, as returned by :func:`tanh_forward`.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    dx : ndarray, y's shape
        float32 only if dy and y are both float32, else float64.

    Raises
    ------
    ValueError
        dy and y differ in shape; either is 0-d or empty.
    TypeError
        Non-numeric arrays (complex, object, string).
    """
    dy, y = _pair(dy, y)
    return kernel("tanh_backward", backend, dy, y)(dy, y)


def maxout_forward(z: Any, k: int, *, backend: str | None = None) -> tuple:
    """Maxout over ``k`` pieces (Goodfellow et al. 2013): ``y_ij = max_p z_i,(j k + p)``.

    Parameters
    ----------
    z : array (N, M*k)
        Pre-activations of ``k`` affine pieces per unit, the pieces of unit j adjacent.
    k : int >= 1

    Returns
    -------
    y : ndarray (N, M)
    idx : ndarray (N, M) of int64
        Winning piece per unit (first on ties), needed by :func:`maxout_backward`.
    """
    z = chk.contiguous(chk.batch(z, "z"))
    k = chk.integer(k, "k", 1)
    if z.shape[1] % k:
        raise ValueError(f"z has {z.shape[1]} columns, not a multiple of k={k} pieces")
    return kernel("maxout_forward", backend, z)(z, k)


def maxout_backward(dy: Any, idx: Any, k: int, *, backend: str | None = None) -> np.ndarray:
    """Maxout gradient: routes ``dy`` (N, M) to the winning pieces; returns ``dz`` (N, M*k).

    Parameters
    ----------
    dy : array (N, M)
        Upstream gradient of the maxout output.
    idx : int array (N, M)
        Winning piece per unit, each in [0, k), as returned by :func:`maxout_forward`.
    k : int >= 1
        Number of pieces per unit.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    dz : ndarray (N, M*k), dy's float dtype
        ``dy[i, j]`` in column ``j*k + idx[i, j]``, zero elsewhere.

    Raises
    ------
    ValueError
        dy not 2-D or an empty batch; idx and dy differ in shape; k < 1; an index outside [0, k).
    TypeError
        idx does not hold integers; k is not an integer; dy is not numeric.
    """
    dy = chk.contiguous(chk.batch(dy, "dy"))
    k = chk.integer(k, "k", 1)
    idx = chk.as_indices(idx, "idx")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"idx must hold integer piece indices, got dtype {idx.dtype}")
    chk.same_shape(idx, dy, "idx", "dy")
    lo, hi = chk.value_range(idx)
    if lo < 0 or hi >= k:  # an index outside [0, k) would write out of bounds
        raise ValueError(f"idx must be in [0, {k}), got values in [{lo}, {hi}]")
    idx = chk.contiguous(idx, np.int64)
    return kernel("maxout_backward", backend, dy, idx)(dy, idx, k)


def dead_relu_fraction(h: Any, fired: Any = None, *, backend: str | None = None) -> float:
    """Fraction of units (columns of ``h``) that never fired (``h > 0``).

    Parameters
    ----------
    h : array (N, M)
        ReLU outputs of one batch.
    fired : bool array (M,), optional (NumPy, or a device array when h is one)
        Running record, OR-ed in place with this batch; the fraction then covers every batch
        seen so far (scan a dataset batch by batch to get the notes' "dead units" figure).

    Returns
    -------
    float in [0, 1]
    """
    h = chk.contiguous(chk.batch(h, "h"))
    if fired is not None and chk.is_device(fired):
        fired = chk.device_flags(fired, h.shape[1])
        return kernel("dead_relu_fraction", backend, h, fired)(h, fired)
    if fired is not None:
        if not isinstance(fired, np.ndarray) or fired.dtype != np.bool_:
            raise TypeError("fired must be a bool NumPy array (it is updated in place)")
        if fired.shape != (h.shape[1],):
            raise ValueError(f"fired has shape {fired.shape} but h has {h.shape[1]} units")
        if not fired.flags.writeable:
            raise ValueError("fired is updated in place but is read-only")
        chk.separate((fired,), (h,), "fired, h")
        if not fired.flags.c_contiguous:
            work = np.ascontiguousarray(fired)
            fraction = kernel("dead_relu_fraction", backend, h)(h, work)
            fired[...] = work
            return fraction
    return kernel("dead_relu_fraction", backend, h)(h, fired)


def _table_ops(row: Any) -> tuple:
    """The generated forward/backward doors of one activation-table row."""
    fwd_name, bwd_name = f"{row.name}_forward", f"{row.name}_backward"
    param_doc = "" if row.alpha is None else f"\nalpha : float, default {row.alpha}\n    The activation's parameter."

    def forward(x: Any, *args: Any, backend: str | None = None) -> np.ndarray:
        alpha = _row_alpha(row, args, fwd_name)
        x = _one(x)
        return kernel(fwd_name, backend, x)(x, *alpha)

    def backward(dy: Any, x: Any, *args: Any, backend: str | None = None) -> np.ndarray:
        alpha = _row_alpha(row, args, bwd_name)
        dy, x = _pair(dy, x, "x")
        return kernel(bwd_name, backend, dy, x)(dy, x, *alpha)

    forward.__name__ = forward.__qualname__ = fwd_name
    backward.__name__ = backward.__qualname__ = bwd_name
    forward.__module__ = backward.__module__ = __name__
    forward.__doc__ = _FORWARD_DOC.format(doc=row.doc, name=row.name, param_doc=param_doc)
    backward.__doc__ = _BACKWARD_DOC.format(doc=row.doc, name=row.name, param_doc=param_doc)
    forward.__signature__ = _signature(("x",), row)  # type: ignore[attr-defined]
    backward.__signature__ = _signature(("dy", "x"), row)  # type: ignore[attr-defined]
    return forward, backward


def _row_alpha(row: Any, args: tuple, op: str) -> tuple:
    """() for rows without a parameter, else (alpha,) checked (default the row's)."""
    limit = 0 if row.alpha is None else 1
    if len(args) > limit:
        raise TypeError(f"{op}() takes {limit} parameter(s) after its arrays, got {len(args)}")
    if row.alpha is None:
        return ()
    return (_alpha(args[0] if args else row.alpha),)


def _signature(arrays: tuple, row: Any) -> inspect.Signature:
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in arrays]
    if row.alpha is not None:
        params.append(inspect.Parameter("alpha", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=row.alpha))
    params.append(inspect.Parameter("backend", inspect.Parameter.KEYWORD_ONLY, default=None))
    return inspect.Signature(params)


_FORWARD_DOC = """{doc}, elementwise ({name}; kernels/activation_table.py).

Parameters
----------
x : array of any shape (not 0-d), non-empty
    float32 is kept; integer and bool inputs compute in float64.{param_doc}
backend : str, optional
    Backend name; default :func:`fastmlp.get_backend`.

Returns
-------
y : ndarray, same shape and float dtype as x
"""

_BACKWARD_DOC = """Gradient of {name}: ``dx = dy * f'(x)``, f(x) = {doc}, from the forward INPUT x.

Parameters
----------
dy : array, x's shape
    Upstream gradient.
x : array of any shape (not 0-d), non-empty
    The forward input.{param_doc}
backend : str, optional
    Backend name; default :func:`fastmlp.get_backend`.

Returns
-------
dx : ndarray, x's shape
    float32 only if dy and x are both float32, else float64.
"""

for _row in ACTIVATIONS:
    if _row.name not in HAND_WRITTEN:
        for _fn in _table_ops(_row):
            globals()[_fn.__name__] = _fn
