"""Dropout and batch normalization layers."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import ops
from .base import Layer, Param, _check_keep, _check_size


class Dropout(Layer):
    """Dropout with keep probability ``keep_prob`` (the notes' p).

    ``mode="inverted"`` (recommended): kept units are scaled by ``1/p`` while training, prediction
    is untouched. ``mode="vanilla"``: training multiplies by a 0/1 mask, prediction scales by p.
    Masks come from the counter RNG keyed by (step seed, layer index): identical on every backend.

    Parameters
    ----------
    keep_prob : float in (0, 1], default 0.5
    mode : {"inverted", "vanilla"}
    """

    def __init__(self, keep_prob: float = 0.5, mode: str = "inverted") -> None:
        super().__init__()
        self.keep_prob = _check_keep(keep_prob)
        if mode not in ("inverted", "vanilla"):
            raise ValueError(f"mode must be 'inverted' or 'vanilla', got {mode!r}")
        self.mode = mode
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Masked when training; identity (inverted) or scaled by p (vanilla) when predicting."""
        self._seed, self._training = seed, training
        p = self.keep_prob
        if not training or p == 1.0:
            return x * np.asarray(p, dtype=x.dtype) if (self.mode == "vanilla" and p < 1.0) else x
        start = self._start(x)
        if self.mode == "inverted":
            return ops.dropout_forward(x, p, seed, self.stream, start=start, backend=self.backend)
        mask = ops.dropout_mask(x.shape, p, seed, self.stream, x.dtype, start=start, backend=self.backend)
        self._mask = (mask != 0).astype(x.dtype)
        return x * self._mask

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """``dy * mask`` with the forward's mask."""
        p = self.keep_prob
        if not self._training or p == 1.0:
            return dy * np.asarray(p, dtype=dy.dtype) if (self.mode == "vanilla" and p < 1.0) else dy
        if self.mode == "inverted":
            return ops.dropout_backward(dy, p, self._seed, self.stream, start=self._start(dy), backend=self.backend)
        return dy * self._mask

    def _start(self, x: np.ndarray) -> int:
        """The mask's first element: that of global row ``mask_row0``."""
        return self.mask_row0 * (x.size // x.shape[0]) if self.mask_row0 and x.ndim else 0

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"keep_prob": self.keep_prob, "mode": self.mode}


class BatchNorm(Layer):
    """Batch normalization between a dense layer and its activation (Ioffe & Szegedy 2015).

    Training normalises with batch statistics and updates running ones
    (``r = momentum r + (1 - momentum) batch``); prediction uses the running statistics. In
    data-parallel training (``fit(..., comm=...)``) the statistics are those of the global batch,
    summed over the ranks (synchronized batch norm).

    Parameters
    ----------
    n : int, number of features
    momentum : float in [0, 1], default 0.9
    eps : float > 0, default 1e-5
    dtype : float dtype
    """

    # set by data-parallel training (a class default: models pickled before it existed load too):
    # sums a float64 vector over the ranks, in place
    sync: Any = None

    def __init__(self, n: int, momentum: float = 0.9, eps: float = 1e-5, dtype: Any = np.float32) -> None:
        super().__init__()
        self.n, self.dtype = _check_size(n, "n"), np.dtype(dtype)
        self.momentum = ops._checks.number(momentum, "momentum", 0.0, 1.0)
        self.eps = ops._checks.number(eps, "eps", 0.0, low_open=True)
        self.gamma = Param("gamma", np.ones(self.n, dtype=self.dtype))
        self.beta = Param("beta", np.zeros(self.n, dtype=self.dtype))
        self.params = [self.gamma, self.beta]
        self.buffers = {
            "running_mean": np.zeros(self.n, dtype=self.dtype),
            "running_var": np.ones(self.n, dtype=self.dtype),
        }

    @property
    def n_out(self) -> int:
        """Number of features."""
        return self.n

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Normalise, scale and shift."""
        self._x, self._training = x, training
        if training and self.sync is not None:
            return self._synced_forward(x)
        y, self._mean, self._inv_std = ops.batchnorm_forward(
            x,
            self.gamma.value,
            self.beta.value,
            self.buffers["running_mean"],
            self.buffers["running_var"],
            training,
            self.momentum,
            self.eps,
            backend=self.backend,
        )
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """dx through the batch statistics (training) or the fixed ones (eval); dgamma, dbeta."""
        if self._training and self.sync is not None:
            return self._synced_backward(dy)
        dx, self.gamma.grad, self.beta.grad = ops.batchnorm_backward(
            dy, self._x, self.gamma.value, self._mean, self._inv_std, self._training, backend=self.backend
        )
        return dx

    def _synced_forward(self, x: np.ndarray) -> np.ndarray:
        """Training forward with the global batch's mean and biased variance (two sums over the
        ranks: the count and Σx, then Σ(x − mean)², as the one-process op's two passes)."""
        n = self.n
        sums = np.empty(n + 1)
        sums[:n] = x.sum(axis=0, dtype=np.float64)
        sums[n] = x.shape[0]
        self.sync(sums)
        rows = sums[n]
        if rows < 2:
            raise ValueError("batch norm in training mode needs at least 2 rows (the variance of 1 row is 0)")
        mean = sums[:n] / rows
        squares = np.square(x - mean).sum(axis=0)
        self.sync(squares)
        var = squares / rows
        dt, m = x.dtype.type, self.momentum
        for name, batch in (("running_mean", mean), ("running_var", var)):
            running = self.buffers[name]
            running *= dt(m)
            running += dt(1 - m) * batch.astype(x.dtype)
        self._mean = mean.astype(x.dtype)
        self._inv_std = (1 / np.sqrt(var + self.eps)).astype(x.dtype)
        self._rows = rows
        self._xhat = (x - self._mean) * self._inv_std  # the backward's too
        return self.gamma.value * self._xhat + self.beta.value

    def idle_forward(self) -> None:
        """A synchronized training forward with no rows of this rank's (its batch share is
        empty): the sums over the others' rows still update the running statistics here too."""
        self._synced_forward(np.empty((0, self.n), self.gamma.value.dtype))

    def _synced_backward(self, dy: np.ndarray) -> np.ndarray:
        """dx through the global batch's statistics (Σdy and Σdy·x̂ summed over the ranks);
        dgamma and dbeta are this rank's parts (the gradient sum adds the others')."""
        n, xhat = self.n, self._xhat
        sums = np.empty(2 * n)
        sums[:n] = dy.sum(axis=0, dtype=np.float64)
        sums[n:] = (dy * xhat).sum(axis=0, dtype=np.float64)
        self.beta.grad, self.gamma.grad = sums[:n].astype(dy.dtype), sums[n:].astype(dy.dtype)
        self.sync(sums)
        gamma, rows = self.gamma.value, self._rows
        dxhat = dy * gamma
        total, along = (gamma * sums[:n]).astype(dy.dtype), (gamma * sums[n:]).astype(dy.dtype)
        dx = (self._inv_std / dy.dtype.type(rows)) * (dy.dtype.type(rows) * dxhat - total - xhat * along)
        return dx.astype(dy.dtype, copy=False)

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """gamma, beta, running_mean, running_var: (n,) each."""
        n = operator.index(config["n"])
        return {"gamma": (n,), "beta": (n,), "running_mean": (n,), "running_var": (n,)}

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"n": self.n, "momentum": self.momentum, "eps": self.eps, "dtype": self.dtype.name}
