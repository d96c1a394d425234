"""scikit-learn estimators backed by fastmlp: replace ``from sklearn.neural_network import
MLPClassifier`` with ``from fastmlp.sklearn import MLPClassifier`` and the script runs as before.

They take scikit-learn's MLP parameters with their meanings and defaults (``hidden_layer_sizes``,
``activation``, ``solver`` including ``"lbfgs"``, ``alpha``, ``batch_size``, ``learning_rate``,
``learning_rate_init``, ``power_t``, ``max_iter``, ``shuffle``, ``random_state``, ``tol``,
``verbose``, ``warm_start``, ``momentum``, ``nesterovs_momentum``, ``early_stopping``,
``validation_fraction``, ``beta_1``, ``beta_2``, ``epsilon``, ``n_iter_no_change``, ``max_fun``;
``MLPRegressor``'s ``loss`` = ``"squared_error"`` or ``"poisson"``) and follow its conventions: the
same initialisation (Glorot uniform with scikit-learn's factor, drawn from ``random_state`` as
scikit-learn draws it), one logistic output for binary targets, the input's float dtype for the
parameters and outputs, ``n_iter_`` counted per ``fit``, a stratified validation split.

Extras scikit-learn's MLP lacks: ``keep_prob`` (dropout), ``batchnorm``, more activations
(``prelu``, ``maxout`` and every name of ``fastmlp.ops.ACTIVATIONS``: ``leaky_relu``, ``elu``,
``gelu``, ...), ``init`` (``"sklearn"`` default, or a fastmlp scheme), more losses (SVM/hinge,
hierarchical softmax; ``l1`` regression), ``dtype`` (None: the input's) and ``backend``.

``sample_weight`` weights each row's loss as scikit-learn's does (integer weights train as
repeated rows would). Sparse X (SciPy CSR/CSC) trains without being densified: the first layer's
products run sparse × dense. Both take the layered path (the compiled one takes dense,
unweighted batches).
"""

from __future__ import annotations

import inspect
import numbers
import time
import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover
    raise ImportError("fastmlp.sklearn needs scikit-learn: pip install 'fastmlp[sklearn]'") from exc

from . import _dask, _lbfgs, optim, threads
from .builder import MLP
from .losses import SampleWeighted
from .model import Sequential, TrainingDiverged

_ACTIVATION_NAMES = {"logistic": "sigmoid"}  # scikit-learn's name → fastmlp's
_MARGIN_LOSSES = ("svm", "squared_hinge", "attribute_hinge")  # scores, not probabilities
_STOCHASTIC = ("sgd", "adam")
_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and need to be preprocessed."
)
# scikit-learn's regression losses → (fastmlp's loss, scale): its squared error is half the
# mean squared error fastmlp's l2 computes (the gradient is (f - y) / N)
_REGRESSION_LOSSES = {"squared_error": ("l2", 0.5), "poisson": ("poisson", 1.0), "l2": ("l2", 1.0), "l1": ("l1", 1.0)}


class _BaseMLP(BaseEstimator):
    """Shared training: scikit-learn's stochastic loop (stopping rules, schedules, early stopping)
    over fastmlp's compiled or layered steps, and full-batch L-BFGS (fastmlp/_lbfgs.py)."""

    model_: Sequential
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    best_loss_: float | None
    _best_state: dict[str, np.ndarray] | None
    _loss_scale = 1.0

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
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        keep_prob: float = 1.0,
        batchnorm: bool = False,
        init: Any = "sklearn",
        loss: Any = None,
        dtype: Any = None,
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
        self.max_fun = max_fun
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
        if self.solver not in ("adam", "sgd", "lbfgs"):
            raise ValueError(f"solver must be 'adam', 'sgd' or 'lbfgs', got {self.solver!r}")
        if self.learning_rate not in ("constant", "invscaling", "adaptive"):
            raise ValueError(f"learning_rate must be constant, invscaling or adaptive, got {self.learning_rate!r}")
        for name in ("max_iter", "max_fun"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.learning_rate_init <= 0:
            raise ValueError(f"learning_rate_init must be > 0, got {self.learning_rate_init}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not self.n_iter_no_change >= 1:  # np.inf is allowed: never stop for lack of progress
            raise ValueError(f"n_iter_no_change must be >= 1, got {self.n_iter_no_change}")

    def _optimizer(self) -> optim.Optimizer:
        if self.solver == "adam":
            return optim.Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        # fastmlp's loss is 1/scale times the estimator's: a step of lr·scale on its gradient is
        # the estimator's step of lr (Adam's steps do not depend on the gradient's scale)
        return optim.SGD(
            self.learning_rate_init * self._loss_scale,
            momentum=self.momentum,
            nesterov=bool(self.nesterovs_momentum and self.momentum > 0),
        )

    # ----- training ----------------------------------------------------------------------------------
    def _build(self, n_features: int, n_outputs: int, loss: str, dtype: Any, rs: np.random.RandomState) -> Sequential:
        activation = _ACTIVATION_NAMES.get(self.activation, self.activation)
        model = MLP(
            [n_features, *self._hidden, n_outputs],
            activation=activation,
            keep_prob=self.keep_prob,
            batchnorm=self.batchnorm,
            loss=loss,
            init="xavier" if self.init == "sklearn" else self.init,
            dtype=dtype,
            seed=0,
            backend=self.backend,
        )
        if self.init == "sklearn":
            self._sklearn_init(model, rs)
        else:
            model.seed = int(rs.randint(0, 2**31 - 1))
        if self.keep_prob < 1:  # dropout keys; without dropout, rs stays scikit-learn's stream
            model.seed = int(rs.randint(0, 2**31 - 1))
        return model

    def _sklearn_init(self, model: Sequential, rs: np.random.RandomState) -> None:
        """scikit-learn's initialisation, draw for draw: per layer W then b from U(-r, r),
        r = sqrt(factor / (fan_in + fan_out)), factor 2 for logistic units and 6 otherwise."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        for layer in model.layers:
            W, b = getattr(layer, "W", None), getattr(layer, "b", None)
            if W is None or b is None or W.value.ndim != 2:
                continue
            fan_in, fan_out = W.value.shape[0], b.value.shape[-1]
            bound = np.sqrt(factor / (fan_in + fan_out))
            W.value[...] = rs.uniform(-bound, bound, W.value.shape)
            b.value[...] = rs.uniform(-bound, bound, b.value.shape)

    def _fit(
        self, X: np.ndarray, y: Any, targets: np.ndarray, n_outputs: int, loss: str, incremental: bool, weights: Any
    ) -> Any:
        rs = check_random_state(self.random_state)
        fresh = not (hasattr(self, "model_") and (self.warm_start or incremental))
        if not fresh and self.model_.n_inputs != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.model_.n_inputs} features as input."
            )
        if fresh:  # parameters in X's float dtype unless dtype= says otherwise (later fits cast X)
            dtype = np.dtype(self.dtype) if self.dtype is not None else X.dtype
            self.model_ = self._build(X.shape[1], n_outputs, loss, dtype, rs)
            self._fitted_loss = self.loss
            self._fresh_state()
        elif self.loss != self._fitted_loss:
            raise ValueError(
                f"loss={self.loss!r} differs from the loss this model was fitted with ({self._fitted_loss!r}); "
                "warm_start and partial_fit continue a fit, they cannot change its loss"
            )
        model = self.model_
        base = model.loss
        if weights is not None:  # for this fit only: the model keeps its plain loss
            model.loss = SampleWeighted(base)
            targets = SampleWeighted.pack(targets, weights)
        try:
            # validated once per fit, whole; the steps below take row subsets (Sequential._train_rows)
            X = model._inputs(X)
            targets = model._targets(targets, X.shape[0])
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, targets, weights)
            else:
                self._fit_stochastic(X, y, targets, incremental, rs, weights)
        finally:
            model.loss = base
        self._export()
        return self

    def _fresh_state(self) -> None:
        self.t_ = 0
        self.n_iter_ = 0
        # under early stopping scikit-learn keeps the initial weights until an epoch scores better
        self._best_state = self.model_.get_state() if self.early_stopping else None
        if self.solver in _STOCHASTIC:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _fit_lbfgs(self, X: np.ndarray, targets: np.ndarray, weights: Any) -> None:
        total = X.shape[0] if weights is None else float(np.sum(weights))
        objective = _lbfgs.WholeSetObjective(self.model_, X, targets, self.alpha, self._loss_scale, total)
        iteration = [0]

        def report(_: Any) -> None:
            iteration[0] += 1
            print(f"Iteration {iteration[0]}, evaluations = {objective.evaluations}")

        with threads.serial_blas_if_small(self.model_.largest_product(X.shape[0])):
            result = _lbfgs.minimize(objective, self.max_iter, self.max_fun, self.tol, report if self.verbose else None)
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) (status={result.status}): "
                f"{result.message}. Increase the number of iterations (max_iter) or scale the data.",
                ConvergenceWarning,
                stacklevel=4,
            )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun)
        if not all(np.isfinite(p.value).all() for p in self.model_.parameters()):
            raise ValueError(_NON_FINITE)

    def _fit_stochastic(
        self, X: np.ndarray, y: Any, targets: np.ndarray, incremental: bool, rs: Any, weights: Any
    ) -> None:
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_opt"):
            # scikit-learn starts a new optimizer for every fit (a warm start keeps the weights
            # only) and keeps one across partial_fit calls
            self._opt = self._optimizer()
            self._lr = self.learning_rate_init
        self.n_iter_ = 0  # per call, partial_fit's included, as scikit-learn counts
        if self.early_stopping:
            train, val = train_test_split(
                np.arange(X.shape[0]), random_state=rs, test_size=self.validation_fraction, stratify=self._stratify(y)
            )
            if val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
                )
            Xv, yv, wv = X[val], y[val], None
            if weights is not None:
                wv, weights = weights[val], weights[train]
            X, targets = X[train], targets[train]
        else:
            Xv = yv = wv = None
        n = X.shape[0]
        bs = min(200, n) if _is_auto(self.batch_size) else _batch_size(self.batch_size, n)
        start = time.perf_counter()
        diverged = False
        order = np.arange(n)
        with threads.serial_blas_if_small(self.model_.largest_product(bs)):  # as Sequential.fit
            for _ in range(1 if incremental else self.max_iter):
                if self.shuffle:  # scikit-learn's shuffle(order, random_state=rs), draw for draw
                    perm = np.arange(n)  # its RandomState called directly: shuffle()'s validation runs per call
                    rs.shuffle(perm)
                    order = order[perm]
                try:
                    self.loss_ = self._loss_scale * self._epoch(X, targets, order, bs, weights) / n
                except TrainingDiverged:
                    diverged = True
                    self.loss_ = float("nan")
                self.t_ += n
                self.n_iter_ += 1
                if self.solver == "sgd" and self.learning_rate == "invscaling":  # at the epoch's end, as scikit-learn
                    self._lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f} ({time.perf_counter() - start:.2f} s)")
                stop = self._stop(Xv, yv, wv, diverged)
                if diverged or stop or incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        if self.early_stopping and self._best_state is not None:
            self.model_.set_state(self._best_state)  # scikit-learn keeps the best validation epoch's weights
        elif diverged:
            raise ValueError(_NON_FINITE)

    def _epoch(self, X: np.ndarray, targets: np.ndarray, order: np.ndarray, bs: int, weights: Any) -> float:
        """One epoch's steps; Σ (loss + penalty) · rows. scikit-learn's penalty ½ alpha ‖W‖² / m
        (m: the batch's rows, or its weight) is weight decay alpha / (m · scale) on fastmlp's loss:
        the full batches run as one call, a shorter last batch as another, and weighted batches
        one by one."""
        rate = self._lr * (self._loss_scale if self.solver == "sgd" else 1.0)
        n = order.shape[0]
        if weights is None:
            full = n - n % bs
            parts = [(order[:full], bs, bs), (order[full:], n - full, n - full)] if full else [(order, n, n)]
        else:
            batches = [order[i : i + bs] for i in range(0, n, bs)]
            parts = [(rows, rows.shape[0], float(weights[rows].sum())) for rows in batches]
        total = 0.0
        for rows, size, mass in parts:
            if rows.shape[0] == 0:
                continue
            self._opt.weight_decay = float(self.alpha) / (mass * self._loss_scale) if mass > 0 else 0.0
            rates = np.full(-(-rows.shape[0] // size), rate)
            total += self.model_._train_rows(X, targets, rows, size, self._opt, None, rates)
        return total

    def _stratify(self, y: Any) -> Any:
        return None

    def _stop(self, Xv: Any, yv: Any, wv: Any, diverged: bool) -> bool:
        """scikit-learn's rule: stop after n_iter_no_change epochs without a tol improvement of the
        validation score (early stopping) or the training loss; ``adaptive`` SGD divides its rate
        by 5 instead while it is above 1e-6."""
        if self.early_stopping and Xv is not None:
            score = float("nan") if diverged else self._score_for_stopping(Xv, yv, wv)
            assert self.validation_scores_ is not None and self.best_validation_score_ is not None
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            worse = score < self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_state = self.model_.get_state()
        else:
            assert self.best_loss_ is not None
            worse = self.loss_ > self.best_loss_ - self.tol
            if self.loss_ < self.best_loss_:
                self.best_loss_ = self.loss_
        self._no_improvement_count = self._no_improvement_count + 1 if worse else 0
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            lr = self._lr
            if lr > 1e-6:  # scikit-learn divides by 5 and carries on while the rate is above 1e-6
                self._lr = lr / 5.0
                self._no_improvement_count = 0
                return False
        if self.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(
                f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs. "
                "Stopping."
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
        X = validate_data(self, X, reset=False, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32))
        return self.model_.predict_scores(X)  # cast to the model's dtype there (sparse X too)

    def _validated_weights(self, sample_weight: Any, X: np.ndarray) -> np.ndarray | None:
        """sample_weight as scikit-learn takes it (float64, one per row, >= 0), or None for
        None and all-ones weights (the same fit, on the faster compiled path)."""
        if sample_weight is None:
            return None
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        return None if np.all(weights == 1.0) else weights

    def _has_partial_fit(self) -> bool:
        if self.solver not in _STOCHASTIC:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic."
            )
        return True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier (scikit-learn's API), trained with fastmlp's fused kernels.

    Parameters are scikit-learn's ``MLPClassifier`` ones, plus ``keep_prob``, ``batchnorm``,
    ``init``, ``loss`` (default: ``"softmax"``, or one logistic output for binary targets and
    one per label for multi-label targets, as scikit-learn; ``"svm"``, ``"squared_hinge"``,
    ``"hierarchical_softmax"``; multi-label targets also ``"attribute_hinge"``), ``dtype`` and
    ``backend``. ``activation`` accepts ``identity``, ``logistic``, ``tanh``, ``relu`` and also
    ``prelu``, ``maxout`` and every name of ``fastmlp.ops.ACTIVATIONS``.

    Attributes
    ----------
    classes_, loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_,
    n_iter_, t_, coefs_, intercepts_, n_layers_, n_outputs_, out_activation_, n_features_in_ :
        as in scikit-learn
    model_ : fastmlp.Sequential, the trained network
    """

    def _classes(self, y: Any, first: bool, classes: Any = None) -> None:
        """classes_ as scikit-learn defines or checks them."""
        multilabel = type_of_target(y).startswith("multilabel")
        if first:
            self._binarizer = LabelBinarizer()
            self._binarizer.fit(y if classes is None or multilabel else classes)
            self.classes_ = self._binarizer.classes_
            self._multilabel = multilabel
            return
        seen = unique_labels(y)
        if self.warm_start:
            if set(seen) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the previous call to "
                    f"fit. Previously got {self.classes_}, `y` has {seen}"
                )
        elif len(np.setdiff1d(seen, self.classes_, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {seen}."
            )

    def _targets(self, y: Any) -> tuple[np.ndarray, int, str]:
        if self._multilabel:
            # multi-label: one logistic (or hinge, for the margin losses) classifier per label
            loss = (
                self.loss
                if self.loss in ("sigmoid", "attribute_hinge")
                else ("attribute_hinge" if self.loss in _MARGIN_LOSSES else "sigmoid")
            )
            self.out_activation_ = "logistic"
            return self._binarizer.transform(y).astype(np.float64), len(self.classes_), loss
        if self._logistic():
            # binary: one logistic output for classes_[1], as scikit-learn (coefs_[-1] has one column)
            self.out_activation_ = "logistic"
            # (one class: LabelBinarizer's all-zero column, as scikit-learn trains it)
            positive = y == self.classes_[-1] if len(self.classes_) == 2 else np.zeros(len(y), bool)
            return positive.astype(np.float64).reshape(-1, 1), 1, "sigmoid"
        self.out_activation_ = "softmax"
        return np.searchsorted(self.classes_, y), max(len(self.classes_), 2), self.loss or "softmax"

    def _logistic(self) -> bool:
        return len(self.classes_) <= 2 and self.loss in (None, "sigmoid")

    def _stratify(self, y: Any) -> Any:
        # as scikit-learn: binary targets only, as its (N, 1) bool column (its errors name the
        # class True); multi-class and multi-label splits are not stratified
        return (y == self.classes_[-1]).reshape(-1, 1) if self._logistic() and not self._multilabel else None

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on (X, y) for up to ``max_iter`` epochs (``warm_start`` continues the last fit)."""
        self._check_params()
        first = not (self.warm_start and hasattr(self, "model_"))
        X, y = self._validate(X, y, reset=first)
        weights = self._validated_weights(sample_weight, X)
        self._classes(y, first)
        targets, n_out, loss = self._targets(y)
        return self._fit(X, y, targets, n_out, loss, False, weights)

    @available_if(_BaseMLP._has_partial_fit)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y); the first call needs ``classes`` (all labels that will appear)."""
        self._check_params()
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = self._validate(X, y, reset=first)
        weights = self._validated_weights(sample_weight, X)
        if first:
            self._classes(y, True, classes)
            self._classes(y, False)  # y's labels must be among classes
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"`classes={list(classes)}` is not the same as on last call to partial_fit, was: {self.classes_}"
            )
        else:
            self._classes(y, False)
        targets, n_out, loss = self._targets(y)
        return self._fit(X, y, targets, n_out, loss, True, weights)

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(
            self, X, y, reset=reset, accept_sparse=("csr", "csc"), multi_output=True, dtype=(np.float64, np.float32)
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def _score_for_stopping(self, X: Any, y: Any, weights: Any) -> float:
        scores = self.model_._scores(X)  # NaN/Inf included: a diverged epoch scores NaN, as in scikit-learn
        if not np.isfinite(scores).all():
            return float("nan")
        return float(accuracy_score(y, self._decode(scores), sample_weight=weights))

    def _decode(self, scores: np.ndarray) -> np.ndarray:
        if self._multilabel:
            return self._binarizer.inverse_transform((scores > 0).astype(int))
        if len(self.classes_) == 1:  # trained on one class: it is the only answer
            return np.repeat(self.classes_, scores.shape[0])
        if self._logistic():
            return self.classes_[(scores[:, 0] > 0).astype(np.intp)]
        return self.classes_[self.model_.loss.predict(scores)]

    @_dask.lazy_on_dask
    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (an indicator matrix for multi-label targets)."""
        return self._decode(self._scores(X))

    def _has_proba(self) -> bool:
        if self.loss in _MARGIN_LOSSES:
            raise AttributeError(f"predict_proba is not available with loss={self.loss!r} (a margin loss)")
        return True

    @available_if(_has_proba)
    @_dask.lazy_on_dask
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, n_classes); per-label probabilities for multi-label targets."""
        scores = self._scores(X)  # raises NotFittedError first when unfitted
        proba = np.asarray(self.model_.loss.proba(scores)).astype(scores.dtype, copy=False)
        if not self._multilabel and self._logistic():
            p = proba[:, 0]
            return np.column_stack([1 - p, p])
        return proba

    @available_if(_has_proba)
    @_dask.lazy_on_dask
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (scikit-learn's API), trained with fastmlp's fused kernels.

    ``loss``: ``"squared_error"`` (scikit-learn's default: half the mean squared error),
    ``"poisson"`` (log link: predictions are exp of the scores), or fastmlp's ``"l2"`` (the
    squared error summed over outputs, mean over rows) and ``"l1"`` (absolute error).

    Attributes
    ----------
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_, coefs_,
    intercepts_, n_layers_, n_outputs_, out_activation_, n_features_in_ : as in scikit-learn
    model_ : fastmlp.Sequential
    """

    def __init__(
        self, loss: str = "squared_error", hidden_layer_sizes: Any = (100,), activation: str = "relu", **params: Any
    ) -> None:
        # scikit-learn's MLPRegressor takes loss first; every other parameter is _BaseMLP's, and
        # __signature__ (below) lists them all for get_params, clone and the estimator checks
        super().__init__(hidden_layer_sizes, activation, loss=loss, **params)

    def _prepare(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray, bool]:
        self._check_params()
        if self.loss not in _REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {sorted(_REGRESSION_LOSSES)}, got {self.loss!r}")
        X, y = validate_data(
            self, X, y, reset=reset, accept_sparse=("csr", "csc"), multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32),
        )  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        self._loss_scale = _REGRESSION_LOSSES[self.loss][1]
        return X, np.ascontiguousarray(y.reshape(-1, 1) if y.ndim == 1 else y, dtype=np.float64), y.ndim == 1

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on (X, y) for up to ``max_iter`` epochs."""
        first = not (self.warm_start and hasattr(self, "model_"))
        X, y2, one_d = self._prepare(X, y, reset=first)
        weights = self._validated_weights(sample_weight, X)
        self._fit(X, y2, y2, y2.shape[1], _REGRESSION_LOSSES[self.loss][0], False, weights)
        return self._fitted(one_d)

    @available_if(_BaseMLP._has_partial_fit)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y)."""
        X, y2, one_d = self._prepare(X, y, reset=not hasattr(self, "model_"))
        weights = self._validated_weights(sample_weight, X)
        self._fit(X, y2, y2, y2.shape[1], _REGRESSION_LOSSES[self.loss][0], True, weights)
        return self._fitted(one_d)

    def _fitted(self, one_d: bool) -> MLPRegressor:
        """Attributes that describe the fitted model, set once a fit succeeded."""
        self._y_1d = one_d
        self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        return self

    def _score_for_stopping(self, X: Any, y: Any, weights: Any) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # huge finite predictions: R² may overflow
            pred = self.model_.loss.predict(self.model_._scores(X)).astype(np.float64)
            if not np.isfinite(pred).all():
                return float("nan")
            return float(r2_score(y, pred, sample_weight=weights))

    @_dask.lazy_on_dask
    def predict(self, X: Any) -> np.ndarray:
        """Predicted values in the model's dtype, (N,) for a 1-D target."""
        scores = self._scores(X)  # raises NotFittedError first when unfitted
        pred = self.model_.loss.predict(scores)
        return pred.ravel() if self._y_1d else pred

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # several regression targets are fitted jointly
        tags.input_tags.sparse = True
        return tags


def _loss_first() -> inspect.Signature:
    """_BaseMLP.__init__'s signature with ``loss="squared_error"`` first (MLPRegressor's order)."""
    params = list(inspect.signature(_BaseMLP.__init__).parameters.values())
    loss = inspect.Parameter("loss", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="squared_error", annotation=str)
    rest = [p for p in params[1:] if p.name != "loss"]
    return inspect.Signature([params[0], loss, *rest], return_annotation=None)


MLPRegressor.__init__.__signature__ = _loss_first()  # type: ignore[attr-defined]


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
