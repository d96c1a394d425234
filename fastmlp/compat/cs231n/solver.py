"""CS231n ``solver.py``: minibatch SGD training with per-epoch accuracy checks.

Same constructor keywords, attributes and methods as the assignment's ``Solver``. Two deliberate
differences: checkpoints are written as ``.npz`` (parameters + JSON metadata, no pickle), and the
best parameters are also recorded when the first validation accuracy is 0, so ``train()`` never
leaves ``model.params`` empty.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import optim

UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")


class Solver:
    """Trains a model exposing ``params`` (dict of arrays) and ``loss(X, y=None)``.

    Parameters
    ----------
    model : object
        ``model.params`` maps names to arrays; ``model.loss(X)`` returns scores (N, C) and
        ``model.loss(X, y)`` returns ``(loss, grads)`` with grads keyed like params.
    data : dict
        ``X_train``, ``y_train``, ``X_val``, ``y_val``.
    update_rule : str or callable, default "sgd"
        One of ``"sgd"``, ``"sgd_momentum"``, ``"rmsprop"``, ``"adam"``, or a function
        ``next_w, config = rule(w, dw, config)``.
    optim_config : dict, optional
        Hyperparameters given to the update rule (each parameter gets its own copy).
    lr_decay : float, default 1.0
        Learning rate multiplier applied after every epoch.
    batch_size : int, default 100
    num_epochs : int, default 10
    num_train_samples : int or None, default 1000
        Training samples used for the accuracy check (None: all).
    num_val_samples : int or None, default None
        Validation samples used for the accuracy check (None: all).
    checkpoint_name : str, optional
        When given, ``{checkpoint_name}_epoch_{epoch}.npz`` is written at every check: arrays
        ``param_<name>`` and a JSON string ``meta`` (settings and histories). Not pickled.
    print_every : int, default 10
    verbose : bool, default True

    Attributes
    ----------
    loss_history, train_acc_history, val_acc_history : lists
    best_val_acc : float
    best_params : dict
    epoch : int
    """

    def __init__(self, model: Any, data: dict, **kwargs: Any) -> None:
        self.model = model
        self.X_train = data["X_train"]
        self.y_train = data["y_train"]
        self.X_val = data["X_val"]
        self.y_val = data["y_val"]

        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        if kwargs:
            extra = ", ".join(f'"{k}"' for k in kwargs)
            raise ValueError(f"Unrecognized arguments {extra}")

        if isinstance(self.update_rule, str):
            if self.update_rule not in UPDATE_RULES:
                raise ValueError(f'Invalid update_rule "{self.update_rule}"; expected one of {UPDATE_RULES}')
            self.update_rule = getattr(optim, self.update_rule)
        elif not callable(self.update_rule):
            raise TypeError(f"update_rule must be a name or a callable, got {type(self.update_rule).__name__}")
        self._reset()

    def _reset(self) -> None:
        """Book-keeping for a fresh optimisation (called by the constructor)."""
        self.epoch = 0
        self.best_val_acc: float = 0
        self.best_params: dict[str, np.ndarray] = {}
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self) -> None:
        """One minibatch (sampled with replacement, as the assignment does) and one update."""
        num_train = self.X_train.shape[0]
        batch_mask = np.random.choice(num_train, self.batch_size)  # noqa: NPY002 - the assignment's global RNG
        loss, grads = self.model.loss(self.X_train[batch_mask], self.y_train[batch_mask])
        self.loss_history.append(loss)
        for p, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def _save_checkpoint(self) -> None:
        """Write ``{checkpoint_name}_epoch_{epoch}.npz`` (no pickle): parameters and JSON metadata."""
        if self.checkpoint_name is None:
            return
        rule = self.update_rule
        meta = {
            "update_rule": getattr(rule, "__name__", repr(rule)),
            "lr_decay": self.lr_decay,
            "optim_config": {k: v for k, v in self.optim_config.items() if _jsonable(v)},
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": [float(v) for v in self.loss_history],
            "train_acc_history": [float(v) for v in self.train_acc_history],
            "val_acc_history": [float(v) for v in self.val_acc_history],
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.npz"
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        arrays: dict[str, Any] = {f"param_{k}": np.asarray(v) for k, v in self.model.params.items()}
        with open(filename, "wb") as f:  # a file object: np.savez would not add a second ".npz"
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)

    def check_accuracy(self, X: Any, y: Any, num_samples: int | None = None, batch_size: int = 100) -> float:
        """Fraction of correctly classified rows.

        Parameters
        ----------
        X : array (N, d_1, ..., d_k)
        y : int array (N,)
        num_samples : int, optional
            Check a random subsample (drawn with replacement) of this size instead of all rows.
        batch_size : int, default 100
            Rows per forward pass.

        Returns
        -------
        acc : float
        """
        N = X.shape[0]
        if num_samples is not None and num_samples < N:
            mask = np.random.choice(N, num_samples)  # noqa: NPY002 - the assignment's global RNG
            N = num_samples
            X, y = X[mask], y[mask]
        y_pred = [np.argmax(self.model.loss(X[i : i + batch_size]), axis=1) for i in range(0, N, batch_size)]
        return float(np.mean(np.hstack(y_pred) == y))

    def train(self) -> None:
        """Run the optimisation; afterwards ``model.params`` holds the best parameters found."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")

            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay

            if t == 0 or t == num_iterations - 1 or epoch_end:
                train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
                val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                self.train_acc_history.append(train_acc)
                self.val_acc_history.append(val_acc)
                self._save_checkpoint()
                if self.verbose:
                    print(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
                if val_acc > self.best_val_acc or not self.best_params:
                    self.best_val_acc = max(self.best_val_acc, val_acc)
                    self.best_params = {k: v.copy() for k, v in self.model.params.items()}

        if self.best_params:
            self.model.params = self.best_params


def _jsonable(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool, type(None)))
