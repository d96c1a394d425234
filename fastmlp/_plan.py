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


_ADAPTIVE: dict[type, str] = {optim_lib.Adam: "adam", optim_lib.RMSprop: "rmsprop", optim_lib.Adagrad: "adagrad"}


def _optimizer_name(optimizer: Any) -> str | None:
    """The compiled path's name for an optimizer of fastmlp's own classes (subclasses may
    change the update: they keep the layered path)."""
    kind = type(optimizer)
    if kind is optim_lib.SGD:
        if optimizer.momentum == 0.0:
            return "sgd"
        return "nesterov" if optimizer.nesterov else "momentum"
    return _ADAPTIVE.get(kind)


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
    if not steps.takes(rows, [layer.n_out for layer in model.layers], [p.value.size for p in model.parameters()]):
        return "layers large enough that their epilogues or updates run on several threads"
    return None


def _typed(arrays: list[np.ndarray]) -> Any:
    """A Numba typed list of arrays (one array type): the kernel's per-layer arguments."""
    from numba.typed import List

    return List(arrays)


def _offsets(sizes: list[int]) -> list[int]:
    """Start of each part in a flat buffer holding parts of these sizes, one after the other."""
    return [int(v) for v in np.concatenate([[0], np.cumsum(sizes)[:-1]])] if sizes else []


class CompiledSteps:
    """A model, an optimizer and batches of at most ``rows`` rows, bound for the compiled path.

    Build it only where :func:`reason_not` returns None. :meth:`bound_to` tells whether it still
    fits (the same layers, parameter and state arrays, options, batch size); the model rebuilds
    it when not. The plan owns its buffers flat (kernels/numba_cpu/epoch.py), the gradients
    included (each parameter's ``grad`` is a view of them, as a layered step would leave it),
    and moves the optimizer's state for these parameters into flat buffers of its own (the
    optimizer's ``state`` then holds views of them, values kept, so the layered path and this
    one share it).
    """

    def __init__(self, model: Any, optimizer: Any, rows: int) -> None:
        steps = backends.compiled_steps(model.backend)
        assert steps is not None
        self.kernel, self.model, self.optimizer, self.rows = steps.train_steps, model, optimizer, rows
        self.interpreted = steps.INTERPRETED
        layers = list(model.layers)
        self.layers, self.params, self.loss, self.seed, self.backend = (
            layers,
            model.parameters(),
            model.loss,
            model.seed,
            model.backend,
        )
        dtype = self.dtype = model.dtype
        self.loss_code, self.kind = steps.LOSSES[model.loss.name]
        self.opt_name = _optimizer_name(optimizer)
        self.opt_code = steps.OPTIMIZERS[self.opt_name]
        widths = self.widths = [layer.n_out for layer in layers]
        self.units_at = _offsets(widths)
        param_sizes = [layer.W.value.size + layer.b.value.size for layer in layers]
        self.values = [p.value for p in self.params]
        self.flat_params = _typed([value.reshape(-1) for value in self.values])  # views: W0, b0, W1, ...
        self.layer_ints = np.array(
            [
                [steps.ACTIVATIONS[layer.activation] for layer in layers],
                [steps.keep_threshold(layer.keep_prob) for layer in layers],
                [layer.stream for layer in layers],
                [-1 for _ in layers],  # FIRED_AT: set per record
                [layer.n_in for layer in layers],
                widths,
                self.units_at,
                _offsets(param_sizes),  # PARAMS_AT
                _offsets([steps.SEG + m for m in widths]),  # TILE_AT
            ],
            np.int64,
        )
        self.fired_row = steps.FIRED_AT
        self.layer_floats = np.array([[layer.alpha for layer in layers], [layer.keep_prob for layer in layers]])
        self.grads = np.empty(sum(param_sizes), dtype)
        for p, start in zip(self.params, _offsets([p.value.size for p in self.params]), strict=True):
            p.grad = self.grads[start : start + p.value.size].reshape(p.value.shape)
        self.slots1, self.slots2, self.state_lists = self._bind_slots(optimizer)
        units = rows * sum(widths)
        self.buffers = (
            np.empty(units, dtype),  # outs
            np.empty(units, dtype),  # dxs (the last layer's: dscores)
            np.empty(units, dtype),  # dzs
            np.empty(sum(steps.SEG + m for m in widths), dtype),  # btile
            np.empty(sum(widths), np.float64),  # acc
            np.empty((2, steps.SEG), dtype),  # tmp
            np.empty((0, 0), dtype),  # no_pre
            np.empty((rows, model.n_inputs), dtype),  # xb
            np.empty(rows, np.int64),  # yb
            np.empty((rows, widths[-1]), dtype),  # tb
            np.empty((4, steps.SEG // 4 + 2), np.uint32),  # stage
            np.empty(steps.SEG + 8, np.uint32),  # words
        )
        self.ints = np.array([0, 0, 0, self.loss_code, self.kind, self.opt_code, 0, 0], np.int64)
        self.floats = np.zeros(6)
        self._constants: tuple[float, ...] = ()
        self.no_labels = np.empty(0, np.int64)
        self.no_targets = np.empty((0, widths[-1]), dtype)
        self.key = np.uint64(model.seed & MASK64)
        self._penalties: tuple[Any, ...] = ()
        self._fired_at = np.full(len(layers), -1, np.int64)
        self._record_for: Any = None  # the FIRED_AT row above is -1: no record
        self.own_record = (np.zeros(4), np.zeros(widths[-1]), np.zeros(widths[-1]), np.zeros(1, np.bool_))
        self.options = self._options(layers)
        self._arange = np.arange(rows)
        self._one_lr = np.empty(1)

    def output(self, index: int, rows: int) -> np.ndarray:
        """Layer ``index``'s training output of the last batch (of ``rows`` rows), as the kernel
        left it (a view of the plan's buffer)."""
        start, width = self.rows * self.units_at[index], self.widths[index]
        return self.buffers[0][start : start + rows * width].reshape(rows, width)

    def order(self, rows: int) -> np.ndarray:
        """0 .. rows - 1 (train_step's one batch), without allocating."""
        return self._arange[:rows]

    def learning_rates(self, lr: float) -> np.ndarray:
        """A one-step learning-rate array holding ``lr``, without allocating."""
        self._one_lr[0] = lr
        return self._one_lr

    def _bind_slots(self, optimizer: Any) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Flat state buffers (as many as the optimizer keeps per parameter), each parameter's
        part at its gradient's offset; the optimizer's state moves into them, values kept.
        Unused states are any array of the right type (the gradients: never written)."""
        n = {"sgd": 0, "adam": 2}.get(str(self.opt_name), 1)  # momentum, nesterov, rmsprop, adagrad: one
        flats = [np.zeros_like(self.grads) for _ in range(n)]
        lists: list[Any] = []
        for p, start in zip(self.params, _offsets([p.value.size for p in self.params]), strict=True):
            if not n:
                lists.append(None)
                continue
            old = optimizer.state.get(p)
            views = [flat[start : start + p.value.size].reshape(p.value.shape) for flat in flats]
            if old is not None and len(old) == n and all(o.shape == v.shape for o, v in zip(old, views, strict=True)):
                for o, v in zip(old, views, strict=True):
                    v[...] = o
            optimizer.state[p] = views
            lists.append(views)
        first = flats[0] if n >= 1 else self.grads
        return first, flats[1] if n >= 2 else first, lists

    @staticmethod
    def _options(layers: list[Any]) -> list[tuple[Any, ...]]:
        """The layers' settings baked into the binding (a list comprehension: a generator into
        tuple() costs a tiny step a microsecond)."""
        return [
            (
                layer,
                layer.activation,
                layer.keep_prob,
                layer.alpha,
                layer.stream,
                layer.W.l2,
                layer.W.l1,
                layer.W.max_norm,
            )
            for layer in layers
        ]

    def bound_to(self, model: Any, optimizer: Any, rows: int) -> bool:
        """True while this binding is still that of ``model`` (the same layers, parameter
        arrays and settings) and ``optimizer`` (its state still this plan's), with buffers for
        batches of ``rows`` rows."""
        if (
            rows > self.rows
            or optimizer is not self.optimizer
            or model.loss is not self.loss
            or model.seed != self.seed
            or model.backend != self.backend
            or _optimizer_name(optimizer) != self.opt_name
        ):
            return False
        state = optimizer.state
        for p, value, slots in zip(self.params, self.values, self.state_lists, strict=True):
            if p.value is not value or (slots is not None and state.get(p) is not slots):
                return False
        return self._options(model.layers) == self.options

    def _record_arrays(self, record: Any) -> tuple[Any, ...]:
        """The kernel's record arguments: the epoch record's own arrays (fastmlp/_epoch.py), or
        this plan's scratch when nobody reads them (train_step); sets each layer's FIRED_AT."""
        if self._record_for is not record:  # the record's arrays live as long as it does
            self._fired_at[:] = -1
            for index, start in record.fired_offsets.items() if record is not None else ():
                self._fired_at[index] = start
            self.layer_ints[self.fired_row] = self._fired_at
            self._record_for = record
        if record is None:
            return self.own_record
        return record.stats, record.target_sum, record.target_squares, record.fired_flags

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
        matrix = targets if targets.ndim == 2 else self.no_targets  # in the model's dtype: Sequential._targets
        ints, floats = self.ints, self.floats
        ints[0], ints[2] = batch_size, -(-order.shape[0] // batch_size)  # first batch: ints[1] = 0
        ints[6], ints[7] = model.steps, opt.steps
        # read per run (a user may change an optimizer's constants between calls), written only
        # when they changed: six NumPy item writes are a share of a tiny step
        constants = (
            getattr(model.loss, "margin", 1.0),
            getattr(opt, "momentum", 0.0),
            getattr(opt, "beta1", 0.0),
            getattr(opt, "beta2", 0.0),
            getattr(opt, "decay_rate", 0.0),
            getattr(opt, "eps", 0.0),
        )
        if constants != self._constants:
            floats[:] = constants
            self._constants = constants
        stats, colsum, colsq, fired = self._record_arrays(record)
        args = (
            X, labels, matrix, order, self.ints, self.floats, lrs, self.key, self.flat_params,
            self.layer_ints, self.layer_floats, self._strengths(), self.grads, self.slots1, self.slots2,
            stats, colsum, colsq, fired, *self.buffers,
        )  # fmt: skip
        if self.interpreted:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                done, total, bad = self.kernel(*args)
        else:  # a context manager per call is a real share of a tiny step
            done, total, bad = self.kernel(*args)
        done = int(done)  # NumPy integers with the JIT disabled: the step counters stay ints
        model.steps += done
        opt.steps += done
        return done, float(total), float(bad)
