"""Losses: each returns ``(loss, dscores)``, the mean over the N rows and its gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks as chk
from ._dispatch import buffers, kernel


def _scores_labels(scores: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    scores = chk.contiguous(chk.batch(scores, "scores"))
    return scores, chk.labels(y, scores.shape[0], scores.shape[1])


def _scores_targets(scores: Any, targets: Any, name: str = "targets", scores_name: str = "scores") -> list[np.ndarray]:
    scores = chk.batch(scores, scores_name, ndim=2)
    targets = chk.as_array(targets, name, 2)
    chk.same_shape(targets, scores, name, scores_name)
    chk.finite(targets, name)
    return chk.common(scores, targets)


@buffers("out")
def softmax_cross_entropy(scores: Any, y: Any, *, out: np.ndarray | None = None, backend: str | None = None) -> tuple:
    """Softmax cross-entropy ``L_i = -log(e^{f_{y_i}} / sum_j e^{f_j})``, max-shifted.

    Parameters
    ----------
    scores : array (N, C)
    y : int array (N,), labels in [0, C)
    out : ndarray (N, C), optional
        Buffer for dscores: no allocation.

    Returns
    -------
    loss : float
        Mean over rows.
    dscores : ndarray (N, C)
        ``(softmax - onehot(y)) / N`` (``out`` when given).

    Raises
    ------
    ValueError
        Labels out of range, negative or non-integer; shape mismatch; empty batch.
    """
    scores, y = _scores_labels(scores, y)
    buffer = None if out is None else chk.out_array(out, scores.shape, scores.dtype)
    if buffer is not None:
        chk.separate((buffer,), (scores, y), "out, scores, y")
    return kernel("softmax_cross_entropy", backend, scores, y)(scores, y, out=buffer)


def svm_loss(scores: Any, y: Any, margin: float = 1.0, squared: bool = False, *, backend: str | None = None) -> tuple:
    """Multiclass SVM (Weston-Watkins): ``L_i = sum_{j != y_i} max(0, f_j - f_{y_i} + margin)``.

    ``squared=True`` gives the squared hinge ``max(0, ...)**2``.

    Returns
    -------
    loss : float
    dscores : ndarray (N, C)
    """
    scores, y = _scores_labels(scores, y)
    margin = chk.number(margin, "margin", 0.0)
    if not isinstance(squared, (bool, np.bool_)):
        raise TypeError(f"squared must be a bool, got {type(squared).__name__}")
    return kernel("svm_loss", backend, scores, y)(scores, y, margin, bool(squared))


def sigmoid_cross_entropy(scores: Any, targets: Any, *, backend: str | None = None) -> tuple:
    """Multi-label logistic loss: ``L_i = sum_j softplus(f_j) - y_ij f_j``, targets in [0, 1].

    Returns
    -------
    loss : float
    dscores : ndarray (N, C), ``(sigmoid(f) - y) / N``
    """
    scores, targets = _scores_targets(scores, targets)
    lo, hi = chk.value_range(targets)
    if lo < 0 or hi > 1:
        raise ValueError("targets must lie in [0, 1] for sigmoid_cross_entropy")
    return kernel("sigmoid_cross_entropy", backend, scores, targets)(scores, targets)


def attribute_hinge_loss(scores: Any, targets: Any, *, backend: str | None = None) -> tuple:
    """Attribute (multi-label) hinge: ``L_i = sum_j max(0, 1 - y_ij f_j)`` with targets in {-1, +1}.

    Returns
    -------
    loss : float
    dscores : ndarray (N, C)
    """
    scores, targets = _scores_targets(scores, targets)
    if not chk.all_plus_minus_one(targets):
        raise ValueError("targets must be -1 or +1 for attribute_hinge_loss")
    return kernel("attribute_hinge_loss", backend, scores, targets)(scores, targets)


def l2_loss(pred: Any, target: Any, *, backend: str | None = None) -> tuple:
    """Regression L2: ``L_i = ||f_i - y_i||_2^2`` (no 1/2), mean over rows.

    Parameters
    ----------
    pred, target : arrays (N, K) (1-d arrays are treated as one output, K = 1)

    Returns
    -------
    loss : float
    dpred : ndarray (N, K), ``2 (f - y) / N``
    """
    pred2, target2 = _regression_args(pred, target)
    loss, dpred = kernel("l2_loss", backend, pred2, target2)(pred2, target2)
    return loss, dpred.reshape(np.shape(pred))


def l1_loss(pred: Any, target: Any, *, backend: str | None = None) -> tuple:
    """Regression L1: ``L_i = sum_j |f_ij - y_ij|``, mean over rows; subgradient 0 at f = y.

    Returns
    -------
    loss : float
    dpred : ndarray (N, K), ``sign(f - y) / N``
    """
    pred2, target2 = _regression_args(pred, target)
    loss, dpred = kernel("l1_loss", backend, pred2, target2)(pred2, target2)
    return loss, dpred.reshape(np.shape(pred))


def _regression_args(pred: Any, target: Any) -> list[np.ndarray]:
    pred = chk.as_array(pred, "pred", (1, 2))
    target = chk.as_array(target, "target", (1, 2))
    if pred.ndim != target.ndim:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if pred.ndim == 1:
        pred, target = pred.reshape(pred.shape[0], 1), target.reshape(target.shape[0], 1)
    return _scores_targets(pred, target, "target", "pred")
