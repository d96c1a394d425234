"""CS231n ``layers.py`` / ``layer_utils.py``: forward/backward pairs returning ``(out, cache)``.

Every function keeps the assignment's signature and return convention; the work is done by
:mod:`fastmlp.ops` (validated, fused, compiled kernels). Caches are tuples, as in the assignment,
but hold what fastmlp's backward passes need (e.g. batch norm keeps ``mean`` and ``inv_std``, dropout
keeps the RNG key instead of a mask array, since the counter RNG regenerates the mask).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import ops

_SEED_HIGH = 2**63 - 1  # np.random.randint's int64 range: any draw is a valid fastmlp seed


def _flat(x: Any) -> np.ndarray:
    """x (N, d_1, ..., d_k) viewed as rows (N, D), the assignment's ``x.reshape(N, -1)``."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"x must have a batch axis (N, d_1, ..., d_k), got a scalar of shape {x.shape}")
    return x.reshape(x.shape[0], -1)


def _float_dtype(*arrays: Any) -> np.dtype:
    """The dtype fastmlp.ops computes in: float32 only when every array is float32."""
    f32 = np.dtype(np.float32)
    return f32 if all(np.asarray(a).dtype == f32 for a in arrays) else np.dtype(np.float64)


def draw_seed() -> int:
    """One dropout seed from NumPy's global RNG, so ``np.random.seed`` makes runs repeatable."""
    return int(np.random.randint(0, _SEED_HIGH, dtype=np.int64))  # noqa: NPY002 - the assignment's global RNG


def affine_forward(x: Any, w: Any, b: Any) -> tuple:
    """Affine (fully connected) layer: ``out = x.reshape(N, D) @ w + b``.

    Parameters
    ----------
    x : array (N, d_1, ..., d_k), D = d_1 * ... * d_k
    w : array (D, M)
    b : array (M,)

    Returns
    -------
    out : ndarray (N, M)
    cache : tuple ``(x, w, b)``
    """
    out = ops.affine_forward(_flat(x), w, b)
    return out, (x, w, b)


def affine_backward(dout: Any, cache: tuple) -> tuple:
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : array (N, M)
    cache : tuple ``(x, w, b)`` from :func:`affine_forward`

    Returns
    -------
    dx : ndarray (N, d_1, ..., d_k), x's shape
    dw : ndarray (D, M)
    db : ndarray (M,)
    """
    x, w, _ = cache
    dx, dw, db = ops.affine_backward(dout, _flat(x), w)
    return dx.reshape(np.shape(x)), dw, db


def relu_forward(x: Any) -> tuple:
    """ReLU ``max(0, x)`` of any shape.

    Returns
    -------
    out : ndarray, x's shape
    cache : x
    """
    return ops.relu_forward(x), x


def relu_backward(dout: Any, cache: Any) -> np.ndarray:
    """Backward pass of :func:`relu_forward`: ``dx = dout * (x > 0)``.

    ``cache`` may be the input x or the output ``relu(x)``: both are positive at the same places.

    Parameters
    ----------
    dout : array, x's shape
        Upstream gradient.
    cache : array
        The cache of :func:`relu_forward` (its input x) or the ReLU output.

    Returns
    -------
    dx : ndarray, x's shape
        float32 only if dout and cache are both float32, else float64.

    Raises
    ------
    ValueError
        dout and cache differ in shape; either is 0-d or empty.
    TypeError
        Non-numeric arrays.
    """
    return ops.relu_backward(dout, cache)


def _mode(param: dict, name: str) -> str:
    mode = param.get("mode") if isinstance(param, dict) else None
    if mode not in ("train", "test"):
        raise ValueError(f"{name}['mode'] must be 'train' or 'test', got {mode!r}")
    return mode


def dropout_forward(x: Any, dropout_param: dict) -> tuple:
    """Inverted dropout: ``out = x * mask / p`` while training, ``x`` at test time.

    Parameters
    ----------
    x : array of any shape
    dropout_param : dict
        ``"p"``: probability of KEEPING a unit (the notes' p); ``"mode"``: ``"train"`` or
        ``"test"``; ``"seed"`` (optional): makes the mask deterministic. Without a seed, one is
        drawn per call from NumPy's global RNG.

    Returns
    -------
    out : ndarray, x's shape
    cache : tuple ``(dropout_param, key)``; ``key = (p, seed, stream)`` regenerates the mask in
        :func:`dropout_backward` (``None`` in test mode).

    Notes
    -----
    Unlike the assignment, a given seed does not reseed NumPy's global RNG: masks come from
    fastmlp's counter-based generator keyed by the seed.
    """
    if "p" not in dropout_param:
        raise ValueError("dropout_param must have 'p', the probability of keeping a unit")
    if _mode(dropout_param, "dropout_param") == "test":
        return x, (dropout_param, None)
    seed = dropout_param.get("seed")
    key = (dropout_param["p"], draw_seed() if seed is None else seed, 0)
    return ops.dropout_forward(x, *key), (dropout_param, key)


def dropout_backward(dout: Any, cache: tuple) -> Any:
    """Backward pass of :func:`dropout_forward`: ``dout * mask / p`` (train) or ``dout`` (test).

    Parameters
    ----------
    dout : array, x's shape
        Upstream gradient.
    cache : tuple ``(dropout_param, key)`` from :func:`dropout_forward`
        ``key = (p, seed, stream)`` regenerates the training mask; ``None`` in test mode.

    Returns
    -------
    dx : ndarray, x's shape
        In test mode ``dout`` itself, returned unchanged.

    Raises
    ------
    ValueError
        Train mode only: dout is empty.
    """
    _, key = cache
    if key is None:
        return dout
    return ops.dropout_backward(dout, *key)


def batchnorm_forward(x: Any, gamma: Any, beta: Any, bn_param: dict) -> tuple:
    """Batch normalization over the batch axis, with running statistics for test time.

    Training uses the batch mean and (biased) variance and updates
    ``running = momentum * running + (1 - momentum) * batch``; test mode uses the running
    statistics.

    Parameters
    ----------
    x : array (N, D)
    gamma, beta : arrays (D,)
    bn_param : dict
        ``"mode"`` (``"train"``/``"test"``, required), ``"eps"`` (1e-5), ``"momentum"`` (0.9),
        ``"running_mean"``, ``"running_var"`` (D,) (zeros when absent). Like the assignment, the
        entries ``running_mean``/``running_var`` are replaced by the updated arrays; the arrays
        passed in are not modified.

    Returns
    -------
    out : ndarray (N, D)
    cache : tuple ``(x, gamma, mean, inv_std, training)``
    """
    mode = _mode(bn_param, "bn_param")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-dimensional (N, D) for batchnorm_forward, got shape {x.shape}")
    dt = _float_dtype(x, gamma, beta)
    d = x.shape[1]
    # fastmlp updates running stats in place; copies keep the caller's arrays as they were
    # (the assignment rebinds the dict entries rather than writing into the old arrays)
    stats = []
    for name in ("running_mean", "running_var"):
        old = bn_param.get(name)
        stats.append(np.zeros(d, dtype=dt) if old is None else np.array(old, dtype=dt, copy=True))
    training = mode == "train"
    out, mean, inv_std = ops.batchnorm_forward(x, gamma, beta, stats[0], stats[1], training, momentum, eps)
    bn_param["running_mean"], bn_param["running_var"] = stats
    return out, (x, gamma, mean, inv_std, training)


def batchnorm_backward(dout: Any, cache: tuple) -> tuple:
    """Backward pass of :func:`batchnorm_forward` (through the batch statistics in train mode).

    Returns
    -------
    dx : ndarray (N, D)
    dgamma, dbeta : ndarrays (D,)
    """
    x, gamma, mean, inv_std, training = cache
    return ops.batchnorm_backward(dout, x, gamma, mean, inv_std, training)


def batchnorm_backward_alt(dout: Any, cache: tuple) -> tuple:
    """Same as :func:`batchnorm_backward` (fastmlp's kernel already is the simplified form).

    Parameters
    ----------
    dout : array (N, D)
        Upstream gradient.
    cache : tuple ``(x, gamma, mean, inv_std, training)`` from :func:`batchnorm_forward`

    Returns
    -------
    dx : ndarray (N, D)
    dgamma, dbeta : ndarrays (D,)

    Raises
    ------
    ValueError
        dout not 2-D or differing from x in shape; empty batch; gamma or the cached statistics
        not of length D.
    """
    return batchnorm_backward(dout, cache)


def layernorm_forward(x: Any, gamma: Any, beta: Any, ln_param: dict) -> tuple:
    """Layer normalization: each row normalised over its D features, then ``gamma * xhat + beta``.

    Runs as batch norm of ``x.T`` (the assignment's hint): fastmlp's batch-norm kernel
    normalises the rows, gamma and beta are applied per feature afterwards.

    Parameters
    ----------
    x : array (N, D), D >= 2
    gamma, beta : arrays (D,)
    ln_param : dict with optional ``"eps"`` (1e-5)

    Returns
    -------
    out : ndarray (N, D)
    cache : tuple ``(x, gamma, xhat, mean, inv_std)``
    """
    eps = ln_param.get("eps", 1e-5)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x must be (N, D) with D >= 2 features for layernorm_forward, got shape {x.shape}")
    dt = _float_dtype(x, gamma, beta)
    n = x.shape[0]
    ones, zeros = np.ones(n, dtype=dt), np.zeros(n, dtype=dt)
    # the op insists on running statistics; layer norm has none, so these are scratch
    scratch_mean, scratch_var = np.zeros(n, dtype=dt), np.zeros(n, dtype=dt)
    xhat_t, mean, inv_std = ops.batchnorm_forward(x.T, ones, zeros, scratch_mean, scratch_var, True, 1.0, eps)
    xhat = xhat_t.T
    out = xhat * np.asarray(gamma, dtype=dt) + np.asarray(beta, dtype=dt)
    return out, (x, gamma, xhat, mean, inv_std)


def layernorm_backward(dout: Any, cache: tuple) -> tuple:
    """Backward pass of :func:`layernorm_forward`.

    Returns
    -------
    dx : ndarray (N, D)
    dgamma, dbeta : ndarrays (D,)
    """
    x, gamma, xhat, mean, inv_std = cache
    dout = np.asarray(dout)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    ones = np.ones(x.shape[0], dtype=inv_std.dtype)
    dx_t, _, _ = ops.batchnorm_backward(dxhat.T, x.T, ones, mean, inv_std, True)
    return np.ascontiguousarray(dx_t.T), dgamma, dbeta


def softmax_loss(x: Any, y: Any) -> tuple:
    """Softmax cross-entropy, mean over the N rows (fused, max-shifted).

    Parameters
    ----------
    x : array (N, C) of class scores
    y : int array (N,), labels in [0, C)

    Returns
    -------
    loss : float
    dx : ndarray (N, C)
    """
    return ops.softmax_cross_entropy(x, y)


def svm_loss(x: Any, y: Any) -> tuple:
    """Multiclass SVM hinge loss with margin 1, mean over the N rows.

    Parameters
    ----------
    x : array (N, C) of class scores
    y : int array (N,), labels in [0, C)

    Returns
    -------
    loss : float
    dx : ndarray (N, C)
    """
    return ops.svm_loss(x, y, 1.0)
