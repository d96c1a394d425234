"""Activation layers: ReLU, LeakyReLU, PReLU, Sigmoid, Tanh, and Activation for any row of the
activation table."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import ops
from ..kernels.activation_table import BY_NAME, NAMES
from ..ops.activations import BACKWARD_FROM_OUTPUT
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


class Activation(Layer):
    """Any activation of the table (``fastmlp.ops.ACTIVATIONS``) as a layer of its own, e.g.
    ``Activation("elu")``, ``Activation("elu", alpha=0.5)``. Dense layers fuse the same
    activations into their epilogue; this layer is for where one cannot be fused (after batch
    norm, say).

    Parameters
    ----------
    name : str
        A name of ``fastmlp.ops.ACTIVATIONS`` other than identity.
    alpha : float, optional
        The activation's parameter (leaky_relu's slope, elu's scale); default the table's.
    """

    def __init__(self, name: str, alpha: float | None = None) -> None:
        super().__init__()
        if name not in NAMES or name == "identity":
            raise ValueError(f"name must be one of {NAMES[1:]}, got {name!r}")
        row = BY_NAME[name]
        self.name = name
        self.alpha = None if row.alpha is None else float(row.alpha if alpha is None else alpha)
        self._args = () if self.alpha is None else (self.alpha,)
        self._forward_op = getattr(ops, f"{name}_forward")
        self._backward_op = getattr(ops, f"{name}_backward")
        self._keeps_output = name in BACKWARD_FROM_OUTPUT

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Forward; keeps what the backward pass needs (the output or the input)."""
        y = self._forward_op(x, *self._args, backend=self.backend)
        self._saved = y if self._keeps_output else x
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """``dy * f'(x)``."""
        return self._backward_op(dy, self._saved, *self._args, backend=self.backend)

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"name": self.name, "alpha": self.alpha}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # the op functions are looked up again by name
        for key in ("_forward_op", "_backward_op", "_saved"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._forward_op = getattr(ops, f"{self.name}_forward")
        self._backward_op = getattr(ops, f"{self.name}_backward")
