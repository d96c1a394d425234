"""scikit-learn estimators backed by fastmlp: replace ``from sklearn.neural_network import
MLPClassifier`` with ``from fastmlp.sklearn import MLPClassifier`` and the script runs as before.

They take scikit-learn's MLP parameters (``hidden_layer_sizes``, ``activation``, ``solver``,
``alpha``, ``batch_size``, ``learning_rate``, ``learning_rate_init``, ``power_t``, ``max_iter``,
``shuffle``, ``random_state``, ``tol``, ``verbose``, ``warm_start``, ``momentum``,
``nesterovs_momentum``, ``early_stopping``, ``validation_fraction``, ``beta_1``, ``beta_2``,
``epsilon``, ``n_iter_no_change``) with their meanings, plus what scikit-learn's MLP lacks:
``keep_prob`` (dropout), ``batchnorm``, more activations (``prelu``, ``maxout`` and every name of
``fastmlp.ops.ACTIVATIONS``: ``leaky_relu``, ``elu``, ``gelu``, ...),
``init``, ``loss`` (SVM/hinge losses, hierarchical softmax), ``dtype`` and ``backend``.
``dtype`` defaults to float64 like scikit-learn (predictions then don't depend on how rows are
batched); ``dtype="float32"`` trains about twice as fast.
``solver="lbfgs"`` is not offered (fastmlp trains by minibatches).
"""

from __future__ import annotations

import numbers
import time
import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover
    raise ImportError("fastmlp.sklearn needs scikit-learn: pip install 'fastmlp[sklearn]'") from exc

from . import optim, threads
from .builder import MLP
from .model import Sequential

_ACTIVATION_NAMES = {"logistic": "sigmoid"}  # scikit-learn's name → fastmlp's
_MARGIN_LOSSES = ("svm", "squared_hinge", "attribute_hinge")  # scores, not probabilities


class _BaseMLP(BaseEstimator):
    """Shared training loop with scikit-learn's stopping rules and learning-rate schedules."""

    _loss_kind = "classification"
    model_: Sequential
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    _best_state: dict[str, np.ndarray] | None

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        keep_prob: float = 1.0,
        batchnorm: bool = False,
        init: str = "he",
        loss: Any = None,
        dtype: str = "float64",
        backend: str | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.keep_prob = keep_prob
        self.batchnorm = batchnorm
        self.init = init
        self.loss = loss
        self.dtype = dtype
        self.backend = backend

    # ----- parameters ----------------------------------------------------------------------------
    def _check_params(self) -> None:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        if any(not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        self._hidden = [int(s) for s in sizes]
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd' (fastmlp trains by minibatches), got {self.solver!r}")
        if self.learning_rate not in ("constant", "invscaling", "adaptive"):
            raise ValueError(f"learning_rate must be constant, invscaling or adaptive, got {self.learning_rate!r}")
        if not self.max_iter or self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.learning_rate_init <= 0:
            raise ValueError(f"learning_rate_init must be > 0, got {self.learning_rate_init}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if self.n_iter_no_change < 1:
            raise ValueError(f"n_iter_no_change must be >= 1, got {self.n_iter_no_change}")

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        if rs is None:
            return int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002 - scikit-learn semantics: random_state=None follows the global RNG
        return int(rs)

    def _optimizer(self) -> optim.Optimizer:
        if self.solver == "adam":
            return optim.Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        return optim.SGD(
            self.learning_rate_init,
            momentum=self.momentum,
            nesterov=bool(self.nesterovs_momentum and self.momentum > 0),
        )

    # ----- training ----------------------------------------------------------------------------------
    def _build(self, n_features: int, n_outputs: int, loss: str) -> Sequential:
        activation = _ACTIVATION_NAMES.get(self.activation, self.activation)
        return MLP(
            [n_features, *self._hidden, n_outputs],
            activation=activation,
            keep_prob=self.keep_prob,
            batchnorm=self.batchnorm,
            loss=loss,
            init=self.init,
            dtype=self.dtype,
            seed=self._seed(),
            backend=self.backend,
        )

    def _fit(
        self, X: np.ndarray, targets: np.ndarray, n_outputs: int, loss: str, incremental: bool, y_score: Any
    ) -> Any:
        self._check_params()
        fresh = not (hasattr(self, "model_") and (self.warm_start or incremental))
        if not fresh and self.model_.n_inputs != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.model_.n_inputs} features as input."
            )
        if fresh:
            self.model_ = self._build(X.shape[1], n_outputs, loss)
            self._opt = self._optimizer()
            self.loss_curve_: list[float] = []
            self.t_ = 0
            self.n_iter_ = 0
            self.best_loss_ = np.inf
            self._no_improvement = 0
            self.validation_scores_: list[float] | None = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
            self._rng = np.random.default_rng(self.model_.seed)
            self._lr = self.learning_rate_init
            self._best_state = None
        # validated once per fit, whole; the steps below take row subsets (Sequential._train_rows)
        X = self.model_._inputs(X)
        targets = self.model_._targets(targets, X.shape[0])
        Xv = yv = None
        if self.early_stopping and not incremental:
            n_val = max(1, int(self.validation_fraction * X.shape[0]))
            if X.shape[0] - n_val < 1:
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} leaves no training samples "
                    f"(n_samples={X.shape[0]})"
                )
            order = self._rng.permutation(X.shape[0])
            Xv, yv = X[order[:n_val]], y_score[order[:n_val]]
            X, targets = X[order[n_val:]], targets[order[n_val:]]
        n = X.shape[0]
        bs = min(200, n) if _is_auto(self.batch_size) else _batch_size(self.batch_size, n)
        # scikit-learn's penalty is 0.5 * alpha * ||W||^2 / batch: the same as weight decay alpha / batch
        self._opt.weight_decay = float(self.alpha) / bs
        epochs = 1 if incremental else self.max_iter
        start = time.perf_counter()
        with threads.serial_blas_if_small(self.model_.largest_product(bs)):  # as Sequential.fit
            for _ in range(epochs):
                order = self._rng.permutation(n) if self.shuffle else np.arange(n)
                total = self.model_._train_rows(X, targets, order, bs, self._opt, None, self._learning_rates(n, bs))
                self.t_ += n
                self.n_iter_ += 1
                self.loss_ = total / n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f} ({time.perf_counter() - start:.2f} s)")
                if incremental:
                    break
                if self._stop(Xv, yv):
                    break
            else:
                if not incremental:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=3,
                    )
        self._export()
        return self

    def _learning_rates(self, n: int, batch_size: int) -> np.ndarray:
        """The learning rate of each batch of an epoch over ``n`` rows: scikit-learn's
        ``invscaling`` decays it with the samples seen (``t_``) before the batch."""
        starts = np.arange(0, n, batch_size)
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            return self.learning_rate_init / np.maximum(self.t_ + starts + 1, 1).astype(np.float64) ** self.power_t
        return np.full(starts.shape[0], getattr(self, "_lr", self.learning_rate_init))

    def _stop(self, Xv: Any, yv: Any) -> bool:
        """scikit-learn's rule: stop after n_iter_no_change epochs without a tol improvement."""
        if self.early_stopping and Xv is not None:
            score = self._score_for_stopping(Xv, yv)
            assert self.validation_scores_ is not None and self.best_validation_score_ is not None
            self.validation_scores_.append(score)
            improved = score > self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_state = self.model_.get_state()
        else:
            improved = self.loss_ < self.best_loss_ - self.tol
        self.best_loss_ = min(self.best_loss_, self.loss_)
        self._no_improvement = 0 if improved else self._no_improvement + 1
        if self._no_improvement <= self.n_iter_no_change:
            return False
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            lr = getattr(self, "_lr", self.learning_rate_init)
            if lr > 1e-6:  # scikit-learn divides by 5 and carries on while the rate is above 1e-6
                self._lr = lr / 5.0
                self._no_improvement = 0
                return False
        if self.early_stopping and self._best_state is not None:
            self.model_.set_state(self._best_state)
        if self.verbose:
            print(
                f"Training loss did not improve more than tol={self.tol} for {self.n_iter_no_change} "
                "consecutive epochs. Stopping."
            )
        return True

    def _export(self) -> None:
        dense = [layer for layer in self.model_.layers if hasattr(layer, "W")]
        self.coefs_ = [getattr(layer, "W").value for layer in dense]  # noqa: B009 - weight layers only
        self.intercepts_ = [getattr(layer, "b").value for layer in dense]  # noqa: B009
        self.n_layers_ = len(self._hidden) + 2
        self.n_outputs_ = self.model_.n_outputs

    def _scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.predict_scores(np.ascontiguousarray(X, dtype=self.model_.dtype))


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier (scikit-learn's API), trained with fastmlp's fused kernels.

    Parameters are scikit-learn's ``MLPClassifier`` ones, plus ``keep_prob``, ``batchnorm``,
    ``init``, ``loss`` (``"softmax"`` default; ``"svm"``, ``"squared_hinge"``,
    ``"hierarchical_softmax"``; multi-label targets use ``"sigmoid"`` or ``"attribute_hinge"``),
    ``dtype`` and ``backend``. ``activation`` accepts ``identity``, ``logistic``, ``tanh``,
    ``relu`` and also ``prelu``, ``maxout`` and every name of ``fastmlp.ops.ACTIVATIONS``.

    Attributes
    ----------
    classes_, loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_,
    n_iter_, t_, coefs_, intercepts_, n_layers_, n_outputs_, out_activation_, n_features_in_ :
        as in scikit-learn
    model_ : fastmlp.Sequential, the trained network
    """

    def _targets(self, y: Any, first: bool, classes: Any = None) -> tuple[np.ndarray, int, str]:
        if first:
            self._binarizer = LabelBinarizer()
            self._binarizer.fit(y if classes is None else classes)
            self.classes_ = self._binarizer.classes_
            self._multilabel = self._binarizer.y_type_.startswith("multilabel")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {classes} differ from the classes_ of the first partial_fit {self.classes_}")
        if self._multilabel:
            # multi-label: one logistic (or hinge, for the margin losses) classifier per label
            loss = (
                self.loss
                if self.loss in ("sigmoid", "attribute_hinge")
                else ("attribute_hinge" if self.loss in _MARGIN_LOSSES else "sigmoid")
            )
            self.out_activation_ = "logistic"
            return self._binarizer.transform(y).astype(np.float32), len(self.classes_), loss
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains classes {unseen.tolist()} not seen in the first call (classes_={self.classes_})"
            )
        loss = self.loss or "softmax"
        self.out_activation_ = "softmax"
        return np.searchsorted(self.classes_, y), max(len(self.classes_), 2), loss

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train on (X, y) for up to ``max_iter`` epochs (``warm_start`` continues the last fit)."""
        first = not (self.warm_start and hasattr(self, "model_"))
        X, y = self._validate(X, y, reset=first)
        targets, n_out, loss = self._targets(y, first)
        return self._fit(X, targets, n_out, loss, incremental=False, y_score=y)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y); the first call needs ``classes`` (all labels that will appear)."""
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._validate(X, y, reset=first)
        targets, n_out, loss = self._targets(y, first, classes)
        return self._fit(X, targets, n_out, loss, incremental=True, y_score=y)

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, dtype=(np.float64, np.float32))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def _score_for_stopping(self, X: Any, y: Any) -> float:
        return float(np.mean(self._decode(self.model_.predict_scores(X)) == y))

    def _decode(self, scores: np.ndarray) -> np.ndarray:
        if self._multilabel:
            return self._binarizer.inverse_transform((scores > 0).astype(int))
        if len(self.classes_) == 1:  # trained on one class: it is the only answer
            return np.repeat(self.classes_, scores.shape[0])
        return self.classes_[self.model_.loss.predict(scores)]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (an indicator matrix for multi-label targets)."""
        return self._decode(self._scores(X))

    def _has_proba(self) -> bool:
        if self.loss in _MARGIN_LOSSES:
            raise AttributeError(f"predict_proba is not available with loss={self.loss!r} (a margin loss)")
        return True

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, n_classes); per-label probabilities for multi-label targets."""
        scores = self._scores(X)  # raises NotFittedError first when unfitted
        return self.model_.loss.proba(scores)

    @available_if(_has_proba)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (scikit-learn's API) with squared (``loss="l2"``, default)
    or absolute (``loss="l1"``) error, trained with fastmlp's fused kernels.

    Attributes
    ----------
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_, coefs_,
    intercepts_, n_layers_, n_outputs_, out_activation_, n_features_in_ : as in scikit-learn
    model_ : fastmlp.Sequential
    """

    def _prepare(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True, dtype=(np.float64, np.float32))
        self._y_1d = y.ndim == 1
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        self.out_activation_ = "identity"
        return X, np.ascontiguousarray(y2, dtype=np.float64)

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Train on (X, y) for up to ``max_iter`` epochs."""
        first = not (self.warm_start and hasattr(self, "model_"))
        X, y2 = self._prepare(X, y, reset=first)
        return self._fit(X, y2, y2.shape[1], self.loss or "l2", incremental=False, y_score=y2)

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over (X, y)."""
        X, y2 = self._prepare(X, y, reset=not hasattr(self, "model_"))
        return self._fit(X, y2, y2.shape[1], self.loss or "l2", incremental=True, y_score=y2)

    def _score_for_stopping(self, X: Any, y: Any) -> float:
        pred = self.model_.predict_scores(X).astype(np.float64)
        total = ((y - y.mean(axis=0)) ** 2).sum()
        return float(1 - ((y - pred) ** 2).sum() / total) if total > 0 else 0.0

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, (N,) for a 1-D target."""
        pred = self._scores(X).astype(np.float64)
        return pred.ravel() if self._y_1d else pred

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # several regression targets are fitted jointly
        return tags


def _is_auto(batch_size: Any) -> bool:
    return isinstance(batch_size, str) and batch_size == "auto"


def _batch_size(batch_size: Any, n: int) -> int:
    """scikit-learn's rule: an int >= 1 (anything else raises); above n_samples, clipped with a warning."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be 'auto' or an int >= 1, got {batch_size!r}")
    size = int(batch_size)
    if size > n:
        warnings.warn(f"Got `batch_size` larger than sample size. It is going to be clipped to {n}", stacklevel=3)
        return n
    return size


__all__ = ["MLPClassifier", "MLPRegressor"]
