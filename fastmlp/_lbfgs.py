"""Full-batch L-BFGS for a Sequential model (scikit-learn's ``solver="lbfgs"``): SciPy's L-BFGS-B
drives, fastmlp's kernels compute the loss and its gradient over the whole training set.

The objective is scikit-learn's: ``scale · data loss + ½ alpha ‖W‖² / N`` over the weight
matrices (biases are not penalised), its gradient ``scale · ∂data + alpha W / N``; with sample
weights (the model's loss a ``losses.SampleWeighted``) N is the weights' sum. ``scale``
turns fastmlp's loss into the estimator's (½ for scikit-learn's squared error).

SciPy owns the float64 point it evaluates; each evaluation copies it into the model's parameters
(cast to the model's dtype) and gathers the gradient into one preallocated flat float64 buffer:
no array is allocated per evaluation besides the layers' own reused workspaces and the copy of the
gradient SciPy keeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize

from . import backends
from .model import Sequential


class WholeSetObjective:
    """Loss and gradient of ``model`` on (X, targets) as a function of one flat parameter vector.

    X and targets are the fit's validated arrays (``Sequential._inputs``/``_targets``): they are
    trusted here. Dropout masks and batch statistics are those of training mode with one fixed key,
    so the function L-BFGS sees is deterministic.
    """

    def __init__(
        self, model: Sequential, X: np.ndarray, targets: np.ndarray, alpha: float, scale: float, total_weight: float
    ) -> None:
        self.model, self.X, self.targets = model, X, targets
        self.alpha, self.scale = float(alpha), float(scale)
        self.total_weight = float(total_weight)  # N, or the sample weights' sum: the penalty's divisor
        self.params = model.parameters()
        bounds = np.cumsum([0] + [p.value.size for p in self.params])
        self.spans = list(itertools.pairwise(bounds))
        self.grad = np.empty(int(bounds[-1]))
        self.key = model.seed
        self.backend = model.backend or backends.get_backend()
        self.evaluations = 0

    def start(self) -> np.ndarray:
        """The model's current parameters as one float64 vector (W0, b0, W1, ...)."""
        return np.concatenate([p.value.ravel() for p in self.params]).astype(np.float64)

    def load(self, theta: np.ndarray) -> None:
        """Copies ``theta`` into the model's parameters (in place, cast to their dtype)."""
        for p, (lo, hi) in zip(self.params, self.spans, strict=True):
            np.copyto(p.value.reshape(-1), theta[lo:hi], casting="unsafe")

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        self.load(theta)
        model = self.model
        with np.errstate(over="ignore", invalid="ignore"):  # an infinite value is returned as inf below
            _, data, dscores = model._train_loss(self.X, self.targets, self.key, self.backend)
            model._train_gradients(dscores, self.backend)
        squares = 0.0
        decay = self.alpha / self.total_weight if self.total_weight > 0 else 0.0
        for p, (lo, hi) in zip(self.params, self.spans, strict=True):
            g = self.grad[lo:hi]
            assert p.grad is not None  # backward filled every parameter's gradient
            np.multiply(p.grad.reshape(-1), self.scale, out=g)
            if p.regularized and self.alpha:
                w = theta[lo:hi]
                squares += float(np.dot(w, w))
                g += decay * w
        value = self.scale * float(data) + 0.5 * decay * squares
        if not np.isfinite(value):  # L-BFGS-B's line search backs off from an infinite value
            return float("inf"), self.grad.copy()
        return value, self.grad.copy()


def minimize(
    objective: WholeSetObjective,
    max_iter: int,
    max_fun: int,
    tol: float,
    callback: Callable[[Any], None] | None = None,
) -> scipy.optimize.OptimizeResult:
    """Runs L-BFGS-B from the model's parameters (at most ``max_iter`` iterations and
    ``max_fun`` evaluations, projected gradient ``tol``) and leaves the model at its result."""
    result = scipy.optimize.minimize(
        objective,
        objective.start(),
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    objective.load(result.x)
    return result
