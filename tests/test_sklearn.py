"""fastmlp.sklearn: scikit-learn's own estimator checks, and drop-in behaviour on real data."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp.sklearn import MLPClassifier, MLPRegressor


@pytest.mark.slow
@parametrize_with_checks(
    [
        MLPClassifier(max_iter=20),  # the bar: as scikit-learn's own pass them
        MLPRegressor(max_iter=20),
        MLPClassifier(),
        MLPRegressor(),
        MLPClassifier(solver="lbfgs", max_iter=20),
        MLPClassifier(solver="sgd", learning_rate="adaptive"),
        MLPClassifier(keep_prob=0.8, activation="leaky_relu", loss="squared_hinge", dtype="float64"),
        MLPRegressor(activation="tanh", loss="l1"),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def digits_raw(digits):
    Xtr, ytr, Xte, yte = digits
    return Xtr.astype(np.float64), ytr, Xte.astype(np.float64), yte


@pytest.mark.slow
def test_matches_scikit_learn_accuracy_with_equal_settings(digits_raw):
    Xtr, ytr, Xte, yte = digits_raw
    settings = dict(
        hidden_layer_sizes=(64,), solver="adam", max_iter=40, batch_size=64, random_state=0, learning_rate_init=1e-3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mine = MLPClassifier(**settings).fit(Xtr, ytr)
        gold = SkMLPClassifier(**settings).fit(Xtr, ytr)
    got, want = mine.score(Xte, yte), gold.score(Xte, yte)
    assert got >= 0.95 and got >= want - 0.02, (got, want)
    assert len(mine.loss_curve_) == mine.n_iter_ == 40
    assert mine.loss_curve_[-1] < mine.loss_curve_[0] / 5
    assert [c.shape for c in mine.coefs_] == [c.shape for c in gold.coefs_]
    assert [b.shape for b in mine.intercepts_] == [b.shape for b in gold.intercepts_]
    proba = mine.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-10)
    np.testing.assert_array_equal(mine.classes_[proba.argmax(axis=1)], mine.predict(Xte))


@pytest.mark.slow
def test_string_labels_pipelines_and_grid_search(digits_raw):
    Xtr, ytr, Xte, _ = digits_raw
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    pipe = make_pipeline(StandardScaler(), MLPClassifier((32,), batch_size=32, max_iter=30, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, {"mlpclassifier__keep_prob": [1.0, 0.8]}, cv=2).fit(Xtr[:600], names[ytr[:600]])
    assert set(search.predict(Xte[:20])) <= set(names)
    assert search.best_score_ > 0.85


@pytest.mark.slow
def test_partial_fit_and_warm_start(digits_raw):
    Xtr, ytr, Xte, yte = digits_raw
    clf = MLPClassifier(hidden_layer_sizes=(32,), batch_size=32, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(Xtr[:10], ytr[:10])
    for _ in range(15):
        clf.partial_fit(Xtr, ytr, classes=np.arange(10))
    assert clf.n_iter_ == 1 and clf.score(Xte, yte) > 0.9  # n_iter_ per call, as scikit-learn counts
    warm = MLPClassifier(hidden_layer_sizes=(32,), max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(Xtr, ytr)
        first = warm.coefs_[0].copy()
        warm.fit(Xtr, ytr)
    # scikit-learn counts n_iter_ per fit: the second warm fit continues the weights, not the count
    assert warm.n_iter_ == 3 and not np.array_equal(first, warm.coefs_[0])


@pytest.mark.slow
def test_multilabel_targets(digits_raw):
    Xtr, ytr, Xte, yte = digits_raw

    def labels(y):
        return np.column_stack([y % 2 == 0, y >= 5, np.isin(y, [0, 6, 8, 9])]).astype(int)

    clf = MLPClassifier(hidden_layer_sizes=(64,), batch_size=32, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, labels(ytr))
    pred = clf.predict(Xte)
    assert pred.shape == (len(yte), 3) and (pred == labels(yte)).mean() > 0.93
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(yte), 3) and np.all((proba >= 0) & (proba <= 1))


@pytest.mark.slow
def test_regressor_fits_a_smooth_function():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (800, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    reg = MLPRegressor(
        hidden_layer_sizes=(64,), activation="tanh", max_iter=150, random_state=0, learning_rate_init=3e-3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X[:600], y[:600])
    assert reg.predict(X[600:]).shape == (200,)
    assert reg.score(X[600:], y[600:]) > 0.95


@pytest.mark.slow
def test_extras_scikit_learn_lacks(digits_raw):
    Xtr, ytr, Xte, yte = digits_raw
    for extra in (
        dict(keep_prob=0.8),
        dict(batchnorm=True),
        dict(activation="prelu"),
        dict(activation="maxout"),
        dict(loss="svm"),
        dict(loss="hierarchical_softmax"),
        dict(init="xavier", dtype="float32"),
    ):
        clf = MLPClassifier(hidden_layer_sizes=(48,), batch_size=32, max_iter=20, random_state=0, **extra)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xtr, ytr)
        assert clf.score(Xte, yte) > 0.9, extra
    svm = MLPClassifier(loss="svm", max_iter=2)
    assert not hasattr(svm, "predict_proba")  # margin losses give scores, not probabilities
    with pytest.raises(AttributeError, match="predict_proba"):
        svm.predict_proba(Xte[:2])


def test_unsupported_settings_are_explained():
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="solver must be"):
        MLPClassifier(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        MLPClassifier().fit(X, y, sample_weight=[1.0, -1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(0,)).fit(X, y)


def test_every_training_path_on_a_tiny_problem():
    """Fast enough to run with the JIT disabled: each option of the training loop once."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for kw in (
            dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=1, tol=10.0),
            dict(solver="sgd", learning_rate="invscaling", nesterovs_momentum=False),
            dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=2),
            dict(verbose=True, batchnorm=True, keep_prob=0.9),
        ):
            clf = MLPClassifier((8,), max_iter=6, batch_size=16, random_state=0, **kw).fit(X, y)
            assert clf.predict(X).shape == (60,) and set(clf.classes_) == {0, 1}
            assert len(clf.loss_curve_) == clf.n_iter_ <= 6
        np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1)
        assert np.all(np.isfinite(clf.predict_log_proba(X)))
        one = MLPClassifier((4,), max_iter=2).fit(X, np.zeros(60, int))
        assert np.all(one.predict(X) == 0)
        part = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
        assert part.n_iter_ == 1
        with pytest.raises(ValueError, match="classes not in"):
            part.partial_fit(X, y + 5)
        reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=4, random_state=0, early_stopping=True).fit(X, X[:, :2])
        assert reg.predict(X).shape == (60, 2)
        small = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2).fit(X, X[:, 0])
        assert small.partial_fit(X, X[:, 0]).predict(X).shape == (60,)
    with pytest.raises(ValueError, match="4 features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError):
        MLPClassifier(learning_rate="cyclic").fit(X, y)
