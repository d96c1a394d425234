"""Activation layers: ReLU, LeakyReLU, PReLU, Sigmoid, Tanh."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import ops
from .base import Layer, Param, _check_size


class ReLU(Layer):
    """``max(0, x)``."""

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Forward; keeps the output for the backward pass."""
        self._y = ops.relu_forward(x, backend=self.backend)
        return self._y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """``dy * (y > 0)``."""
        return ops.relu_backward(dy, self._y, backend=self.backend)


class LeakyReLU(Layer):
    """``x if x >= 0 else alpha x``.

    Parameters
    ----------
    alpha : float, default 0.01
    """

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Forward; keeps the input for the backward pass."""
        self._x = x
        return ops.leaky_relu_forward(x, self.alpha, backend=self.backend)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """``dy if x >= 0 else alpha dy``."""
        return ops.leaky_relu_backward(dy, self._x, self.alpha, backend=self.backend)

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"alpha": self.alpha}


class PReLU(Layer):
    """Leaky ReLU with a learned slope per unit (He et al. 2015); slopes are not regularized.

    Parameters
    ----------
    n : int, number of units
    alpha : float, default 0.25, initial slope
    dtype : float dtype
    """

    def __init__(self, n: int, alpha: float = 0.25, dtype: Any = np.float32) -> None:
        super().__init__()
        self.n, self.alpha0, self.dtype = _check_size(n, "n"), float(alpha), np.dtype(dtype)
        self.alpha = Param("alpha", np.full(self.n, self.alpha0, dtype=self.dtype))
        self.params = [self.alpha]

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Forward; keeps the input for the backward pass."""
        self._x = x
        return ops.prelu_forward(x, self.alpha.value, backend=self.backend)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """dx, and the slopes' gradient."""
        dx, self.alpha.grad = ops.prelu_backward(dy, self._x, self.alpha.value, backend=self.backend)
        return dx

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """alpha (n,)."""
        return {"alpha": (operator.index(config["n"]),)}

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"n": self.n, "alpha": self.alpha0, "dtype": self.dtype.name}

    @property
    def n_out(self) -> int:
        """Number of units."""
        return self.n


class Sigmoid(Layer):
    """``1 / (1 + e^-x)``."""

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Forward; keeps the output."""
        self._y = ops.sigmoid_forward(x, backend=self.backend)
        return self._y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """``dy * y * (1 - y)``."""
        return ops.sigmoid_backward(dy, self._y, backend=self.backend)


class Tanh(Layer):
    """``tanh(x)``."""

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Forward; keeps the output."""
        self._y = ops.tanh_forward(x, backend=self.backend)
        return self._y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """``dy * (1 - y^2)``."""
        return ops.tanh_backward(dy, self._y, backend=self.backend)
