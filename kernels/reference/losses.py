"""Losses: each returns (mean loss over the N rows, gradient wrt the scores), in plain NumPy."""

import numpy as np


def softmax_cross_entropy(scores, y, out=None):
    """L_i = −log(e^{f_{y_i}} / Σ_j e^{f_j}), shifted by the row max so nothing overflows."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_norm
    rows = np.arange(n)
    loss = -log_probs[rows, y].mean(dtype=np.float64)  # float64 mean, as the compiled backends
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= n
    if out is not None:
        out[...] = dscores
        return float(loss), out
    return float(loss), dscores


def svm_loss(scores, y, margin=1.0, squared=False):
    """Weston–Watkins multiclass hinge: L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + margin) (squared: ²)."""
    n = scores.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, scores - scores[rows, y][:, None] + scores.dtype.type(margin))
    margins[rows, y] = 0
    if squared:
        loss = (margins**2).sum(dtype=np.float64) / n
        dscores = 2 * margins
    else:
        loss = margins.sum(dtype=np.float64) / n
        dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    return float(loss), (dscores / n).astype(scores.dtype, copy=False)


def sigmoid_cross_entropy(scores, targets):
    """Independent logistic classifier per attribute: targets in [0, 1], loss summed over attributes.

    L_i = Σ_j softplus(f_j) − y_ij f_j, with softplus(f) = max(f, 0) + log1p(e^{−|f|}) (stable).
    """
    n = scores.shape[0]
    loss = (np.maximum(scores, 0) - scores * targets + np.log1p(np.exp(-np.abs(scores)))).sum(dtype=np.float64) / n
    z = np.exp(-np.abs(scores))
    sig = np.where(scores >= 0, 1 / (1 + z), z / (1 + z))
    return float(loss), ((sig - targets) / n).astype(scores.dtype, copy=False)


def attribute_hinge_loss(scores, targets):
    """Multi-label hinge with targets ±1: L_i = Σ_j max(0, 1 − y_ij f_j)."""
    n = scores.shape[0]
    margins = 1 - targets * scores
    active = margins > 0
    loss = np.where(active, margins, 0).sum(dtype=np.float64) / n
    return float(loss), (np.where(active, -targets, 0) / n).astype(scores.dtype, copy=False)


def l2_loss(pred, target):
    """Regression: L_i = ‖f − y‖₂² (the notes' form, no ½)."""
    n = pred.shape[0]
    diff = pred - target
    return float((diff * diff).sum(dtype=np.float64) / n), (2 * diff / n).astype(pred.dtype, copy=False)


def l1_loss(pred, target):
    """Regression: L_i = Σ_j |f_j − y_j|; subgradient 0 where f = y."""
    n = pred.shape[0]
    diff = pred - target
    return float(np.abs(diff).sum(dtype=np.float64) / n), (np.sign(diff) / n).astype(pred.dtype, copy=False)
