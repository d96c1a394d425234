"""Losses for models: data loss (mean over rows) + gradient, prediction and probabilities.

Classification losses take integer labels in [0, C); multi-label losses take (N, C) targets;
regression losses take real targets (poisson: non-negative). All but hierarchical softmax and
poisson are single fused ops.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np

from . import ops
from .ops import _checks as chk
from .ops._dispatch import kernel


class Loss(abc.ABC):
    """Base class. ``kind`` is "classification", "multilabel" or "regression"."""

    kind = "classification"
    name = ""

    def n_outputs(self, n_classes: int) -> int:
        """Width of the score layer for ``n_classes`` classes (or outputs)."""
        return n_classes

    @abc.abstractmethod
    def __call__(
        self, scores: np.ndarray, y: Any, backend: str | None = None, out: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """``(loss, dscores)`` for a batch; ``out`` is an optional dscores buffer (losses that
        can write into one do; the others ignore it)."""

    def _train(self, scores: Any, targets: np.ndarray, backend: str, out: np.ndarray | None) -> tuple[float, Any]:
        """The loss of a model's training step: ``targets`` validated by :meth:`targets` (the
        model did, once per fit or train_step), ``scores`` the model's own output. Losses that
        are one op call its driver on ``backend`` directly (no second look at the labels);
        the others run as :meth:`__call__`."""
        op = self._op(scores)
        if op is None:
            return self(scores, targets, backend, out)
        name, args = op
        if targets.ndim == 2 and targets.dtype != scores.dtype:  # the ops would cast: let them
            return self(scores, targets, backend, out)
        if name == "softmax_cross_entropy":
            return kernel(name, backend)(scores, targets, out=out)
        return kernel(name, backend)(scores, targets, *args)

    def _op(self, scores: Any) -> tuple[str, tuple] | None:
        """(op name, extra arguments) when this loss is one op on NumPy scores, else None."""
        return None

    def targets(self, y: Any, n_rows: int, n_out: int) -> np.ndarray:
        """Validated targets for ``n_rows`` rows and a score layer of width ``n_out``."""
        return chk.labels(y, n_rows, self.n_classes(n_out))

    def n_classes(self, n_out: int) -> int:
        """Number of classes a score layer of width ``n_out`` encodes."""
        return n_out

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """Predicted labels (classification), 0/1 matrix (multi-label) or values (regression)."""
        return np.asarray(scores).argmax(axis=1)

    def proba(self, scores: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C)."""
        raise TypeError(f"loss {self.name!r} does not define probabilities")

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {}

    def row_losses(self, scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Each row's loss (float64, N): the terms whose mean the loss is. ``targets`` as
        :meth:`targets` returns them. For :class:`SampleWeighted`; not every loss defines it."""
        raise TypeError(f"loss {self.name!r} does not define per-row losses (sample weights)")


class SoftmaxCrossEntropy(Loss):
    """Softmax classifier: ``-log softmax(f)_{y}``."""

    name = "softmax"

    def _op(self, scores):
        return ("softmax_cross_entropy", ()) if type(scores) is np.ndarray else None

    def __call__(self, scores, y, backend=None, out=None):
        """Fused softmax + cross-entropy + dscores."""
        return ops.softmax_cross_entropy(scores, y, out=out, backend=backend)

    def row_losses(self, scores, targets):
        """log Σ exp(f) - f_y per row."""
        s = np.asarray(scores, dtype=np.float64)
        top = s.max(axis=1)
        return top + np.log(np.exp(s - top[:, None]).sum(axis=1)) - s[np.arange(s.shape[0]), targets]

    def proba(self, scores):
        """Softmax of the scores."""
        s = np.asarray(scores, dtype=np.float64)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


class MulticlassSVM(Loss):
    """Weston-Watkins multiclass hinge ``sum_{j != y} max(0, f_j - f_y + margin)`` (``squared``: ^2).

    Parameters
    ----------
    margin : float, default 1
    squared : bool, default False
    """

    def __init__(self, margin: float = 1.0, squared: bool = False) -> None:
        self.margin, self.squared = float(margin), bool(squared)
        self.name = "squared_hinge" if squared else "svm"

    def _op(self, scores):
        return ("svm_loss", (self.margin, self.squared)) if type(scores) is np.ndarray else None

    def row_losses(self, scores, targets):
        """Σ_{j != y} max(0, f_j - f_y + margin) (squared: its square) per row."""
        s = np.asarray(scores, dtype=np.float64)
        rows = np.arange(s.shape[0])
        hinge = np.maximum(0.0, s - s[rows, targets][:, None] + self.margin)
        hinge[rows, targets] = 0.0
        return (hinge**2 if self.squared else hinge).sum(axis=1)

    def __call__(self, scores, y, backend=None, out=None):
        """Fused hinge loss and dscores."""
        return ops.svm_loss(scores, y, self.margin, self.squared, backend=backend)

    def config(self):
        """Constructor arguments."""
        return {"margin": self.margin, "squared": self.squared}


class SigmoidCrossEntropy(Loss):
    """Multi-label: an independent logistic classifier per attribute, targets in {0, 1}."""

    kind = "multilabel"
    name = "sigmoid"

    def _op(self, scores):
        return ("sigmoid_cross_entropy", ()) if type(scores) is np.ndarray else None

    def __call__(self, scores, y, backend=None, out=None):
        """Binary cross-entropy summed over attributes."""
        return ops.sigmoid_cross_entropy(scores, y, backend=backend)

    def row_losses(self, scores, targets):
        """Σ_j softplus(f_j) - y_j f_j per row."""
        s = np.asarray(scores, dtype=np.float64)
        return (np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s))) - np.asarray(targets, np.float64) * s).sum(axis=1)

    def targets(self, y, n_rows, n_out):
        """(N, C) targets in [0, 1]."""
        return _matrix_targets(y, n_rows, n_out)

    def predict(self, scores):
        """1 where the attribute's probability exceeds 1/2."""
        return (np.asarray(scores) > 0).astype(np.int64)

    def proba(self, scores):
        """Per-attribute probabilities."""
        s = np.asarray(scores, dtype=np.float64)
        return np.where(s >= 0, 1 / (1 + np.exp(-np.abs(s))), np.exp(-np.abs(s)) / (1 + np.exp(-np.abs(s))))


class AttributeHinge(Loss):
    """Multi-label hinge ``sum_j max(0, 1 - y_ij f_j)``; targets ±1 (0/1 targets are mapped to ∓1)."""

    kind = "multilabel"
    name = "attribute_hinge"

    def _op(self, scores):
        return ("attribute_hinge_loss", ()) if type(scores) is np.ndarray else None

    def __call__(self, scores, y, backend=None, out=None):
        """Hinge per attribute."""
        return ops.attribute_hinge_loss(scores, y, backend=backend)

    def row_losses(self, scores, targets):
        """Σ_j max(0, 1 - y_j f_j) per row (targets ±1, as :meth:`targets` returns them)."""
        s = np.asarray(scores, dtype=np.float64)
        return np.maximum(0.0, 1.0 - np.asarray(targets, np.float64) * s).sum(axis=1)

    def targets(self, y, n_rows, n_out):
        """(N, C) targets in {-1, +1}; {0, 1} targets are accepted and mapped."""
        t = _matrix_targets(y, n_rows, n_out, unit_interval=False)
        if np.all((t == 0) | (t == 1)):
            t = 2 * t - 1
        if not chk.all_plus_minus_one(t):
            raise ValueError("targets must be -1 or +1 for attribute_hinge_loss")
        return t

    def predict(self, scores):
        """1 where the score is positive."""
        return (np.asarray(scores) > 0).astype(np.int64)


class L2Regression(Loss):
    """``||f - y||^2`` per row."""

    kind = "regression"
    name = "l2"

    def _op(self, scores):
        return ("l2_loss", ()) if type(scores) is np.ndarray else None

    def __call__(self, scores, y, backend=None, out=None):
        """Squared error."""
        return ops.l2_loss(scores, y, backend=backend)

    def row_losses(self, scores, targets):
        """Σ_j (f_j - y_j)² per row."""
        return ((np.asarray(scores, np.float64) - np.asarray(targets, np.float64)) ** 2).sum(axis=1)

    def targets(self, y, n_rows, n_out):
        """(N, K) real targets."""
        return _matrix_targets(y, n_rows, n_out, unit_interval=False)

    def predict(self, scores):
        """The scores are the predictions."""
        return np.asarray(scores)


class L1Regression(L2Regression):
    """``sum_j |f_j - y_j|`` per row."""

    name = "l1"

    def _op(self, scores):
        return ("l1_loss", ()) if type(scores) is np.ndarray else None

    def __call__(self, scores, y, backend=None, out=None):
        """Absolute error."""
        return ops.l1_loss(scores, y, backend=backend)

    def row_losses(self, scores, targets):
        """Σ_j |f_j - y_j| per row."""
        return np.abs(np.asarray(scores, np.float64) - np.asarray(targets, np.float64)).sum(axis=1)


class PoissonRegression(Loss):
    """Poisson regression with a log link: the scores are log-means, ``mu = exp(f)``. Per row
    ``sum_j mu_j - y_j f_j + y_j log y_j - y_j`` (half the Poisson deviance: 0 where mu = y,
    scikit-learn's ``loss="poisson"``), mean over rows; gradient ``(mu - y) / N``. Targets are
    counts or rates, >= 0.

    NumPy only (no fused op): three elementwise passes over the (N, K) scores, small against a
    step's GEMMs. A score above ~709 (float64) overflows exp: the loss is then inf and training
    stops with :class:`fastmlp.TrainingDiverged`.
    """

    kind = "regression"
    name = "poisson"

    def __call__(self, scores, y, backend=None, out=None):
        """Half Poisson deviance and its gradient with respect to the log-means."""
        scores = chk.batch(scores, "scores")
        return self._value(scores, self.targets(y, scores.shape[0], scores.shape[1]))

    def _train(self, scores, targets, backend, out):
        """A training step's loss: targets validated once per fit by :meth:`targets`."""
        return self._value(scores, targets)

    @staticmethod
    def _value(scores: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
        f = np.asarray(scores, dtype=np.float64)
        y = np.asarray(targets, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            mu = np.exp(f)
            loss = float(PoissonRegression._terms(f, y, mu).sum() / f.shape[0])
            dscores = ((mu - y) / f.shape[0]).astype(scores.dtype)
        return loss, dscores

    @staticmethod
    def _terms(f: np.ndarray, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """mu - y f + y log y - y elementwise (mu = exp(f))."""
        constant = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)) - y, 0.0)
        return mu - y * f + constant

    def row_losses(self, scores, targets):
        """Σ_j exp(f_j) - y_j f_j + y_j log y_j - y_j per row."""
        f = np.asarray(scores, np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._terms(f, np.asarray(targets, np.float64), np.exp(f)).sum(axis=1)

    def targets(self, y, n_rows, n_out):
        """(N, K) non-negative real targets."""
        t = _matrix_targets(y, n_rows, n_out, unit_interval=False)
        if t.size and float(t.min()) < 0:
            raise ValueError(f"poisson targets must be >= 0, got {float(t.min())}")
        return t

    def predict(self, scores):
        """The means exp(f)."""
        with np.errstate(over="ignore"):
            return np.exp(np.asarray(scores))


class SampleWeighted(Loss):
    """``base`` with a weight per row: ``Σ w_i l_i / Σ w_i`` over a batch, gradient rows
    ``w_i ∂l_i / Σ w_i`` (scikit-learn's ``sample_weight``; integer weights equal repeating rows).

    Targets travel with their weights: :meth:`pack` appends the weights to the base's targets as a
    last column (labels become a float column first), so row subsets of the packed array keep
    each row's weight. A batch whose weights sum to 0 contributes no gradient and a loss of 0.
    NumPy only: the base's fused op computes the gradient, :meth:`Loss.row_losses` the value.
    """

    def __init__(self, base: Loss) -> None:
        self.base = base
        self.kind = base.kind
        self.name = f"weighted {base.name}"  # not the base's: the compiled path must not take it

    @staticmethod
    def pack(targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The base's targets (labels (N,) or (N, K)) and weights (N,) as one (N, K + 1) array."""
        column = targets.reshape(targets.shape[0], -1).astype(np.float64)
        return np.column_stack([column, np.asarray(weights, np.float64)])

    def _unpack(self, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = packed[:, :-1]
        if self.base.kind == "classification":
            t = t[:, 0].astype(np.int64)
        return t, packed[:, -1]

    def targets(self, y, n_rows, n_out):
        """Packed targets: the base validates its part; weights finite and >= 0."""
        packed = chk.as_array(y, "y", 2)
        targets, weights = self._unpack(packed)
        if not np.all(np.isfinite(weights)) or (weights.size and float(weights.min()) < 0):
            raise ValueError("sample weights must be finite and >= 0")
        checked = self.base.targets(targets, n_rows, n_out)
        return self.pack(checked, weights)

    def __call__(self, scores, y, backend=None, out=None):
        """Weighted loss and gradient of a batch."""
        scores = chk.batch(scores, "scores")
        return self._train(scores, self.targets(y, scores.shape[0], scores.shape[1]), backend, out)

    def _train(self, scores, targets, backend, out):
        """A training step's loss: the packed targets validated once per fit by :meth:`targets`."""
        t, w = self._unpack(targets)
        if t.ndim == 2:
            t = np.ascontiguousarray(t, dtype=scores.dtype)
        total = float(w.sum())
        _, dscores = self.base._train(scores, t, backend, None)  # mean gradient: row i is ∂l_i / N
        if total == 0.0:
            return 0.0, np.zeros_like(dscores)
        with np.errstate(over="ignore", invalid="ignore"):
            dscores = dscores * (w * (scores.shape[0] / total)).astype(dscores.dtype)[:, None]
            loss = float((w * self.base.row_losses(scores, t)).sum() / total)
        return loss, dscores

    def n_outputs(self, n_classes):
        """The base's."""
        return self.base.n_outputs(n_classes)

    def n_classes(self, n_out):
        """The base's."""
        return self.base.n_classes(n_out)

    def predict(self, scores):
        """The base's."""
        return self.base.predict(scores)

    def proba(self, scores):
        """The base's."""
        return self.base.proba(scores)


def _matrix_targets(y: Any, n_rows: int, n_out: int, unit_interval: bool = True) -> np.ndarray:
    t = chk.as_array(y, "y", (1, 2))
    if t.ndim == 1:
        t = t[:, None]
    if t.shape != (n_rows, n_out):
        raise ValueError(f"y has shape {np.shape(y)} but the model outputs ({n_rows}, {n_out})")
    chk.finite(t, "y")
    if unit_interval:
        lo, hi = chk.value_range(t)
        if lo < 0 or hi > 1:
            raise ValueError("targets must lie in [0, 1] for sigmoid_cross_entropy")
    return np.ascontiguousarray(t)


class HierarchicalSoftmax(Loss):
    """Hierarchical softmax: classes are leaves of a binary tree, each internal node a logistic
    classifier; ``P(class) = prod over its path of sigmoid(±f_node)`` (right = +, left = -).

    The score layer has one output per internal node (C - 1 of them). Loss per row is
    ``sum over the path of softplus(-d f_node)``: O(log C) work for a balanced tree.

    Parameters
    ----------
    n_classes : int >= 2
    tree : nested 2-tuples of class indices, optional
        E.g. ``((0, 1), (2, (3, 4)))``; every class exactly once. Default: a balanced tree.
    """

    name = "hierarchical_softmax"

    def __init__(self, n_classes: int, tree: Any = None) -> None:
        n_classes = chk.integer(n_classes, "n_classes", 2)
        self.n_classes_ = n_classes
        self.tree = _balanced(list(range(n_classes))) if tree is None else _as_tree(tree)
        leaves = sorted(_leaves(self.tree))
        if leaves != list(range(n_classes)):
            raise ValueError(f"tree must hold each class 0..{n_classes - 1} exactly once, got leaves {leaves}")
        paths: list[list[tuple[int, int]]] = [[] for _ in range(n_classes)]
        counter = [0]

        def walk(node: Any, prefix: list[tuple[int, int]]) -> None:
            if isinstance(node, int):
                paths[node] = prefix
                return
            index = counter[0]
            counter[0] += 1
            walk(node[0], [*prefix, (index, -1)])
            walk(node[1], [*prefix, (index, +1)])

        walk(self.tree, [])
        depth = max(len(p) for p in paths)
        self.nodes = np.zeros((n_classes, depth), dtype=np.int64)
        self.signs = np.zeros((n_classes, depth))
        for c, path in enumerate(paths):
            for d, (node, sign) in enumerate(path):
                self.nodes[c, d], self.signs[c, d] = node, sign

    def n_outputs(self, n_classes):
        """C - 1 internal nodes."""
        return n_classes - 1

    def n_classes(self, n_out):
        """C = internal nodes + 1."""
        return n_out + 1

    def __call__(self, scores, y, backend=None, out=None):
        """Loss summed along each row's path, mean over rows; gradient on the path's nodes only."""
        scores = chk.batch(scores, "scores")
        n = scores.shape[0]
        if scores.shape[1] != self.n_classes_ - 1:
            raise ValueError(f"scores has {scores.shape[1]} columns but the tree has {self.n_classes_ - 1} nodes")
        y = chk.labels(y, n, self.n_classes_)
        nodes, signs = self.nodes[y], self.signs[y]  # (N, depth); sign 0 pads short paths
        z = -signs * scores[np.arange(n)[:, None], nodes].astype(np.float64)
        softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
        loss = float((softplus * (signs != 0)).sum() / n)
        sig = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        dscores = np.zeros(scores.shape, dtype=np.float64)
        np.add.at(dscores, (np.repeat(np.arange(n), nodes.shape[1]), nodes.ravel()), (-signs * sig / n).ravel())
        return loss, dscores.astype(scores.dtype)

    def row_losses(self, scores, targets):
        """-log P(y) per row: the softplus terms along y's path."""
        return -self.log_proba(scores)[np.arange(np.asarray(scores).shape[0]), targets]

    def log_proba(self, scores: np.ndarray) -> np.ndarray:
        """log P(class) for every class (N, C)."""
        s = np.asarray(scores, dtype=np.float64)[:, self.nodes]  # (N, C, depth)
        z = self.signs * s
        log_sig = -(np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z))))
        return (log_sig * (self.signs != 0)).sum(axis=2)

    def proba(self, scores):
        """Class probabilities (they sum to 1 over the leaves)."""
        return np.exp(self.log_proba(scores))

    def predict(self, scores):
        """Most probable leaf."""
        return self.log_proba(scores).argmax(axis=1)

    def config(self):
        """Constructor arguments."""
        return {"n_classes": self.n_classes_, "tree": _to_lists(self.tree)}


def _balanced(classes: list[int]) -> Any:
    if len(classes) == 1:
        return classes[0]
    mid = len(classes) // 2
    return (_balanced(classes[:mid]), _balanced(classes[mid:]))


def _as_tree(tree: Any) -> Any:
    if isinstance(tree, (int, np.integer)) and not isinstance(tree, bool):
        return int(tree)
    if isinstance(tree, (tuple, list)) and len(tree) == 2:
        return (_as_tree(tree[0]), _as_tree(tree[1]))
    raise ValueError(f"tree nodes must be class indices or pairs, got {tree!r}")


def _leaves(tree: Any) -> list[int]:
    return [tree] if isinstance(tree, int) else _leaves(tree[0]) + _leaves(tree[1])


def _to_lists(tree: Any) -> Any:
    return tree if isinstance(tree, int) else [_to_lists(tree[0]), _to_lists(tree[1])]


LOSSES: dict[str, Callable[[], Loss]] = {
    "softmax": SoftmaxCrossEntropy,
    "svm": MulticlassSVM,
    "squared_hinge": lambda: MulticlassSVM(squared=True),
    "sigmoid": SigmoidCrossEntropy,
    "attribute_hinge": AttributeHinge,
    "l2": L2Regression,
    "l1": L1Regression,
    "poisson": PoissonRegression,
}
NAMES = (*LOSSES, "hierarchical_softmax")


def get(loss: Any, n_classes: int | None = None) -> Loss:
    """A loss by name (``hierarchical_softmax`` needs ``n_classes``), or a :class:`Loss` as is.

    Parameters
    ----------
    loss : str or Loss
        One of ``NAMES`` ("softmax", "svm", "squared_hinge", "sigmoid", "attribute_hinge", "l2",
        "l1", "poisson", "hierarchical_softmax"), built with default options; a :class:`Loss` instance is
        returned unchanged.
    n_classes : int >= 2, optional
        Number of classes; required by (and only used for) ``hierarchical_softmax``, which then
        gets a balanced tree.

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        Unknown name; ``hierarchical_softmax`` without ``n_classes`` or with fewer than 2.
    TypeError
        ``hierarchical_softmax`` with a non-integer ``n_classes``.
    """
    if isinstance(loss, Loss):
        return loss
    if loss == "hierarchical_softmax":
        if n_classes is None:
            raise ValueError("hierarchical_softmax needs the number of classes")
        return HierarchicalSoftmax(n_classes)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {NAMES} or a Loss, got {loss!r}")
    return LOSSES[loss]()


def from_config(name: str, config: dict[str, Any]) -> Loss:
    """Rebuild a loss saved by :meth:`Loss.config`.

    Parameters
    ----------
    name : str
        The loss's ``name`` attribute (one of ``NAMES``).
    config : dict
        Its :meth:`Loss.config`: ``n_classes`` and ``tree`` for ``hierarchical_softmax``; for
        ``svm``/``squared_hinge`` the keyword arguments of :class:`MulticlassSVM` (``margin``,
        ``squared``: the saved ``squared`` decides between the two); ignored for the other
        losses, which take no options.

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        Unknown name; for ``hierarchical_softmax``, n_classes < 2 or a tree that does not hold
        each class exactly once.
    KeyError
        ``hierarchical_softmax`` without ``n_classes`` or ``tree`` in config.
    """
    if name == "hierarchical_softmax":
        return HierarchicalSoftmax(config["n_classes"], config["tree"])
    if name in ("svm", "squared_hinge"):
        return MulticlassSVM(**config)
    return get(name)
