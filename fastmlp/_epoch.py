"""What ``fit`` records about an epoch from the training steps themselves, so that no extra pass
over the training data is needed: the running accuracy (or R²) of the batches' scores, and which
ReLU units fired on some training row."""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers import Dense, ReLU
from .ops._dispatch import kernel


def relu_layers(layers: list[Any]) -> list[int]:
    """Indices of the layers whose output is a ReLU's: ReLU layers and Dense(activation="relu")."""
    return [
        i
        for i, layer in enumerate(layers)
        if isinstance(layer, ReLU) or (isinstance(layer, Dense) and layer.activation == "relu")
    ]


def _training_output(layer: Any) -> Any:
    """The output the layer's last training forward kept for its backward pass."""
    return layer._y if isinstance(layer, ReLU) else layer._out


class EpochRecord:
    """Accumulates, step by step, the epoch's training accuracy and fired ReLU units.

    The accuracy is that of the scores each step computed (in training mode: with dropout, and
    with the parameters as they were at that step), as Keras reports it; ``fit(...,
    evaluate_train=True)`` measures the finished epoch's model on the whole training set instead.
    A unit counts as fired when its training output was positive on some row of the epoch (a
    unit dropped out on every row where it would fire counts as dead: with dropout and more than
    a handful of rows, vanishingly rare).
    """

    def __init__(self, model: Any, track_dead_relu: bool) -> None:
        self.model, self.kind = model, model.loss.kind
        self.relu = relu_layers(model.layers) if track_dead_relu else []
        self.usable = True  # False once a step's scores are not NumPy (device arrays)
        self.stats = np.zeros(4)  # rows, hits, elements, Σ squared residuals
        self.target_sum, self.target_squares = np.zeros(model.n_outputs), np.zeros(model.n_outputs)
        # one flat array of flags, each ReLU layer's at its offset (the compiled path fills it)
        widths = [model.layers[i].n_out or 0 for i in self.relu]
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self.fired_flags = np.zeros(int(starts[-1]) or 1, dtype=bool)
        self.fired_offsets = {i: int(starts[k]) for k, i in enumerate(self.relu)}
        self.fired = {i: self.fired_flags[starts[k] : starts[k + 1]] for k, i in enumerate(self.relu)}
        self.reset()

    def reset(self) -> None:
        """Start a new epoch. The arrays are zeroed in place: the compiled training path
        (fastmlp/_plan.py) holds them and adds to them itself."""
        self.stats[:] = 0.0
        self.target_sum[:] = 0.0
        self.target_squares[:] = 0.0
        for fired in self.fired.values():
            fired[:] = False

    def record(self, scores: Any, targets: np.ndarray) -> None:
        """One step's scores (before the update) and the batch's validated targets."""
        for i in self.relu:
            out = _training_output(self.model.layers[i])
            if self.fired[i].size != out.shape[1]:  # a ReLU layer learns its width from its input
                self.fired[i] = np.zeros(out.shape[1], dtype=bool)
            # the driver, not the door: out is the layer's own C-contiguous training output and
            # fired this record's own C-contiguous flags of its width (what the door would check)
            kernel("dead_relu_fraction", self.model.backend, out)(out, self.fired[i])
        if type(scores) is not np.ndarray:
            self.usable = False
            return
        pred = self.model.loss.predict(scores)
        stats = self.stats
        stats[0] += scores.shape[0]
        if self.kind == "classification":
            stats[1] += np.count_nonzero(pred == targets)
        elif self.kind == "multilabel":
            stats[1] += np.count_nonzero(pred == (targets > 0))
            stats[2] += targets.size
        else:
            t = np.asarray(targets, dtype=np.float64)
            stats[3] += float(((pred - t) ** 2).sum())
            self.target_sum += t.sum(axis=0)
            self.target_squares += (t**2).sum(axis=0)

    def accuracy(self) -> float:
        """Accuracy over the epoch's rows (per element for multi-label; R² for regression)."""
        rows, hits, elements, residual = (float(v) for v in self.stats)
        if self.kind == "classification":
            return hits / rows
        if self.kind == "multilabel":
            return hits / elements
        total = float(np.sum(self.target_squares - np.square(self.target_sum) / rows))
        return 1.0 - residual / total if total > 0 else 0.0

    def dead_fractions(self) -> list[float]:
        """Per ReLU layer, the fraction of its units that fired on no training row of the epoch."""
        return [float(1.0 - self.fired[i].mean()) if self.fired[i].size else 0.0 for i in self.relu]
