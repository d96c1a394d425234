"""CS231n assignment 1's ``classifiers/neural_net.py``: ``TwoLayerNet``, with its own API
(``loss(X, y=None, reg)``, ``train(...)``, ``predict(X)``), on fastmlp's fused kernels.

Architecture ``input - affine - relu - affine - softmax``. Unlike assignment 2's models, the L2
penalty here is ``reg * (‖W1‖² + ‖W2‖²)`` (no ½), as assignment 1's notebook expects, and the
weights are drawn from NumPy's global RNG in the assignment's order (W1, then W2), so a fixed
``np.random.seed`` gives the notebook's numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .... import ops
from ._files import ParamsFile


class TwoLayerNet(ParamsFile):
    """Two-layer fully connected net with a ReLU hidden layer and a softmax loss.

    Parameters
    ----------
    input_size : int
    hidden_size : int
    output_size : int
        Number of classes.
    std : float, default 1e-4
        Standard deviation of the Gaussian initial weights; biases start at 0.

    Attributes
    ----------
    params : dict
        ``W1`` (input_size, hidden_size), ``b1``, ``W2`` (hidden_size, output_size), ``b2``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, std: float = 1e-4) -> None:
        self.params = {
            "W1": std * np.random.randn(input_size, hidden_size),  # noqa: NPY002 - the assignment's global RNG
            "b1": np.zeros(hidden_size),
            "W2": std * np.random.randn(hidden_size, output_size),  # noqa: NPY002
            "b2": np.zeros(output_size),
        }

    def loss(self, X: Any, y: Any = None, reg: float = 0.0) -> Any:
        """Scores (N, C) when ``y`` is None; else ``(loss, grads)`` with the L2 penalty
        ``reg * (sum(W1**2) + sum(W2**2))`` and ``grads`` keyed like ``params``."""
        p = self.params
        X = np.asarray(X, dtype=p["W1"].dtype)
        hidden = ops.dense_forward(X, p["W1"], p["b1"], "relu")
        scores = ops.affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        data_loss, dscores = ops.softmax_cross_entropy(scores, y)
        w1, w2 = p["W1"], p["W2"]
        loss = data_loss + reg * (float(np.vdot(w1, w1)) + float(np.vdot(w2, w2)))
        dhidden, dW2, db2 = ops.affine_backward(dscores, hidden, w2)
        _, dW1, db1 = ops.dense_backward(dhidden, X, w1, hidden, "relu", need_dx=False)
        grads = {"W1": dW1 + 2 * reg * w1, "b1": db1, "W2": dW2 + 2 * reg * w2, "b2": db2}
        return loss, grads

    def train(
        self,
        X: Any,
        y: Any,
        X_val: Any,
        y_val: Any,
        learning_rate: float = 1e-3,
        learning_rate_decay: float = 0.95,
        reg: float = 5e-6,
        num_iters: int = 100,
        batch_size: int = 200,
        verbose: bool = False,
    ) -> dict[str, list[float]]:
        """Minibatch SGD (batches drawn with replacement from NumPy's global RNG, as in the
        assignment); the learning rate decays once per epoch, when the accuracies are recorded.

        Returns
        -------
        dict with ``loss_history`` (per iteration), ``train_acc_history`` and
        ``val_acc_history`` (per epoch, the training accuracy on the current batch).
        """
        X, y = np.asarray(X), np.asarray(y)
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train / batch_size, 1)
        loss_history: list[float] = []
        train_acc_history: list[float] = []
        val_acc_history: list[float] = []
        for it in range(num_iters):
            idx = np.random.choice(num_train, batch_size)  # noqa: NPY002 - the assignment's global RNG
            X_batch, y_batch = X[idx], y[idx]
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)
            for name, grad in grads.items():
                ops.sgd_update(self.params[name], grad, learning_rate)
            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")
            if it % iterations_per_epoch == 0:
                train_acc_history.append(float((self.predict(X_batch) == y_batch).mean()))
                val_acc_history.append(float((self.predict(X_val) == np.asarray(y_val)).mean()))
                learning_rate *= learning_rate_decay
        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class of each row of X (N,)."""
        return np.argmax(self.loss(X), axis=1)
