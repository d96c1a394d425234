"""fastmlp.sklearn as a drop-in: the same numbers as scikit-learn's MLP where the maths is the same
(initialisation, a full-batch step, L-BFGS's objective), and scikit-learn's behaviours."""

import warnings

import numpy as np
import pytest
import scipy.sparse

pytest.importorskip("sklearn")
import itertools

from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

from fastmlp import _lbfgs, losses
from fastmlp.sklearn import MLPClassifier, MLPRegressor


def _digits(n_class, n=120):
    X, y = load_digits(n_class=n_class, return_X_y=True)
    return X[:n] / 16.0, y[:n]


def _one_full_batch_step(cls_mine, cls_sk, X, y, **kw):
    settings = dict(
        hidden_layer_sizes=(7,),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.05,
        alpha=1e-3,
        batch_size=X.shape[0],
        shuffle=False,
        max_iter=1,
        random_state=3,
        **kw,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls_mine(**settings).fit(X, y), cls_sk(**settings).fit(X, y)


@pytest.mark.parametrize("n_class", [2, 3])
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_a_full_batch_step_equals_scikit_learns(n_class, activation):
    """Same random_state → the same initial weights (scikit-learn's Glorot draws); one full-batch
    SGD step → the same weights, loss and outputs: initialisation, the binary logistic output,
    the softmax, the penalty's scaling all agree."""
    X, y = _digits(n_class)
    mine, sk = _one_full_batch_step(MLPClassifier, SkClassifier, X, y, activation=activation)
    assert [c.shape for c in mine.coefs_] == [c.shape for c in sk.coefs_]
    assert mine.out_activation_ == sk.out_activation_
    for a, b in zip(mine.coefs_ + mine.intercepts_, sk.coefs_ + sk.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(mine.loss_, sk.loss_, rtol=1e-10)
    np.testing.assert_allclose(mine.predict_proba(X), sk.predict_proba(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_full_batch_regression_step_equals_scikit_learns(loss):
    X, y = make_regression(n_samples=80, n_features=5, noise=1.0, random_state=0)
    y = np.abs(y) / 50 if loss == "poisson" else y / 100
    mine, sk = _one_full_batch_step(MLPRegressor, SkRegressor, X, y, loss=loss)
    for a, b in zip(mine.coefs_ + mine.intercepts_, sk.coefs_ + sk.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(mine.predict(X), sk.predict(X), rtol=1e-9)
    np.testing.assert_allclose(mine.loss_, sk.loss_, rtol=1e-10)
    assert mine.out_activation_ == sk.out_activation_


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_the_lbfgs_objective_is_scikit_learns(kind):
    """WholeSetObjective against scikit-learn's own _loss_grad_lbfgs at the same weights, and its
    gradient against central differences."""
    if kind == "regression":
        X, y = make_regression(n_samples=40, n_features=4, random_state=1)
        y = y / 100
        mine, sk = MLPRegressor(hidden_layer_sizes=(5,)), SkRegressor(hidden_layer_sizes=(5,))
    else:
        X, y = _digits(2 if kind == "binary" else 3, n=40)
        mine, sk = MLPClassifier(hidden_layer_sizes=(5,)), SkClassifier(hidden_layer_sizes=(5,))
    for est in (mine, sk):
        est.set_params(solver="lbfgs", max_iter=3, alpha=0.3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
    targets = mine.model_._targets(mine._targets(y)[0] if kind != "regression" else y.reshape(-1, 1), len(y))
    objective = _lbfgs.WholeSetObjective(mine.model_, mine.model_._inputs(X), targets, 0.3, mine._loss_scale, len(y))
    theta = objective.start()
    value, grad = objective(theta)
    # scikit-learn's packing is every W then every b; fastmlp's is W0, b0, W1, b1
    sk.coefs_ = [c.copy() for c in mine.coefs_]
    sk.intercepts_ = [b.copy() for b in mine.intercepts_]
    Y = sk._label_binarizer.transform(y) if kind != "regression" else y.reshape(-1, 1)
    units = [X.shape[1], 5, sk.n_outputs_]
    activations = [X] + [np.empty((len(y), u)) for u in units[1:]]
    deltas = [np.empty_like(a) for a in activations[1:]]
    coef_grads = [np.empty((a, b)) for a, b in itertools.pairwise(units)]
    intercept_grads = [np.empty(b) for b in units[1:]]
    sk._coef_indptr, sk._intercept_indptr, start = [], [], 0
    for a, b in itertools.pairwise(units):
        sk._coef_indptr.append((start, start + a * b, (a, b)))
        start += a * b
    for b in units[1:]:
        sk._intercept_indptr.append((start, start + b))
        start += b
    packed = np.concatenate([c.ravel() for c in sk.coefs_] + [b.ravel() for b in sk.intercepts_])
    sk_value, sk_grad = sk._loss_grad_lbfgs(packed, X, Y, None, activations, deltas, coef_grads, intercept_grads)
    np.testing.assert_allclose(value, sk_value, rtol=1e-12)
    sizes = [p.value.size for p in mine.model_.parameters()]  # W0, b0, W1, b1
    mine_parts = np.split(grad, np.cumsum(sizes)[:-1])
    np.testing.assert_allclose(np.concatenate(mine_parts[0::2] + mine_parts[1::2]), sk_grad, rtol=1e-10, atol=1e-14)
    rng = np.random.default_rng(0)
    for i in rng.choice(theta.size, 8, replace=False):
        step = np.zeros_like(theta)
        step[i] = 1e-6
        numeric = (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-6
        assert abs(numeric - grad[i]) <= 1e-6 * max(1.0, abs(grad[i])), (i, numeric, grad[i])


def test_lbfgs_learns_and_honours_max_iter_and_max_fun():
    X, y = _digits(3, n=150)
    clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=50, max_iter=150, random_state=1).fit(X, y)
    assert clf.score(X, y) > 0.95 and clf.n_iter_ <= 150
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        capped = MLPClassifier(solver="lbfgs", hidden_layer_sizes=50, max_iter=150, max_fun=10, random_state=1)
        capped.fit(X, y)
    assert capped.n_iter_ <= 10
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")


def test_float32_in_float32_out():
    X, y = _digits(3)
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X.astype(np.float32), y)
        reg.fit(X.astype(np.float32), y.astype(float))
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert MLPClassifier(hidden_layer_sizes=(6,), max_iter=2).fit(X, y).coefs_[0].dtype == np.float64


def test_scikit_learns_bookkeeping():
    X, y = _digits(2, n=100)
    warm = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", warm_start=True, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        warm.fit(X, y)
    assert warm.n_iter_ == 3 and len(warm.loss_curve_) == 6  # n_iter_ per fit, the curve across fits
    stopped = MLPClassifier(solver="sgd", early_stopping=True, tol=0.2, max_iter=3000, random_state=0).fit(X, y)
    assert stopped.best_loss_ is None and max(stopped.validation_scores_) == stopped.best_validation_score_
    with pytest.raises(ValueError, match=r"least populated classes.*\['True'\]"):
        MLPClassifier(early_stopping=True).fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True).fit(np.ones((2, 3)), [1.0, 2.0])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        stopped.partial_fit(X, y)


def test_divergence_follows_scikit_learn():
    X = np.random.default_rng(0).uniform(size=(10, 2)) * np.finfo(np.float64).max
    y = np.random.default_rng(1).standard_normal(10)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        MLPRegressor().fit(X, y)
    Xi, yi = load_digits(return_X_y=True)
    reg = MLPRegressor(
        hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=1,
        max_iter=20, early_stopping=True, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(Xi[:300], yi[:300].astype(float))
    assert np.isnan(reg.validation_scores_[-1]) and isinstance(reg.validation_scores_[-1], float)
    assert np.all(np.isfinite(reg.predict(Xi[:5])))  # the best epoch's weights were kept


def test_partial_fit_takes_multilabel_targets_with_classes():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 6))
    Y = (X[:, :3] > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=0.2, random_state=0)
    for _ in range(60):
        clf.partial_fit(X, Y, classes=[0, 1, 2])
    assert clf.predict(X).shape == (50, 3) and clf.score(X, Y) > 0.8
    with pytest.raises(ValueError, match="classes not in"):
        MLPClassifier().partial_fit(X[:2], [1, 0], classes=[2])


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_integer_sample_weights_train_as_repeated_rows(solver):
    X, y = _digits(3, n=30)
    w = np.random.default_rng(0).integers(0, 4, 30)
    settings = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=15, random_state=0, alpha=0.01, tol=0.0)
    if solver == "sgd":
        settings.update(batch_size=10_000, shuffle=False)  # one batch: the same gradient either way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Got `batch_size` larger than sample size", UserWarning)
        weighted = MLPClassifier(**settings).fit(X, y, sample_weight=w)
        repeated = MLPClassifier(**settings).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7, atol=1e-10)
    assert weighted.model_.loss.name == "softmax"  # the weighting lasted for the fit only


@pytest.mark.parametrize(
    "loss,targets",
    [
        ("softmax", "labels"),
        ("svm", "labels"),
        ("squared_hinge", "labels"),
        ("hierarchical_softmax", "labels"),
        ("sigmoid", "unit"),
        ("attribute_hinge", "signs"),
        ("l2", "real"),
        ("l1", "real"),
        ("poisson", "counts"),
    ],
)
def test_row_losses_are_the_terms_of_each_loss_and_weights_scale_them(loss, targets):
    """Every loss's row_losses averages to the loss itself; SampleWeighted's value is the weighted
    mean of them, and its gradient matches central differences."""
    rng = np.random.default_rng(0)
    n, k = 7, 4
    scores = rng.standard_normal((n, k))
    base = losses.get(loss, n_classes=k + 1 if loss == "hierarchical_softmax" else None)
    classes = base.n_classes(k)
    y = {
        "labels": rng.integers(0, classes, n),
        "unit": rng.integers(0, 2, (n, k)).astype(float),
        "signs": rng.choice([-1.0, 1.0], (n, k)),
        "real": rng.standard_normal((n, k)),
        "counts": rng.poisson(2.0, (n, k)).astype(float),
    }[targets]
    value, _ = base(scores, y)
    t = base.targets(y, n, k)
    np.testing.assert_allclose(base.row_losses(scores, t).mean(), value, rtol=1e-10)
    weights = rng.uniform(0, 3, n)
    weighted = losses.SampleWeighted(base)
    packed = losses.SampleWeighted.pack(t, weights)
    got, grad = weighted(scores, packed)
    np.testing.assert_allclose(got, np.average(base.row_losses(scores, t), weights=weights), rtol=1e-10)
    for i, j in [(0, 0), (3, 2), (6, 3)]:
        step = np.zeros_like(scores)
        step[i, j] = 1e-6
        numeric = (weighted(scores + step, packed)[0] - weighted(scores - step, packed)[0]) / 2e-6
        assert abs(numeric - grad[i, j]) <= 1e-5 * max(1.0, abs(grad[i, j])), (loss, i, j)
    with pytest.raises(ValueError, match="sample weights must be finite and >= 0"):
        weighted(scores, losses.SampleWeighted.pack(t, -weights))


def test_poisson_loss_is_half_the_deviance_with_a_log_link():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((6, 2))
    y = rng.poisson(1.5, (6, 2)).astype(float)
    value, grad = losses.get("poisson")(f, y)
    mu = np.exp(f)
    deviance = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - y + mu)
    np.testing.assert_allclose(value, deviance / 2 / 6, rtol=1e-12)
    np.testing.assert_allclose(grad, (mu - y) / 6, rtol=1e-12)
    with pytest.raises(ValueError, match="poisson targets must be >= 0"):
        losses.get("poisson")(f, -y - 1)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_sparse_x_trains_as_its_dense_copy(solver, estimator):
    """CSR and CSC X give the dense fit's weights (float64: to rounding), never densified."""
    rng = np.random.default_rng(0)
    X = scipy.sparse.random(120, 40, density=0.1, format="csr", random_state=1)
    signal = np.asarray(X[:, :5].sum(axis=1)).ravel()
    est = MLPClassifier if estimator == "classifier" else MLPRegressor
    noisy = signal + 0.01 * rng.standard_normal(120)
    y = (signal > np.median(signal)).astype(int) if estimator == "classifier" else noisy
    settings = dict(hidden_layer_sizes=(9,), activation="tanh", solver=solver, max_iter=12, random_state=0, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = est(**settings).fit(X.toarray(), y)
        for sparse_X in (X, X.tocsc()):
            sparse = est(**settings).fit(sparse_X, y)
            for a, b in zip(sparse.coefs_, dense.coefs_, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(sparse.predict(sparse_X), dense.predict(X.toarray()), rtol=1e-9, atol=1e-12)


def _same_weights(mine, sk, rtol=1e-9):
    for a, b in zip(mine.coefs_ + mine.intercepts_, sk.coefs_ + sk.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize(
    "settings",
    [
        dict(solver="sgd", learning_rate="invscaling", power_t=0.5, momentum=0.9, learning_rate_init=0.1),
        dict(solver="sgd", momentum=0.0, batch_size=20),  # batches of 20, 20, 10: the last one's penalty
        dict(solver="sgd", momentum=0.9, nesterovs_momentum=False, batch_size=20, learning_rate_init=0.05),
    ],
)  # (not Adam: scikit-learn's ε sits before the bias correction, fastmlp's after; README)
def test_several_epochs_and_a_warm_start_follow_scikit_learn(settings):
    """Unshuffled epochs and a second warm fit give scikit-learn's weights: the learning-rate
    schedule per epoch, the penalty of a shorter last batch, a new optimizer per fit."""
    X, y = _digits(3, n=50)
    common = dict(hidden_layer_sizes=(5,), alpha=0.01, shuffle=False, max_iter=3, random_state=1, warm_start=True)
    common.setdefault("batch_size", settings.pop("batch_size", 50))
    mine, sk = MLPClassifier(**common, **settings), SkClassifier(**common, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (mine, sk):
            est.fit(X, y)
            est.fit(X, y)
    _same_weights(mine, sk)
    np.testing.assert_allclose(mine.loss_curve_, sk.loss_curve_, rtol=1e-9)
    assert mine.n_iter_ == sk.n_iter_ == 3


def test_scikit_learns_edge_cases():
    X, y = _digits(2, n=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, np.zeros(40, int))
        sk_one = SkClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, np.zeros(40, int))
    # trained towards LabelBinarizer's 0 as scikit-learn's is (to Adam's ε difference: README)
    np.testing.assert_allclose(one.predict_proba(X), sk_one.predict_proba(X), rtol=1e-5)
    assert np.all(one.predict_proba(X)[:, 0] > 0.5)
    reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y.astype(float))
    with pytest.raises(ValueError, match="cannot change its loss"):
        reg.set_params(loss="poisson").fit(X, y.astype(float))
    assert reg.out_activation_ == "identity" and reg.predict(X).shape == (40,)
    with pytest.raises(ValueError, match="same classes"):
        MLPClassifier(warm_start=True).partial_fit(X, y, classes=[0, 1, 2])
