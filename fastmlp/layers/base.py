"""Layer base class and parameters: each layer holds its parameters and the cache its backward needs.

A layer's ``forward(x, training, seed)`` returns its output; ``backward(dy)`` returns ``dx`` and
fills ``param.grad`` of each :class:`Param`. ``backend`` (set by the model) picks the kernels;
``stream`` (the layer's index in the model) separates its dropout masks from other layers'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops


@dataclass(eq=False)
class Param:
    """A learnable array, its gradient and how it is regularized.

    ``regularized`` is True for weights (L2/L1/max-norm apply) and False for biases, batch-norm
    scales and PReLU slopes. ``l2``/``l1`` override the optimizer/model strengths for this array.
    """

    name: str
    value: np.ndarray
    regularized: bool = False
    l2: float | None = None
    l1: float | None = None
    max_norm: float | None = None
    grad: np.ndarray | None = None


class Layer:
    """Base class: no parameters, identity forward."""

    backend: str | None = None
    stream: int = 0
    # Global index of the training batch's first row (data-parallel training, fastmlp/distributed.py,
    # gives each rank a slice of the batch): dropout masks are keyed by the global row, so that a
    # slice gets exactly the rows of the one-process mask.
    mask_row0: int = 0

    def __init__(self) -> None:
        self.params: list[Param] = []
        self.buffers: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Output of the layer for a batch ``x`` (N, D)."""
        return x

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """Gradient wrt the input (layers may skip it when not ``need_dx``); fills the parameters' grads."""
        return dy

    def forget_input(self) -> None:
        """Drop the reference to the last input batch that layers keep for ``backward``. An
        evaluation pass ends with it: a model must not keep its caller's data alive after
        ``predict`` (a dask worker holds on to the model of every task it ran, and each would
        pin a whole block)."""
        if vars(self).get("_x") is not None:
            vars(self)["_x"] = None

    # A model's training step calls these two, on batches it validated itself (fit validates the
    # whole training set once; train_step its batch), with its backend resolved once per step.
    # Layers that bind their kernels past the ops' checks override them (Dense); the others
    # train through their public forward/backward.
    def _train_forward(self, x: np.ndarray, seed: int, backend: str) -> np.ndarray:
        return self.forward(x, True, seed)

    def _train_backward(self, dy: np.ndarray, need_dx: bool, backend: str) -> np.ndarray | None:
        return self.backward(dy, need_dx)

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave out what a data-parallel fit binds for its run (the global
        row of the batch, batch norm's sum over the ranks): a copy trains as a fresh layer."""
        state = dict(self.__dict__)
        for key in ("mask_row0", "sync"):
            state.pop(key, None)
        return state

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable) that rebuild this layer's shape and options."""
        return {}

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """Shapes of the parameters and buffers a layer built from ``config`` holds, by name,
        without building it (fastmlp.load checks a file's arrays against them before allocating)."""
        return {}

    @property
    def n_out(self) -> int | None:
        """Output width, when the layer fixes it."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _check_size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_keep(keep_prob: float) -> float:
    return ops._checks.keep_prob(keep_prob)
