"""The compiled training path: a model's arrays bound once, its steps run by one compiled call.

On a small network the Python between kernels costs more than the kernels (a layered step on the
digits net is ~4× its own GEMMs). Where the backend has a whole-run training kernel (``numba``:
``kernels/numba_cpu/epoch.py``) and the model is one it takes, :class:`CompiledSteps` binds the
layers' parameters, the optimizer's state and preallocated buffers once; each later call of
``fit``'s epoch or ``train_step`` is one call of the kernel. It computes what the layered path
computes, with the same kernels (masks bit for bit, parameters within BLAS rounding); every model
it does not take keeps the layered path (``reason_not`` says why).

Invariant of :meth:`CompiledSteps.run`: X and the targets were validated by the caller
(``Sequential._inputs`` and ``loss.targets``: finite, C-contiguous, the model's dtype and width,
labels in range), and ``order`` holds row indices of X. The kernel trusts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backends
from . import optim as optim_lib
from .layers import Dense

MASK64 = (1 << 64) - 1


def _optimizer_name(optimizer: Any) -> str | None:
    """The compiled path's name for an optimizer of fastmlp's own classes (subclasses may
    change the update: they keep the layered path)."""
    kind = type(optimizer)
    if kind is optim_lib.SGD:
        if optimizer.momentum == 0.0:
            return "sgd"
        return "nesterov" if optimizer.nesterov else "momentum"
    names: dict[type, str] = {optim_lib.Adam: "adam", optim_lib.RMSprop: "rmsprop", optim_lib.Adagrad: "adagrad"}
    return names.get(kind)


def reason_not(model: Any, optimizer: Any, rows: int) -> str | None:
    """Why the compiled path cannot train ``model`` with ``optimizer`` on batches of ``rows``
    rows (None: it can)."""
    try:
        steps = backends.compiled_steps(model.backend)
    except Exception as exc:  # an unusable backend is the layered path's error to raise
        return f"backend: {exc}"
    if steps is None:
        return "the backend has no compiled training path"
    for layer in model.layers:
        if type(layer) is not Dense:
            return f"{type(layer).__name__} layers are trained layer by layer"
        if layer.activation not in steps.ACTIVATIONS:
            return f"activation {layer.activation!r} is trained layer by layer"
        if layer.W.max_norm is not None:
            return "max_norm is applied layer by layer"
    if model.loss.name not in steps.LOSSES:
        return f"loss {model.loss.name!r} is trained layer by layer"
    if _optimizer_name(optimizer) is None:
        return f"optimizer {type(optimizer).__name__} is not one of fastmlp's own"
    dtype = model.dtype
    if dtype not in (np.float32, np.float64) or any(p.value.dtype != dtype for p in model.parameters()):
        return "parameters of mixed or non-float dtypes"
    if not steps.takes(rows, [layer.n_out for layer in model.layers]):
        return "layers wide enough that their epilogues run on several threads"
    return None


def _typed(arrays: list[np.ndarray]) -> Any:
    """A Numba typed list of arrays (one array type): the kernel's per-layer arguments."""
    from numba.typed import List

    return List(arrays)


class CompiledSteps:
    """A model, an optimizer and batches of at most ``rows`` rows, bound for the compiled path.

    Build it only where :func:`reason_not` returns None. :meth:`bound_to` tells whether it still
    fits (the same parameter and state arrays, batch size, options); the model rebuilds it when not.
    """

    def __init__(self, model: Any, optimizer: Any, rows: int) -> None:
        steps = backends.compiled_steps(model.backend)
        assert steps is not None
        self.kernel, self.model, self.optimizer, self.rows = steps.train_steps, model, optimizer, rows
        layers, params = model.layers, model.parameters()
        dtype = model.dtype
        self.dtype = dtype
        self.loss_code, self.kind = steps.LOSSES[model.loss.name]
        self.opt_code = steps.OPTIMIZERS[_optimizer_name(optimizer)]
        widths = [layer.n_out for layer in layers]
        self.ws = _typed([layer.W.value for layer in layers])
        self.bs = _typed([layer.b.value for layer in layers])
        self.layer_ints = np.array(
            [
                [steps.ACTIVATIONS[layer.activation] for layer in layers],
                [steps.keep_threshold(layer.keep_prob) for layer in layers],
                [layer.stream for layer in layers],
                [-1 for _ in layers],  # fired list index: set per record
            ],
            np.int64,
        )
        self.layer_floats = np.array([[layer.alpha for layer in layers], [layer.keep_prob for layer in layers]])
        dws = [np.empty_like(layer.W.value) for layer in layers]
        dbs = [np.empty_like(layer.b.value) for layer in layers]
        for layer, dw, db in zip(layers, dws, dbs, strict=True):
            layer.W.grad, layer.b.grad = dw, db  # the grads a layered step would leave, live
        grads = [g for dw, db in zip(dws, dbs, strict=True) for g in (dw, db)]
        self.params = params
        self.flat_params = _typed([p.value.reshape(-1) for p in params])
        self.flat_grads = _typed([g.reshape(-1) for g in grads])
        self.slots1, self.slots2 = self._bind_slots(optimizer, params)
        self.n_in = model.n_inputs
        self.buffers = (
            _typed([np.empty((rows, m), dtype) for m in widths]),  # outs
            _typed([np.empty((rows, m), dtype) for m in widths]),  # dxs (the last: dscores)
            _typed(dws),
            _typed(dbs),
            _typed([np.empty(steps.SEG + m, dtype) for m in widths]),  # btile
            _typed([np.empty((rows, m), dtype) for m in widths]),  # dzs
            _typed([np.empty(m, np.float64) for m in widths]),  # acc
            np.empty((2, steps.SEG), dtype),  # tmp
            np.empty((0, 0), dtype),  # no_pre
            np.empty((rows, self.n_in), dtype),  # xb
            np.empty(rows, np.int64),  # yb
            np.empty((rows, widths[-1]), dtype),  # tb
        )
        self.rng = (np.empty((4, steps.SEG // 4 + 2), np.uint32), np.empty(steps.SEG + 8, np.uint32))
        self.ints = np.zeros(8, np.int64)
        self.floats = np.zeros(6)
        self.no_labels = np.empty(0, np.int64)
        self.no_targets = np.empty((0, widths[-1]), dtype)
        self.key = np.uint64(model.seed & MASK64)
        self._penalties: tuple[Any, ...] = ()
        self._record_for: Any = None
        self._record_list: tuple[Any, ...] = ()
        width, unfired = model.n_outputs, np.full(len(layers), -1, np.int64)
        self.own_record = (np.zeros(4), np.zeros(width), np.zeros(width), _typed([np.zeros(1, np.bool_)]), unfired)
        self.identity = self._identity(model, optimizer)
        self._arange = np.arange(rows)
        self._one_lr = np.empty(1)

    def order(self, rows: int) -> np.ndarray:
        """0 .. rows - 1 (train_step's one batch), without allocating."""
        return self._arange[:rows]

    def learning_rates(self, lr: float) -> np.ndarray:
        """A one-step learning-rate array holding ``lr``, without allocating."""
        self._one_lr[0] = lr
        return self._one_lr

    def _bind_slots(self, optimizer: Any, params: list[Any]) -> tuple[Any, Any]:
        """The optimizer's own state arrays (flat views), created as its layered step would;
        unused slots are any array of the right type (the parameter itself: never written)."""
        n = {0: 0, 1: 1, 2: 1, 3: 2, 4: 1, 5: 1}[self.opt_code]
        first, second = [], []
        for p in params:
            slots = optimizer._slots(p, n) if n else []
            flat = p.value.reshape(-1)
            first.append(slots[0].reshape(-1) if n >= 1 else flat)
            second.append(slots[1].reshape(-1) if n >= 2 else flat)
        return _typed(first), _typed(second)

    @staticmethod
    def _identity(model: Any, optimizer: Any) -> tuple[Any, ...]:
        """What the binding depends on: the arrays themselves, the options baked into it."""
        arrays = tuple(id(p.value) for p in model.parameters())
        state = tuple(id(a) for slots in optimizer.state.values() for a in slots)
        options = tuple((layer.activation, layer.keep_prob, layer.alpha, layer.stream) for layer in model.layers)
        strengths = tuple((p.l2, p.l1, p.max_norm) for p in model.parameters())
        return (
            id(model.loss),
            model.seed,
            model.backend,
            id(optimizer),
            _optimizer_name(optimizer),
            arrays,
            state,
            options,
            strengths,
        )

    def bound_to(self, model: Any, optimizer: Any, rows: int) -> bool:
        """True while this binding is still that of ``model`` and ``optimizer``, with buffers for
        batches of ``rows`` rows."""
        return rows <= self.rows and self._identity(model, optimizer) == self.identity

    def _record_arrays(self, record: Any) -> tuple[Any, ...]:
        """The kernel's record arguments: the epoch record's own arrays (fastmlp/_epoch.py), or
        this plan's scratch when nobody reads them (train_step)."""
        if record is None:
            return self.own_record
        # the record's arrays live as long as it does (reset zeroes them in place)
        if self._record_for is not record:
            at = np.full(len(self.model.layers), -1, np.int64)
            fired = []
            for slot, index in enumerate(record.relu):
                at[index] = slot
                fired.append(record.fired[index])
            self._record_list = (_typed(fired or [np.zeros(1, np.bool_)]), at)
            self._record_for = record
        return (record.stats, record.target_sum, record.target_squares, *self._record_list)

    def _strengths(self) -> np.ndarray:
        """Rows (L2, L1): each parameter's strengths (flat order), as the layered step takes them."""
        key = (self.optimizer.weight_decay, self.model.l1)
        if not self._penalties or self._penalties[0] != key:
            l2 = [self.optimizer.decay_for(p) for p in self.params]
            l1 = [(self.model.l1 if p.l1 is None else p.l1) if p.regularized else 0.0 for p in self.params]
            self._penalties = (key, np.array([l2, l1], np.float64))
        return self._penalties[1]

    def run(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        order: np.ndarray,
        batch_size: int,
        lrs: np.ndarray,
        record: Any = None,
    ) -> tuple[int, float, float]:
        """Steps over the batches of ``order`` (``batch_size`` <= ``self.rows`` rows each, the
        last one shorter), batch k with learning rate ``lrs[k]``. Advances the model's and the
        optimizer's step counts by the steps done. Returns (steps done, Σ (loss + penalty)·rows,
        the non-finite loss that stopped it early, or 0.0); see the module docstring for what it
        trusts."""
        model, opt = self.model, self.optimizer
        labels = targets if targets.ndim == 1 else self.no_labels
        matrix = np.ascontiguousarray(targets, self.dtype) if targets.ndim == 2 else self.no_targets
        ints = self.ints
        batches = -(-order.shape[0] // batch_size)
        ints[:] = (batch_size, 0, batches, self.loss_code, self.kind, self.opt_code, model.steps, opt.steps)
        self.floats[:] = (
            getattr(model.loss, "margin", 1.0),
            getattr(opt, "momentum", 0.0),
            getattr(opt, "beta1", 0.0),
            getattr(opt, "beta2", 0.0),
            getattr(opt, "decay_rate", 0.0),
            getattr(opt, "eps", 0.0),
        )
        stats, colsum, colsq, fired, self.layer_ints[3] = self._record_arrays(record)
        done, total, bad = self.kernel(
            X, labels, matrix, order, ints, self.floats, lrs, self.key,
            self.ws, self.bs, self.layer_ints, self.layer_floats,
            self.flat_params, self.flat_grads, self.slots1, self.slots2, self._strengths(),
            stats, colsum, colsq, fired, *self.buffers, *self.rng,
        )  # fmt: skip
        model.steps += done
        opt.steps += done
        return done, total, bad
