"""CS231n ``classifiers/fc_net.py``: ``FullyConnectedNet`` and ``TwoLayerNet``.

Architecture ``{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax``.
Without normalization each hidden block is ONE fused fastmlp kernel (bias + ReLU + dropout mask
generated in-register, then its fused backward); with normalization the blocks chain the
:mod:`fastmlp.compat.cs231n.layers` ops. ``save``/``load`` keep ``params`` in an ``.npz`` file.
Dropout masks come from fastmlp's counter RNG keyed by
(seed, layer index), so a fixed ``seed`` makes the loss deterministic for gradient checks.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .... import ops
from ..layers import batchnorm_backward, batchnorm_forward, draw_seed, layernorm_backward, layernorm_forward
from ._files import ParamsFile

NORMALIZATIONS = (None, "batchnorm", "layernorm")


class FullyConnectedNet(ParamsFile):
    """Fully connected network with ReLU hidden layers, optional dropout and batch/layer norm.

    Parameters
    ----------
    hidden_dims : list of int
        Size of each hidden layer.
    input_dim : int, default 3*32*32
    num_classes : int, default 10
    dropout_keep_ratio : float in (0, 1], default 1
        Probability of KEEPING a unit; 1 disables dropout.
    normalization : {None, "batchnorm", "layernorm"}
    reg : float, default 0
        L2 strength: the loss adds ``0.5 * reg * sum(W**2)`` over the weight matrices.
    weight_scale : float, default 1e-2
        Standard deviation of the Gaussian initial weights (drawn from NumPy's global RNG).
    dtype : NumPy float dtype, default np.float32
        Dtype of the parameters and of the computation (use float64 for gradient checks).
    seed : int, optional
        Fixed dropout seed (deterministic masks).

    Attributes
    ----------
    params : dict
        ``W1, b1, gamma1, beta1, ..., WL, bL``; weights (D_in, D_out).
    dropout_param : dict
        ``{"mode", "p"[, "seed"]}`` when dropout is used, else empty.
    bn_params : list of dict
        One per normalised layer: running statistics (batch norm) or ``eps`` (layer norm).
    """

    def __init__(
        self,
        hidden_dims: Any,
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio}")
        hidden_dims = [int(h) for h in hidden_dims]
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params: dict[str, np.ndarray] = {}
        dims = [int(input_dim), *hidden_dims, int(num_classes)]
        for i, (d_in, d_out) in enumerate(itertools.pairwise(dims), start=1):
            # the global RNG, as the assignment: np.random.seed makes the initial weights repeatable
            self.params[f"W{i}"] = weight_scale * np.random.randn(d_in, d_out)  # noqa: NPY002
            self.params[f"b{i}"] = np.zeros(d_out)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(d_out)
                self.params[f"beta{i}"] = np.zeros(d_out)
        self.dropout_param: dict[str, Any] = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params: list[dict[str, Any]] = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X: Any, y: Any = None) -> Any:
        """Class scores (``y is None``), else the loss and its gradients.

        Parameters
        ----------
        X : array (N, d_1, ..., d_k)
        y : int array (N,), optional

        Returns
        -------
        scores : ndarray (N, C), when y is None
        (loss, grads) : float and dict keyed like ``params``, otherwise
        """
        X = np.asarray(X).astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        keep, seed = 1.0, 0
        if self.use_dropout and mode == "train":
            keep = self.dropout_param["p"]
            given = self.dropout_param.get("seed")
            seed = draw_seed() if given is None else int(given)  # one seed per pass, layer i uses stream i

        h = X.reshape(X.shape[0], -1)
        caches = []
        for i in range(1, self.num_layers):
            out, cache = self._hidden_forward(i, h, keep, seed)
            caches.append(cache)
            h = out
        L = self.num_layers
        scores = ops.affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if mode == "test":
            return scores

        loss, dscores = ops.softmax_cross_entropy(scores, y)
        grads: dict[str, np.ndarray] = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = ops.affine_backward(dscores, h, self.params[f"W{L}"])
        for i in range(L - 1, 0, -1):
            dh = self._hidden_backward(i, dh, caches[i - 1], keep, seed, grads)
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * float(np.sum(W * W, dtype=np.float64))
            grads[f"W{i}"] += self.reg * W
        return loss, grads

    def _hidden_forward(self, i: int, h: np.ndarray, keep: float, seed: int) -> tuple:
        """Block i: affine - [norm] - relu - [dropout]; returns (out, cache)."""
        W, b = self.params[f"W{i}"], self.params[f"b{i}"]
        if self.normalization is None:
            out = ops.dense_forward(h, W, b, "relu", keep, seed, i)
            return out, (h, out)
        a = ops.affine_forward(h, W, b)
        gamma, beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]
        if self.normalization == "batchnorm":
            n, norm_cache = batchnorm_forward(a, gamma, beta, self.bn_params[i - 1])
        else:
            n, norm_cache = layernorm_forward(a, gamma, beta, self.bn_params[i - 1])
        r = ops.relu_forward(n)
        out = ops.dropout_forward(r, keep, seed, i) if keep < 1 else r
        return out, (h, norm_cache, r)

    def _hidden_backward(
        self, i: int, dout: np.ndarray, cache: tuple, keep: float, seed: int, grads: dict
    ) -> np.ndarray:
        """Gradients of block i into ``grads``; returns the gradient for the block's input."""
        W = self.params[f"W{i}"]
        if self.normalization is None:
            h, out = cache
            dh, grads[f"W{i}"], grads[f"b{i}"] = ops.dense_backward(dout, h, W, out, "relu", keep, seed, i)
            return dh
        h, norm_cache, r = cache
        if keep < 1:
            dout = ops.dropout_backward(dout, keep, seed, i)
        dn = ops.relu_backward(dout, r)
        backward = batchnorm_backward if self.normalization == "batchnorm" else layernorm_backward
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = backward(dn, norm_cache)
        dh, grads[f"W{i}"], grads[f"b{i}"] = ops.affine_backward(da, h, W)
        return dh


class TwoLayerNet(FullyConnectedNet):
    """Two-layer network ``affine - relu - affine - softmax`` (float64 parameters, as in the assignment).

    Parameters
    ----------
    input_dim : int, default 3*32*32
    hidden_dim : int, default 100
    num_classes : int, default 10
    weight_scale : float, default 1e-3
    reg : float, default 0
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
    ) -> None:
        super().__init__(
            [hidden_dim],
            input_dim=input_dim,
            num_classes=num_classes,
            reg=reg,
            weight_scale=weight_scale,
            dtype=np.float64,
        )
