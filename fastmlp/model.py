"""Sequential models: forward/backward through layers, training steps, fit, prediction, checks."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _dask, _plan, _stream, backends, ops, threads
from . import losses as loss_lib
from . import optim as optim_lib
from ._epoch import EpochRecord, relu_layers
from .layers import Layer, Param
from .layers.dense import Dense, is_sparse
from .ops import _checks as chk

MASK64 = (1 << 64) - 1


def random_seed() -> int:
    """A fresh 63-bit seed from the operating system's entropy (recorded, so runs can be repeated)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def fan_in(layer: Layer) -> int | None:
    """Input width of a layer that fixes it (``n_in``, or ``n`` for per-feature layers)."""
    width = getattr(layer, "n_in", None) or getattr(layer, "n", None)
    return None if width is None else int(width)


def held_out_rows(n: int, split: float) -> int:
    """Rows a ``validation_split`` of ``split`` holds out of ``n`` (at least one; the LAST rows).

    Parameters
    ----------
    n : int
    split : float in [0, 1)

    Returns
    -------
    int

    Raises
    ------
    ValueError
        No training rows would be left.
    """
    n_val = max(1, round(split * n))
    if n_val >= n:
        raise ValueError("validation_split leaves no training rows")
    return n_val


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite: the learning rate is probably too high."""


def step_seed(seed: int, step: int) -> int:
    """SplitMix64 of (seed, step): a fresh 64-bit RNG key for every training step.

    Parameters
    ----------
    seed : int
        The model's seed (taken modulo 2**64).
    step : int
        Training-step counter; consecutive steps give unrelated keys.

    Returns
    -------
    int in [0, 2**64)
        A valid ``seed`` for the dropout ops.
    """
    z = (seed + (step + 1) * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


@dataclass
class History:
    """Per-epoch record of a :meth:`Sequential.fit` run."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    dead_relu: list[list[float]] = field(default_factory=list)  # per epoch, per ReLU layer
    best_epoch: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain-data copy (JSON-serialisable)."""
        return dict(self.__dict__)


def _epoch_line(epoch: int, epochs: int, history: History) -> str:
    """fit's verbose line for an epoch."""
    parts = [
        f"epoch {epoch + 1}/{epochs}",
        f"loss {history.loss[-1]:.4f}",
        f"train acc {history.train_accuracy[-1]:.4f}",
    ]
    if history.val_loss:
        parts += [f"val loss {history.val_loss[-1]:.4f}", f"val acc {history.val_accuracy[-1]:.4f}"]
    return "  ".join(parts)


class _BestEpoch:
    """fit's record of the epoch with the lowest validation loss; with ``patience`` (early
    stopping) it keeps that epoch's parameters, to restore them when training ends."""

    def __init__(self, patience: int | None) -> None:
        self.patience, self.loss, self.state, self.waited = patience, np.inf, None, 0

    def update(self, model: Any, epoch: int, history: History, val: dict[str, float]) -> None:
        history.val_loss.append(val["loss"])
        history.val_accuracy.append(val.get("accuracy", val.get("r2", float("nan"))))
        if val["loss"] < self.loss:
            self.loss, self.waited, history.best_epoch = val["loss"], 0, epoch
            if self.patience is not None:
                self.state = model.get_state()
        else:
            self.waited += 1

    def exhausted(self) -> bool:
        return self.patience is not None and self.waited >= self.patience

    def restore(self, model: Any) -> None:
        if self.state is not None:
            model.set_state(self.state)


class _LocalEpochs:
    """fit's epochs in this process: the data, its order, validation (what data-parallel
    training, fastmlp/distributed.py, does across ranks instead)."""

    prints = True

    def __init__(self, model: Any, X: Any, targets: Any, validation_data: Any, options: tuple) -> None:
        self.model, self.X, self.targets, self.validation_data = model, X, targets, validation_data
        self.batch_size, self.window, self.shuffle, self.evaluate_train = options
        self.streamed = isinstance(X, _stream.RowChunks)
        self.n_rows = X.n_rows if self.streamed else X.shape[0]
        self.validates = validation_data is not None
        self.rng = np.random.default_rng([model.seed, 0xF17])

    def __enter__(self) -> _LocalEpochs:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def train_epoch(self, optimizer: Any, record: EpochRecord) -> float:
        """One epoch's steps; their mean loss."""
        model, batch = self.model, self.batch_size
        if self.streamed:
            shuffler = self.rng if self.shuffle else None
            return model._train_streamed_epoch(self.X, batch, optimizer, record, shuffler, self.window)
        order = self.rng.permutation(self.n_rows) if self.shuffle else np.arange(self.n_rows)
        return model._train_epoch(self.X, self.targets, order, batch, optimizer, record)

    def train_accuracy(self, epoch: int, optimizer: Any, record: EpochRecord) -> float:
        """The epoch's training accuracy: its steps' running one, or measured (evaluate_train)."""
        if self.evaluate_train or not record.usable:
            return self.model._evaluate_training_set(self.X, self.targets, epoch, optimizer)
        return record.accuracy()

    def validate(self) -> dict[str, float] | None:
        """The validation data's loss and accuracy, if there is validation data."""
        return None if self.validation_data is None else self.model.evaluate(*self.validation_data)

    def callbacks_stop(self, callbacks: Iterable[Callable], epoch: int, history: History) -> bool:
        """Whether a callback asks to stop."""
        return any(bool(cb(epoch, history, self.model)) for cb in callbacks)

    def finish(self) -> None:
        """After the last epoch: nothing to check in one process."""


class Sequential:
    """A stack of layers and a loss.

    Parameters
    ----------
    layers : sequence of :class:`fastmlp.layers.Layer`
    loss : str or :class:`fastmlp.losses.Loss`, default "softmax"
    l1 : float >= 0, default 0
        Global L1 strength on weights (layers' own ``l1`` override it); L2 is the optimizer's
        ``weight_decay`` (or a layer's ``l2``). Both together give the elastic net.
    seed : int, optional
        Key of the dropout masks (and of shuffling in :meth:`fit`); random when omitted.
    backend : str, optional
        Backend for every op of this model (default: the global selection).
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        loss: Any = "softmax",
        l1: float = 0.0,
        seed: int | None = None,
        backend: str | None = None,
    ) -> None:
        self.layers = list(layers)
        if not self.layers or not all(isinstance(layer, Layer) for layer in self.layers):
            raise TypeError("layers must be a non-empty sequence of fastmlp.layers.Layer")
        widths = [layer.n_out for layer in self.layers if layer.n_out is not None]
        if not widths:
            raise ValueError("the model needs at least one layer with weights")
        self.loss = loss_lib.get(loss, n_classes=None if loss != "hierarchical_softmax" else widths[-1] + 1)
        self.l1 = chk.number(l1, "l1", 0.0)
        self.seed = random_seed() if seed is None else chk.integer(seed, "seed")
        if backend is not None:  # a typo fails here, not at the first fit
            backends.require(backend)
        self.backend = backend
        self.steps = 0
        self._check_chain()
        for index, layer in enumerate(self.layers):
            layer.stream, layer.backend = index, backend

    def _check_chain(self) -> None:
        width = None
        for layer in self.layers:
            n_in = fan_in(layer)
            if width is not None and n_in is not None and n_in != width:
                raise ValueError(f"{layer!r} expects {n_in} inputs but the previous layer gives {width}")
            width = layer.n_out if layer.n_out is not None else width

    # ----- structure -------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        """Input features."""
        for layer in self.layers:  # a loop, not next(generator): a train_step call reads this
            if layer.n_out is not None:
                width = fan_in(layer)
                assert width is not None
                return width
        raise ValueError("the model has no layer with a width")

    @property
    def n_outputs(self) -> int:
        """Width of the score layer."""
        return int([layer.n_out for layer in self.layers if layer.n_out is not None][-1])

    @property
    def dtype(self) -> np.dtype:
        """Float dtype of the parameters."""
        for layer in self.layers:  # the first parameter's; parameters() would list them all
            for p in layer.params:
                return p.value.dtype
        raise ValueError("the model has no parameters")

    def parameters(self) -> list[Param]:
        """Every learnable array, in layer order."""
        return [p for layer in self.layers for p in layer.params]

    @property
    def num_params(self) -> int:
        """Number of learnable parameters (the notes' [3, 4, 2] net has 26, [3, 4, 4, 1] has 41)."""
        return int(sum(p.value.size for p in self.parameters()))

    def set_backend(self, backend: str | None) -> None:
        """Run this model's ops on ``backend`` from now on."""
        if backend is not None:
            backends.require(backend)
        self.backend = backend
        for layer in self.layers:
            layer.backend = backend

    # ----- computation ------------------------------------------------------------------
    def _inputs(self, X: Any, name: str = "X") -> np.ndarray:
        if is_sparse(X):
            return self._sparse_inputs(X, name)
        X = chk.batch(X, name)
        width, dtype = self.n_inputs, self.dtype
        if X.shape[1] != width:
            raise ValueError(f"{name} has {X.shape[1]} features but the model expects {width}")
        if X.dtype != dtype or not X.flags.c_contiguous:
            X = np.ascontiguousarray(X, dtype=dtype)
        chk.finite(X, name)
        return X

    def _sparse_inputs(self, X: Any, name: str) -> Any:
        """A SciPy sparse batch as CSR in the model's dtype (row subsets are cheap), checked as a
        dense one is: rows, features, finite stored values. Only a first Dense layer on a CPU
        backend takes it (its products run sparse × dense; nothing densifies X)."""
        first = self.layers[0] if self.layers else None
        if type(first) is not Dense:
            raise ValueError(f"sparse {name} needs a Dense first layer, got {type(first).__name__}")
        if (self.backend or backends.get_backend()) == "cuda":
            raise ValueError(f"sparse {name} runs on the CPU backends; pass {name}.toarray() to train on cuda")
        if len(X.shape) != 2 or X.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty 2-D sparse matrix, got shape {X.shape}")
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"{name} has {X.shape[1]} features but the model expects {self.n_inputs}")
        X = X.tocsr().astype(self.dtype, copy=False)
        chk.finite(X.data, f"{name} (its stored values)")
        return X

    def forward(self, X: Any, training: bool = False, seed: int = 0) -> np.ndarray:
        """Scores (N, n_outputs); ``training`` enables dropout and batch statistics."""
        return self._forward(self._inputs(X), training, seed)

    def _forward(self, out: np.ndarray, training: bool, seed: int) -> np.ndarray:
        """forward() on an already validated batch."""
        for layer in self.layers:
            out = layer.forward(out, training, seed)
        return out

    def backward(self, dscores: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``dscores``; fills every parameter's ``grad``; returns dX.

        With ``need_input_grad=False`` it stops at the first layer with parameters and skips
        that layer's input-gradient GEMM (the largest one in a wide first layer); returns None.
        """
        return self._backprop(dscores, need_input_grad, lambda layer, grad, need_dx: layer.backward(grad, need_dx))

    def _backprop(self, grad: Any, need_input_grad: bool, step: Callable[[Layer, Any, bool], Any]) -> Any:
        """backward()'s walk down the layers, ``step(layer, grad, need_dx)`` per layer (the public
        backward, or a training step's bound one)."""
        first = next((i for i, layer in enumerate(self.layers) if layer.params), 0)
        for i in range(len(self.layers) - 1, -1, -1):
            if not need_input_grad and i == first:
                step(self.layers[i], grad, False)
                return None
            dx = step(self.layers[i], grad, True)
            assert dx is not None  # layers return dx whenever it is asked for
            grad = dx
        return grad

    def regularization(self, weight_decay: float = 0.0, add_grads: bool = False) -> float:
        """Penalty ``sum ½ l2 ||W||² + l1 ||W||₁`` over weights; with ``add_grads`` the L1
        subgradient is added to the weights' grads (L2's is fused into the optimizer update)."""
        penalty = 0.0
        for p in self.parameters():
            if not p.regularized:
                continue
            l2 = weight_decay if p.l2 is None else p.l2
            l1 = self.l1 if p.l1 is None else p.l1
            if l2:
                penalty += 0.5 * l2 * float(np.dot(p.value.ravel(), p.value.ravel()))
            if l1:
                penalty += l1 * float(np.abs(p.value).sum())
                if add_grads and p.grad is not None:
                    p.grad += p.value.dtype.type(l1) * np.sign(p.value)
        return penalty

    def loss_and_grads(self, X: Any, y: Any, weight_decay: float = 0.0, seed: int | None = None) -> float:
        """Total loss (data + penalty) of one batch in training mode; fills the gradients
        (including the L2 term λW, unlike :meth:`train_step`, whose update fuses it)."""
        X = self._inputs(X)
        key = step_seed(self.seed, self.steps) if seed is None else seed
        scores = self._forward(X, True, key)
        data_loss, dscores = self.loss(scores, self.loss.targets(y, X.shape[0], self.n_outputs), self.backend)
        self.backward(dscores)
        penalty = self.regularization(weight_decay, add_grads=True)
        for p in self.parameters():
            l2 = (weight_decay if p.l2 is None else p.l2) if p.regularized else 0.0
            if l2 and p.grad is not None:
                p.grad += p.value.dtype.type(l2) * p.value
        return data_loss + penalty

    def train_step(self, X: Any, y: Any, optimizer: Any) -> float:
        """One step of minibatch training: forward, loss, backward, fused update.

        Returns
        -------
        float
            Data loss + regularization penalty of this batch (before the update).

        Raises
        ------
        TrainingDiverged
            The loss is NaN/Inf. The message says whether the parameters are as they were before
            this step, or already non-finite from an earlier update that overflowed (the loss
            before an update can be finite while the update is not; that shows at the next step).
        """
        optimizer = optim_lib.get(optimizer)
        X = self._inputs(X)
        targets = self._targets(y, X.shape[0])
        rows = X.shape[0]
        plan = self._compiled(optimizer, rows)
        if plan is None:
            return self._train_batch(X, targets, optimizer)
        done, total, bad = plan.run(X, targets, plan.order(rows), rows, plan.learning_rates(optimizer.lr))
        if not done:
            raise TrainingDiverged(self._diverged_message(f"loss is {bad} at step {self.steps}", optimizer))
        return total / rows

    def _targets(self, y: Any, n_rows: int) -> np.ndarray:
        """Training targets, validated: labels, or a target matrix in the model's dtype (the
        loss then runs in it, as the scores do)."""
        targets = self.loss.targets(y, n_rows, self.n_outputs)
        if targets.ndim == 2 and type(targets) is np.ndarray:
            targets = np.ascontiguousarray(targets, dtype=self.dtype)
        return targets

    # Train with the compiled path (fastmlp/_plan.py) wherever it takes the model; False keeps
    # the layered path (one kernel call per op), e.g. to compare the two.
    compiled: bool = True

    def training_path(self, optimizer: Any = "momentum", batch_size: int = 64) -> str:
        """``"compiled"`` when training steps with ``optimizer`` on batches of ``batch_size``
        rows run as one compiled call per epoch (``fit``) or step (``train_step``), else
        ``"layered: <why>"`` (one kernel call per op)."""
        optimizer = optim_lib.get(optimizer)
        batch_size = chk.integer(batch_size, "batch_size", 1)
        if not self.compiled:
            return "layered: model.compiled is False"
        reason = _plan.reason_not(self, optimizer, batch_size)
        return "compiled" if reason is None else f"layered: {reason}"

    def _compiled(self, optimizer: Any, rows: int) -> _plan.CompiledSteps | None:
        """The compiled path bound to this model and ``optimizer`` for batches of up to ``rows``
        rows (built on first use, rebuilt when what it bound changed), or None where it does not
        take them."""
        plan = self.__dict__.get("_plan")
        if plan is not None and plan.bound_to(self, optimizer, rows):
            return plan
        self._plan = None
        if not self.compiled or _plan.reason_not(self, optimizer, rows) is not None:
            return None
        self._plan = _plan.CompiledSteps(self, optimizer, rows)
        return self._plan

    def _train_batch(
        self, X: np.ndarray, targets: np.ndarray, optimizer: Any, record: EpochRecord | None = None
    ) -> float:
        """:meth:`train_step` on a batch already validated: ``X`` finite, C-contiguous, of the
        model's dtype and width, ``targets`` checked by ``loss.targets`` (``fit`` validates the
        whole training set once, then passes row subsets of it; so does the scikit-learn adapter's
        ``fit``). ``record`` takes the step's scores for the epoch's statistics."""
        # resolved once per step; the layers, the loss and the optimizer then call their kernels'
        # drivers directly (past the ops' checks, which hold here by construction)
        backend = self.backend or backends.get_backend()
        # overflow is reported below as TrainingDiverged, with advice, instead of as NumPy warnings
        with np.errstate(over="ignore", invalid="ignore"):
            scores, data_loss, dscores = self._train_loss(X, targets, step_seed(self.seed, self.steps), backend)
        if not np.isfinite(data_loss):
            raise TrainingDiverged(self._diverged_message(f"loss is {data_loss} at step {self.steps}", optimizer))
        if record is not None:
            record.record(scores, targets)
        self._train_gradients(dscores, backend)
        penalty = self.regularization(optimizer.weight_decay, add_grads=True)
        optimizer._train_step(self.parameters(), backend)
        self.steps += 1
        return data_loss + penalty

    def _diverged_message(self, what: str, optimizer: Any) -> str:
        """Why training stopped, and what became of the parameters, truthfully. An update can make
        parameters non-finite while the loss before it was finite (lr 1e6: the gradient was finite,
        the step was not); checking every parameter after every update would cost a pass over them
        on every step (benches/NOTES.md change 19), so that is found here, at the next loss or at
        the end of the epoch, and said as it is."""
        broken = self.non_finite_parameter()
        if broken:
            state = (
                f"parameter {broken} is already non-finite: an earlier update overflowed, and the model cannot "
                "predict until its parameters are restored (set_state) or re-initialised"
            )
        else:
            state = "parameters are unchanged by this step"
        return f"{what}: training diverged (lower the learning rate, currently {optimizer.lr:g}); {state}"

    def non_finite_parameter(self) -> str | None:
        """The name ("<layer index>.<param>") of the first parameter holding NaN or Inf, else None."""
        for i, layer in enumerate(self.layers):
            for p in layer.params:
                if not chk.all_finite(p.value):
                    return f"{i}.{p.name}"
        return None

    def _check_parameters(self) -> None:
        broken = self.non_finite_parameter()
        if broken:
            raise ValueError(
                f"parameter {broken} holds NaN or Inf (training diverged, or the values were set or loaded "
                "that way): predictions would be meaningless; restore finite parameters first"
            )

    def _dscores_buffer(self, scores: Any) -> np.ndarray | None:
        """A reused dscores buffer for the training step (losses that can write into one)."""
        if type(scores) is not np.ndarray:
            return None
        buf = getattr(self, "_dscores", None)
        if buf is None or buf.shape != scores.shape or buf.dtype != scores.dtype:
            buf = self._dscores = np.empty_like(scores)
        return buf

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_dscores", None)  # scratch, not state
        state.pop("_plan", None)  # bound to this model's arrays: a copy binds its own
        return state

    @_dask.lazy_on_dask
    def predict_scores(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Scores in evaluation mode (no dropout; running batch-norm statistics)."""
        self._check_parameters()
        scores = self._scores(X, batch_size)
        if not chk.all_finite(scores):
            raise ValueError(
                "the model's scores for these inputs overflow to NaN or Inf (its parameters are finite but too "
                "large: training diverged); predictions would be meaningless"
            )
        return scores

    def _scores(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Evaluation-mode scores, NaN/Inf included (evaluate reports them as a loss)."""
        X = self._inputs(X)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # callers report overflow their own way
                parts = [self._forward(X[i : i + batch_size], False, 0) for i in range(0, X.shape[0], batch_size)]
        finally:
            for layer in self.layers:
                layer.forget_input()
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    @_dask.lazy_on_dask
    def predict(self, X: Any) -> np.ndarray:
        """Class labels (classification), 0/1 matrix (multi-label) or values (regression)."""
        return self.loss.predict(self.predict_scores(X))

    @_dask.lazy_on_dask
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class or attribute probabilities (losses that define them)."""
        return self.loss.proba(self.predict_scores(X))

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """Mean data loss and accuracy (exact labels; per-attribute for multi-label; R² for regression).
        A model whose scores overflow gets an infinite or NaN loss here (predict refuses it).
        X as a dask array or a memmap is read chunk by chunk (never whole)."""
        if isinstance(X, _stream.RowChunks) or _stream.is_out_of_core(X):
            return self._evaluate_streamed(X, y)
        scores = self._scores(X)
        targets = self.loss.targets(y, scores.shape[0], self.n_outputs)
        loss, _ = self.loss(scores, targets, self.backend)
        pred = self.loss.predict(scores)
        if self.loss.kind == "classification":
            return {"loss": loss, "accuracy": float(np.mean(pred == targets))}
        if self.loss.kind == "multilabel":
            truth = (np.asarray(targets) > 0).astype(np.int64)
            return {"loss": loss, "accuracy": float(np.mean(pred == truth))}
        resid = ((pred - targets) ** 2).sum()
        total = ((targets - targets.mean(axis=0)) ** 2).sum()
        return {"loss": loss, "r2": float(1.0 - resid / total) if total > 0 else 0.0}

    def _evaluate_streamed(self, X: Any, y: Any, chunk_rows: int = 65536) -> dict[str, float]:
        """:meth:`evaluate` over row chunks: the loss weighted by rows, the accuracy or R² from
        the same running sums the training epochs keep (``EpochRecord``)."""
        source = X if isinstance(X, _stream.RowChunks) else _stream.RowChunks(X, y, chunk_rows, self.n_inputs)
        tally = EpochRecord(self, track_dead_relu=False)
        total = 0.0
        for i in range(source.sizes.size):
            X_part, y_part = source.load([i])
            scores = self._scores(X_part)
            targets = self.loss.targets(y_part, scores.shape[0], self.n_outputs)
            total += self.loss(scores, targets, self.backend)[0] * scores.shape[0]
            tally.record(scores, targets)
        metric = "accuracy" if self.loss.kind != "regression" else "r2"
        return {"loss": total / source.n_rows, metric: tally.accuracy()}

    def dead_relu_fractions(self, X: Any, batch_size: int = 4096) -> list[float]:
        """For each ReLU layer, the fraction of its units that never fire over all rows of X."""
        X = self._inputs(X)
        relu = relu_layers(self.layers)
        fired = {i: np.zeros(self.layers[i].n_out or 0, dtype=bool) for i in relu}
        fractions = {i: 0.0 for i in relu}
        for start in range(0, X.shape[0], batch_size):
            out = X[start : start + batch_size]
            for i, layer in enumerate(self.layers):
                out = layer.forward(out, False, 0)
                if i in fired:
                    if fired[i].size != out.shape[1]:
                        fired[i] = np.zeros(out.shape[1], dtype=bool)
                    fractions[i] = ops.dead_relu_fraction(out, fired[i], backend=self.backend)
        return [fractions[i] for i in relu]

    # ----- training loop ------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 10,
        batch_size: int = 64,
        optimizer: Any = "momentum",
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        early_stopping: int | None = None,
        shuffle: bool = True,
        verbose: bool = False,
        callbacks: Iterable[Callable[[int, History, Sequential], Any]] = (),
        track_dead_relu: bool = True,
        evaluate_train: bool = False,
        shuffle_window: int = 8,
        chunk_rows: int = 65536,
        comm: Any = None,
        sharded: bool = False,
    ) -> History:
        """Minibatch training with shuffling, validation, early stopping and best-parameter restore.

        Parameters
        ----------
        X : array (N, D); y : labels (N,) or targets
        epochs : int >= 1
        batch_size : int >= 1
        optimizer : str or :class:`fastmlp.optim.Optimizer`, default "momentum" (SGD lr 0.01, μ 0.9)
        validation_data : (X_val, y_val), optional
        validation_split : float in [0, 1), optional; the LAST fraction of rows is held out
        early_stopping : int, optional
            Stop after this many epochs without a lower validation loss, then restore the best
            parameters (needs validation data).
        shuffle : bool
            Reshuffle the rows every epoch (reproducibly, from the model's seed).
        verbose : bool
            Print one line per epoch.
        callbacks : callables ``(epoch, history, model)``; returning True stops training.
        track_dead_relu : bool
            Record, per epoch and ReLU layer, the fraction of units that fired on no training
            row during the epoch (read off the training steps' own outputs: no extra pass).
        evaluate_train : bool
            After each epoch, evaluate the model on the whole training set (one more forward
            pass) for ``history.train_accuracy``. By default it is the running accuracy of the
            epoch's training steps (with dropout, as each step saw it), which costs nothing.
        shuffle_window : int >= 1, for data not in memory
            X as a dask array or a NumPy memmap is streamed, never read whole: each epoch takes
            its row chunks in a random order, ``shuffle_window`` chunks at a time, and shuffles
            rows only within those chunks (a bounded shuffle, not a global one). Memory is about
            twice the window's bytes (plus a converted copy when the data's dtype is not the
            model's). Validation data may be streamed the same way.
        chunk_rows : int >= 1
            Rows per chunk of a memmap (a dask array's own row blocks are its chunks).
        comm : mpi4py communicator or :class:`fastmlp.distributed.GradientSync`, optional
            Data-parallel training over MPI (call ``fit`` on every rank): each global batch of
            ``batch_size`` rows is split across the ranks, the gradients are summed, and the
            result is that of a one-process fit up to float summation order (the same batches
            and dropout masks; batch norm over the global batch). Only rank 0 prints. The
            parameters are checked identical across ranks at the end. See
            :mod:`fastmlp.distributed`.
        sharded : bool, default False
            With ``comm``: each rank passes its own rows (the data set is the ranks' X in rank
            order; so is ``validation_data``) instead of the whole data set on every rank.

        Returns
        -------
        History
        """
        start = time.perf_counter()
        optimizer = optim_lib.get(optimizer)
        epochs = chk.integer(epochs, "epochs", 1)
        batch_size = chk.integer(batch_size, "batch_size", 1)
        window = chk.integer(shuffle_window, "shuffle_window", 1)
        chunk_rows = chk.integer(chunk_rows, "chunk_rows", 1)
        if early_stopping is not None:
            early_stopping = chk.integer(early_stopping, "early_stopping", 1)
        runner: Any
        if comm is not None:
            from . import distributed

            data = (X, y, validation_data, validation_split, sharded)
            runner = distributed.Epochs(self, data, comm, (batch_size, shuffle, evaluate_train), optimizer)
        else:
            X, y_all, validation_data = self._fit_data(X, y, validation_data, validation_split, chunk_rows)
            runner = _LocalEpochs(self, X, y_all, validation_data, (batch_size, window, shuffle, evaluate_train))
        if early_stopping is not None and not runner.validates:  # under comm, the ranks agree on it
            raise ValueError("early_stopping needs validation_data or validation_split")
        history = History()
        best = _BestEpoch(early_stopping)
        # small products: one BLAS thread (a second one does not pay there, and stalls on a busy machine)
        with threads.serial_blas_if_small(self.largest_product(min(batch_size, runner.n_rows))), runner:
            record = EpochRecord(self, track_dead_relu)
            for epoch in range(epochs):
                history.loss.append(runner.train_epoch(optimizer, record))
                history.lr.append(optimizer.lr)
                if self.non_finite_parameter():  # an update overflowed after the epoch's last finite loss
                    raise TrainingDiverged(self._diverged_message(f"after epoch {epoch + 1}", optimizer))
                history.train_accuracy.append(runner.train_accuracy(epoch, optimizer, record))
                validation = runner.validate()
                if validation is not None:
                    best.update(self, epoch, history, validation)
                if track_dead_relu:
                    history.dead_relu.append(record.dead_fractions())
                optimizer.epoch_end()
                if verbose and runner.prints:
                    print(_epoch_line(epoch, epochs, history))
                stop = runner.callbacks_stop(callbacks, epoch, history)
                history.stopped_early = best.exhausted()
                if stop or history.stopped_early:
                    break
            best.restore(self)
            runner.finish()
        history.seconds = time.perf_counter() - start
        return history

    def _fit_data(self, X: Any, y: Any, validation_data: Any, validation_split: Any, chunk_rows: int) -> tuple:
        """fit's data, validated once, whole: (X, targets, validation pair or None); a
        ``validation_split`` holds out the LAST rows. Out-of-core X comes back as its
        :class:`_stream.RowChunks` (targets None), validated window by window as it streams."""
        split = chk.number(validation_split, "validation_split", 0.0, 1.0, high_open=True)
        if _stream.is_out_of_core(X):
            return self._streamed_fit_data(X, y, validation_data, split, chunk_rows)
        X = self._inputs(X)
        y_all = self._targets(y, X.shape[0])
        if validation_data is None and split > 0:
            n_val = held_out_rows(X.shape[0], split)
            return X[:-n_val], y_all[:-n_val], (X[-n_val:], y_all[-n_val:])
        if validation_data is not None:  # validated before any step changes the model
            validation_data = self._validation_pair(validation_data, chunk_rows)
        return X, y_all, validation_data

    def _validation_pair(self, validation_data: Any, chunk_rows: int) -> tuple:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        X_val, y_val = validation_data
        if _stream.is_out_of_core(X_val):
            return (_stream.RowChunks(X_val, y_val, chunk_rows, self.n_inputs), None)
        X_val = self._inputs(X_val, "X_val")
        return (X_val, self.loss.targets(y_val, X_val.shape[0], self.n_outputs))

    def _streamed_fit_data(self, X: Any, y: Any, validation_data: Any, split: float, chunk_rows: int) -> tuple:
        source = _stream.RowChunks(X, y, chunk_rows, self.n_inputs)
        if validation_data is None and split > 0:
            n_val = held_out_rows(source.n_rows, split)
            source, held_out = source.head_tail(n_val)
            return source, None, (held_out, None)
        if validation_data is not None:
            validation_data = self._validation_pair(validation_data, chunk_rows)
        return source, None, validation_data

    def _train_streamed_epoch(
        self, source: Any, batch_size: int, optimizer: Any, record: Any, rng: Any, window: int
    ) -> float:
        """One epoch over out-of-core data, window by window (fastmlp/_stream.py); each window
        is validated as it arrives. A window's leftover rows open the next window's first batch,
        so the steps are those of an in-memory epoch over :func:`_stream.epoch_order`."""
        record.reset()
        total = 0.0
        rest_X = rest_t = np.empty(0)
        for chunks, perm in _stream.epoch_windows(source.sizes, window, rng):
            X_win, y_win = source.load(chunks)
            X_win = self._inputs(X_win)
            t_win = self._targets(y_win, X_win.shape[0])
            if perm is not None:
                X_win, t_win = X_win[perm], t_win[perm]
            if rest_X.shape[0]:
                X_win, t_win = np.concatenate([rest_X, X_win]), np.concatenate([rest_t, t_win])
            full = X_win.shape[0] - X_win.shape[0] % batch_size
            if full:
                total += self._train_rows(X_win, t_win, np.arange(full), batch_size, optimizer, record)
            # copies: a view of the leftover rows would keep the whole window alive into the next
            rest_X, rest_t = X_win[full:].copy(), t_win[full:].copy()
            del X_win, t_win, y_win
        if rest_X.shape[0]:
            total += self._train_rows(rest_X, rest_t, np.arange(rest_X.shape[0]), batch_size, optimizer, record)
        return total / source.n_rows

    def _train_epoch(
        self, X: np.ndarray, targets: np.ndarray, order: np.ndarray, batch_size: int, optimizer: Any, record: Any
    ) -> float:
        """One pass of steps over the rows in ``order``; the epoch's mean loss."""
        record.reset()
        return self._train_rows(X, targets, order, batch_size, optimizer, record) / X.shape[0]

    def _train_rows(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        order: np.ndarray,
        batch_size: int,
        optimizer: Any,
        record: EpochRecord | None = None,
        learning_rates: np.ndarray | None = None,
    ) -> float:
        """Training steps over the rows of ``order`` in batches of ``batch_size``; returns
        Σ (loss + penalty) · rows. ``learning_rates`` (one per batch) replaces the optimizer's
        ``lr0`` step by step (the scikit-learn adapter's schedules). X and targets were
        validated whole (fit, the adapter's fit): row subsets need no second look. One compiled
        call where the compiled path takes the model, else one layered step per batch."""
        rows = min(batch_size, order.shape[0])
        batches = -(-order.shape[0] // batch_size)
        plan = self._compiled(optimizer, rows) if type(X) is np.ndarray else None  # sparse X: layered
        if plan is not None:
            lrs = np.full(batches, optimizer.lr) if learning_rates is None else learning_rates
            done, total, bad = plan.run(X, targets, order, rows, lrs, record)
            if learning_rates is not None:
                optimizer.lr0 = float(learning_rates[done - 1 if done else 0])
            if done < batches:
                raise TrainingDiverged(self._diverged_message(f"loss is {bad} at step {self.steps}", optimizer))
            return total
        total = 0.0
        for k in range(batches):
            idx = order[k * batch_size : (k + 1) * batch_size]
            if learning_rates is not None:
                optimizer.lr0 = float(learning_rates[k])
            total += self._train_batch(X[idx], targets[idx], optimizer, record) * len(idx)
        return total

    def _train_loss(self, X: Any, targets: np.ndarray, seed: int, backend: str) -> tuple[Any, float, Any]:
        """A training pass's forward and loss through the layers' bound drivers: (scores, data
        loss, dscores). X and targets validated by the caller (fit, train_step, the adapters)."""
        scores = X
        for layer in self.layers:
            scores = layer._train_forward(scores, seed, backend)
        data_loss, dscores = self.loss._train(scores, targets, backend, self._dscores_buffer(scores))
        return scores, data_loss, dscores

    def _train_gradients(self, dscores: Any, backend: str) -> None:
        """Every parameter's gradient from :meth:`_train_loss`'s dscores (no input gradient)."""
        self._backprop(dscores, False, lambda layer, grad, need_dx: layer._train_backward(grad, need_dx, backend))

    def _evaluate_training_set(self, X: np.ndarray, targets: np.ndarray, epoch: int, optimizer: Any) -> float:
        """Accuracy (R² for regression) of the model on the whole training set, after an epoch."""
        with np.errstate(over="ignore", invalid="ignore"):
            train_eval = self.evaluate(X, targets)
        return self._training_accuracy(train_eval, epoch, optimizer)

    def _training_accuracy(self, train_eval: dict[str, float], epoch: int, optimizer: Any) -> float:
        """The accuracy (R²) of an evaluation of the training set; a non-finite loss there means
        the epoch diverged."""
        if not np.isfinite(train_eval["loss"]):
            what = f"after epoch {epoch + 1} the loss on the training data is {train_eval['loss']}"
            raise TrainingDiverged(self._diverged_message(what, optimizer))
        return train_eval.get("accuracy", train_eval.get("r2", float("nan")))

    def largest_product(self, rows: int) -> int:
        """Multiply-adds of the largest matrix product a training step on ``rows`` rows makes."""
        sizes = [p.value.shape[0] * p.value.shape[1] for p in self.parameters() if p.value.ndim == 2]
        return rows * max(sizes, default=0)

    # ----- state, checks ----------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed ``"<layer index>.<name>"``."""
        state = {}
        for i, layer in enumerate(self.layers):
            for p in layer.params:
                state[f"{i}.{p.name}"] = p.value.copy()
            for name, buf in layer.buffers.items():
                state[f"{i}.{name}"] = buf.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Copy values into the parameters and buffers (shapes and dtypes must match).

        Raises
        ------
        ValueError
            A key is missing or a shape/dtype differs.
        """
        for i, layer in enumerate(self.layers):
            targets = {p.name: p.value for p in layer.params} | dict(layer.buffers)
            for name, arr in targets.items():
                key = f"{i}.{name}"
                if key not in state:
                    raise ValueError(f"state has no entry {key!r}")
                src = np.asarray(state[key])
                if src.shape != arr.shape or src.dtype != arr.dtype:
                    raise ValueError(f"state[{key!r}] is {src.dtype}{src.shape}, expected {arr.dtype}{arr.shape}")
                arr[...] = src

    def gradient_check(
        self, X: Any, y: Any, eps: float = 1e-5, weight_decay: float = 0.0, max_checks: int = 20, seed: int = 0
    ) -> dict[str, float]:
        """Finite differences vs backprop: the largest relative error per parameter array.

        Uses training mode with a fixed dropout key (the counter RNG makes the masks repeat),
        restores every parameter and buffer afterwards. Run it on a float64 model: float32
        rounding alone gives relative errors around 1e-2.

        Returns
        -------
        dict
            ``"<layer index>.<name>"`` → max |analytic − numeric| / max(|analytic| + |numeric|, 1e-8)
        """
        X = self._inputs(X)
        saved = self.get_state()
        key = step_seed(self.seed, self.steps)
        rng = np.random.default_rng(seed)

        def loss_at() -> float:
            self.set_state({**self.get_state(), **{k: v for k, v in saved.items() if "running" in k}})
            return self.loss_and_grads(X, y, weight_decay, key)

        loss_at()
        analytic = {f"{i}.{p.name}": np.array(p.grad) for i, layer in enumerate(self.layers) for p in layer.params}
        errors: dict[str, float] = {}
        for i, layer in enumerate(self.layers):
            for p in layer.params:
                name = f"{i}.{p.name}"
                flat = p.value.reshape(-1)
                picks = rng.choice(flat.size, size=min(max_checks, flat.size), replace=False)
                worst = 0.0
                for j in picks:
                    old = flat[j]
                    flat[j] = old + eps
                    up = loss_at()
                    flat[j] = old - eps
                    down = loss_at()
                    flat[j] = old
                    numeric = (up - down) / (2 * eps)
                    got = float(analytic[name].reshape(-1)[j])
                    # the floor keeps exactly-zero gradients (a bias before batch norm) from dividing noise by noise
                    worst = max(worst, abs(got - numeric) / max(abs(got) + abs(numeric), 1e-8))
                errors[name] = worst
        self.set_state(saved)
        return errors

    def save(self, path: Any) -> None:
        """Write the model to ``path`` (.npz of arrays + JSON metadata; no pickle)."""
        from .io import save

        save(self, path)

    def copy(self) -> Sequential:
        """An independent deep copy."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n], loss={self.loss.name!r}, seed={self.seed})"
