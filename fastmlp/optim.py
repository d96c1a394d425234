"""Optimizers (fused in-place updates via fastmlp.ops) and learning-rate schedules.

``weight_decay`` is the global L2 strength λ (loss += ½λ‖W‖²), applied to weights only — biases,
batch-norm and PReLU parameters are not regularized; a layer's own ``l2`` overrides it. Max-norm
is applied after each update to the parameters that ask for it.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import ops
from .layers.base import Param
from .ops import _checks as chk
from .ops._dispatch import kernel

Schedule = Callable[[float, int], float]


class StepDecay:
    """``lr0 * factor ** (epoch // every)``: e.g. halve every 10 epochs.

    Parameters
    ----------
    every : int >= 1
    factor : float in (0, 1]
    """

    def __init__(self, every: int = 10, factor: float = 0.5) -> None:
        self.every = chk.integer(every, "every", 1)
        self.factor = chk.number(factor, "factor", 0.0, 1.0, low_open=True)

    def __call__(self, lr0: float, epoch: int) -> float:
        """Learning rate for ``epoch`` (0-based)."""
        return lr0 * self.factor ** (epoch // self.every)


class ExponentialDecay:
    """``lr0 * exp(-k * epoch)``.

    Parameters
    ----------
    k : float >= 0
    """

    def __init__(self, k: float = 0.05) -> None:
        self.k = chk.number(k, "k", 0.0)

    def __call__(self, lr0: float, epoch: int) -> float:
        """Learning rate for ``epoch``."""
        return lr0 * math.exp(-self.k * epoch)


class InverseTimeDecay:
    """``lr0 / (1 + k * epoch)`` (the notes' 1/t decay).

    Parameters
    ----------
    k : float >= 0
    """

    def __init__(self, k: float = 0.1) -> None:
        self.k = chk.number(k, "k", 0.0)

    def __call__(self, lr0: float, epoch: int) -> float:
        """Learning rate for ``epoch``."""
        return lr0 / (1.0 + self.k * epoch)


class CosineDecay:
    """``min_lr + (lr0 - min_lr) * (1 + cos(pi * epoch / total)) / 2``, then ``min_lr``.

    Parameters
    ----------
    total : int >= 1, epochs over which to decay
    min_lr : float >= 0
    """

    def __init__(self, total: int, min_lr: float = 0.0) -> None:
        self.total = chk.integer(total, "total", 1)
        self.min_lr = chk.number(min_lr, "min_lr", 0.0)

    def __call__(self, lr0: float, epoch: int) -> float:
        """Learning rate for ``epoch``."""
        t = min(epoch, self.total) / self.total
        return self.min_lr + (lr0 - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


class Optimizer(abc.ABC):
    """Base: learning rate with an optional schedule, global L2, per-parameter state.

    Parameters
    ----------
    lr : float > 0
    weight_decay : float >= 0
    schedule : callable ``(lr0, epoch) -> lr``, optional
    """

    def __init__(self, lr: float, weight_decay: float = 0.0, schedule: Schedule | None = None) -> None:
        self.lr0 = chk.number(lr, "lr", 0.0, low_open=True)
        self.weight_decay = chk.number(weight_decay, "weight_decay", 0.0)
        if schedule is not None and not callable(schedule):
            raise TypeError("schedule must be callable (lr0, epoch) -> lr")
        self.schedule = schedule
        self.epoch = 0
        self.steps = 0
        # keyed by the Param object, not its id: an id can be reused by a later object, and a
        # pickled model with its optimizer (dask-ml sends the adapter from task to task) keeps
        # objects, not ids
        self.state: dict[Param, list[np.ndarray]] = {}
        self._eps_checked: dict[tuple[Any, np.dtype], bool] = {}

    @property
    def lr(self) -> float:
        """Current learning rate."""
        return self.schedule(self.lr0, self.epoch) if self.schedule else self.lr0

    def decay_for(self, p: Param) -> float:
        """L2 strength for one parameter (0 for unregularized ones)."""
        if not p.regularized:
            return 0.0
        return self.weight_decay if p.l2 is None else p.l2

    def _slots(self, p: Param, n: int) -> list[np.ndarray]:
        slots = self.state.get(p)
        if slots is None or slots[0].shape != p.value.shape or slots[0].dtype != p.value.dtype:
            slots = [np.zeros_like(p.value) for _ in range(n)]
            self.state[p] = slots
        return slots

    def step(self, params: Iterable[Param], backend: str | None = None) -> None:
        """Update every parameter in place from its ``grad``, then apply max-norm where asked."""
        self.steps += 1
        lr = self.lr
        for p in params:
            if p.grad is None:
                continue
            op, args = self._update(p, lr, self.decay_for(p))
            getattr(ops, op)(*args, backend=backend)
            if p.max_norm is not None:
                ops.max_norm_(p.value, p.max_norm, backend=backend)

    def _train_step(self, params: Iterable[Param], backend: str) -> None:
        """:meth:`step` for a model's training step, straight to ``backend``'s drivers where the
        update ops' checks hold by construction: a parameter and its gradient are C-contiguous
        NumPy arrays of one shape and dtype, the state this optimizer's own (``_slots``), the
        options checked when it was built (eps positive in the dtype: checked here, once per
        dtype). Anything else (device arrays, a gradient of another dtype) takes the ops."""
        self.steps += 1
        lr = self.lr
        for p in params:
            w, g = p.value, p.grad
            if g is None:
                continue
            op, args = self._update(p, lr, self.decay_for(p))
            trusted = (
                type(w) is np.ndarray
                and type(g) is np.ndarray
                and g.dtype == w.dtype
                and g.shape == w.shape
                and w.flags.c_contiguous
                and g.flags.c_contiguous
                and self._eps_holds(w.dtype)
            )
            if trusted:
                kernel(op, backend)(*args)
                if p.max_norm is not None:
                    kernel("max_norm_", backend)(w, float(p.max_norm))
            else:
                getattr(ops, op)(*args, backend=backend)
                if p.max_norm is not None:
                    ops.max_norm_(w, p.max_norm, backend=backend)

    def _eps_holds(self, dtype: np.dtype) -> bool:
        eps = getattr(self, "eps", None)
        if eps is None:
            return True
        key = (eps, dtype)  # once per value and dtype, not per parameter and step
        held = self._eps_checked.get(key)
        if held is None:
            held = self._eps_checked[key] = bool(dtype.type(eps) > 0)
        return held

    @abc.abstractmethod
    def _update(self, p: Param, lr: float, wd: float) -> tuple[str, tuple]:
        """The update op (a ``fastmlp.ops`` name) and its arguments for ``p`` (each optimizer's
        own rule: one fused in-place update of ``p.value`` from ``p.grad``)."""

    def epoch_end(self) -> None:
        """Advance the schedule by one epoch."""
        self.epoch += 1

    def reset(self) -> None:
        """Forget all state (velocities, moments, step counts, epoch)."""
        self.state.clear()
        self.epoch = 0
        self.steps = 0

    def config(self) -> dict[str, Any]:
        """Constructor arguments (without the schedule)."""
        return {"lr": self.lr0, "weight_decay": self.weight_decay}


class SGD(Optimizer):
    """SGD, optionally with momentum or Nesterov momentum (the notes' form).

    Parameters
    ----------
    lr : float > 0, default 0.01
    momentum : float in [0, 1), default 0
    nesterov : bool, default False
    weight_decay : float >= 0, default 0
    schedule : callable, optional
    """

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.momentum = chk.number(momentum, "momentum", 0.0, 1.0, high_open=True)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")

    def _update(self, p, lr, wd):
        if self.momentum == 0.0:
            return "sgd_update", (p.value, p.grad, lr, wd)
        (v,) = self._slots(p, 1)
        return "momentum_update", (p.value, p.grad, v, lr, self.momentum, wd, self.nesterov)

    def config(self):
        """Constructor arguments."""
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with bias correction.

    Parameters
    ----------
    lr : float > 0, default 1e-3
    beta1, beta2 : floats in [0, 1), defaults 0.9, 0.999
    eps : float > 0, default 1e-8
    weight_decay : float >= 0
    schedule : callable, optional
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.beta1 = chk.number(beta1, "beta1", 0.0, 1.0, high_open=True)
        self.beta2 = chk.number(beta2, "beta2", 0.0, 1.0, high_open=True)
        self.eps = chk.number(eps, "eps", 0.0, low_open=True)

    def _update(self, p, lr, wd):
        m, v = self._slots(p, 2)
        return "adam_update", (p.value, p.grad, m, v, self.steps, lr, self.beta1, self.beta2, self.eps, wd)

    def config(self):
        """Constructor arguments."""
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class RMSprop(Optimizer):
    """RMSprop: ``cache = rho cache + (1 - rho) g^2; w -= lr g / (sqrt(cache) + eps)``.

    Parameters
    ----------
    lr : float > 0, default 1e-3
    decay_rate : float in [0, 1), default 0.99
    eps : float > 0, default 1e-8
    weight_decay : float >= 0
    schedule : callable, optional
    """

    def __init__(
        self,
        lr: float = 1e-3,
        decay_rate: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.decay_rate = chk.number(decay_rate, "decay_rate", 0.0, 1.0, high_open=True)
        self.eps = chk.number(eps, "eps", 0.0, low_open=True)

    def _update(self, p, lr, wd):
        (cache,) = self._slots(p, 1)
        return "rmsprop_update", (p.value, p.grad, cache, lr, self.decay_rate, self.eps, wd)

    def config(self):
        """Constructor arguments."""
        return {**super().config(), "decay_rate": self.decay_rate, "eps": self.eps}


class Adagrad(Optimizer):
    """Adagrad: ``cache += g^2; w -= lr g / (sqrt(cache) + eps)``.

    Parameters
    ----------
    lr : float > 0, default 1e-2
    eps : float > 0, default 1e-8
    weight_decay : float >= 0
    schedule : callable, optional
    """

    def __init__(
        self, lr: float = 1e-2, eps: float = 1e-8, weight_decay: float = 0.0, schedule: Schedule | None = None
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.eps = chk.number(eps, "eps", 0.0, low_open=True)

    def _update(self, p, lr, wd):
        (cache,) = self._slots(p, 1)
        return "adagrad_update", (p.value, p.grad, cache, lr, self.eps, wd)

    def config(self):
        """Constructor arguments."""
        return {**super().config(), "eps": self.eps}


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "momentum": lambda **kw: SGD(momentum=0.9, **kw),
    "nesterov": lambda **kw: SGD(momentum=0.9, nesterov=True, **kw),
    "adam": Adam,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
}


def get(optimizer: Any, **kwargs: Any) -> Optimizer:
    """An optimizer by name (``sgd``, ``momentum``, ``nesterov``, ``adam``, ``rmsprop``, ``adagrad``).

    Raises
    ------
    ValueError
        Unknown name.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an Optimizer, got {optimizer!r}")
    return OPTIMIZERS[optimizer](**kwargs)
