"""Dask and out-of-core data: preprocessing fits by tree reduction, lazy transforms and
predictions, dask-ml's wrappers around the adapters, streamed training from dask arrays and memmaps.

Tolerances: a dask fit merges its blocks' statistics pairwise (Chan et al.), in another order
than one in-memory pass, so float64 statistics agree to ~1e-12 relative; lazy predictions run the
same kernels on other row blocks (BLAS blocking differs), so they agree to float rounding.
Streamed training makes exactly the in-memory steps over the same rows: parameters are equal.
"""

import tracemalloc

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from distributed import Client, LocalCluster

import fastmlp
from fastmlp import _dask, _stream, optim
from fastmlp import preprocessing as pre
from fastmlp.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # few-epoch fits


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 worker processes for this module, closed after it."""
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _data(n=3001, d=13, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mix * rng.uniform(0.1, 5.0, d) + rng.normal(size=d) * 10 + offset


class _TaskCounter(Callback):
    """Counts the tasks the local scheduler runs (a lazy call runs none)."""

    def __init__(self):
        super().__init__()
        self.tasks = 0

    def _pretask(self, key, dsk, state):
        self.tasks += 1


TRANSFORMERS = {
    "mean": lambda: pre.MeanSubtraction(),
    "mean_global": lambda: pre.MeanSubtraction(axis="global"),
    "standardize": lambda: pre.Standardize(),
    "range": lambda: pre.RangeScale(),
    "pca": lambda: pre.PCA(n_components=5),
    "whiten_pca": lambda: pre.Whitening("pca", n_components=6),
    "whiten_zca": lambda: pre.Whitening("zca"),
}

FITTED = {
    "mean": ["mean_"],
    "mean_global": ["mean_"],
    "standardize": ["mean_", "var_", "scale_"],
    "range": ["data_min_", "data_max_"],
    "pca": ["mean_", "components_", "explained_variance_", "whitening_matrix_"],
    "whiten_pca": ["mean_", "components_", "explained_variance_", "whitening_matrix_"],
    "whiten_zca": ["mean_", "whitening_matrix_"],
}


# ----- preprocessing -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_a_dask_fit_equals_the_in_memory_fit(name, client):
    X = _data()
    memory = TRANSFORMERS[name]().fit(X)
    lazy = TRANSFORMERS[name]().fit(da.from_array(X, chunks=(400, 5)))  # uneven rows, split columns
    for attribute in FITTED[name]:
        want = getattr(memory, attribute)
        np.testing.assert_allclose(getattr(lazy, attribute), want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
    assert lazy.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(lazy.transform(X), memory.transform(X), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["standardize", "whiten_zca"])
def test_float32_blocks_give_float32_statistics_close_to_float64(name):
    X = _data()
    lazy = TRANSFORMERS[name]().fit(da.from_array(X.astype(np.float32), chunks=500))
    exact = TRANSFORMERS[name]().fit(X)
    attribute = FITTED[name][-1]
    assert getattr(lazy, attribute).dtype == (np.float64 if name == "standardize" else np.float32)
    got, want = getattr(lazy, attribute), getattr(exact, attribute)
    assert np.abs(got - want).max() <= 2e-4 * np.abs(want).max()


def test_the_merge_is_stable_far_from_the_origin():
    """Chan's merge of centred moments: a naive Σx² − n·mean² would lose every digit here."""
    rng = np.random.default_rng(1)
    X = 1e9 + rng.normal(size=(20000, 3))
    lazy = pre.Standardize().fit(da.from_array(X, chunks=1000))
    exact = (X - X.mean(axis=0)).var(axis=0)
    np.testing.assert_allclose(lazy.var_, exact, rtol=1e-6)
    pca = pre.PCA().fit(da.from_array(X, chunks=777))
    np.testing.assert_allclose(
        np.sort(pca.explained_variance_), np.sort(np.linalg.eigvalsh(np.cov(X.T, bias=True))), rtol=1e-6
    )


def test_the_tree_shape_does_not_change_the_statistics():
    X = da.from_array(_data(n=5000), chunks=250)
    stats = pre._BlockStatistics(pre._covariances, None)
    flat = _dask.reduce_rows(X, stats, pre._merge_moments, split_every=20)
    deep = _dask.reduce_rows(X, stats, pre._merge_moments, split_every=2)
    assert flat[0] == deep[0] == 5000
    np.testing.assert_allclose(deep[1], flat[1], rtol=1e-13)
    np.testing.assert_allclose(deep[2], flat[2], rtol=1e-11)


def test_partial_fit_mixes_dask_and_in_memory_chunks():
    X = _data()
    mixed = pre.Whitening().partial_fit(da.from_array(X[:1000], chunks=300)).partial_fit(X[1000:])
    np.testing.assert_allclose(mixed.whitening_matrix_, pre.Whitening().fit(X).whitening_matrix_, rtol=1e-9, atol=1e-10)
    assert mixed.n_samples_seen_ == X.shape[0]


@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_transform_of_a_dask_array_is_lazy_and_exact(name):
    X = _data()
    fitted = TRANSFORMERS[name]().fit(X)
    Xd = da.from_array(X, chunks=(700, 13))
    with _TaskCounter() as counter:
        out = fitted.transform(Xd)
        back = fitted.inverse_transform(out)
    assert counter.tasks == 0
    assert isinstance(out, da.Array) and isinstance(back, da.Array)
    assert out.chunks[0] == Xd.chunks[0]
    expected = fitted.transform(X)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out.compute(scheduler="sync"), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        back.compute(scheduler="sync"), fitted.inverse_transform(expected), rtol=1e-12, atol=1e-9
    )


def test_bad_blocks_raise_clear_errors():
    X = _data()
    bad = X.copy()
    bad[2500, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        pre.PCA().fit(da.from_array(bad, chunks=500))
    fitted = pre.Standardize().fit(X)
    with pytest.raises(ValueError, match="features"):  # at the call, not at compute()
        fitted.transform(da.from_array(X[:, :5], chunks=500))
    with pytest.raises(ValueError, match="2-d"):
        pre.Standardize().fit(da.from_array(X[:, 0], chunks=500))
    with pytest.raises(ValueError, match="empty"):
        pre.Standardize().fit(da.zeros((0, 3), chunks=1))
    with pytest.raises(ValueError, match="n_channels"):
        pre.MeanSubtraction(axis="channel", n_channels=5).fit(da.from_array(X, chunks=500))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        pre.PCA().transform(da.from_array(X, chunks=500))


def test_a_dask_fit_on_the_cluster(client):
    X = _data(n=6000)
    Xd = da.from_array(X, chunks=1000)
    zca = pre.Whitening(eps=1e-12).fit(Xd)
    white = zca.transform(Xd).compute()
    np.testing.assert_allclose(np.cov(white.T, bias=True), np.eye(X.shape[1]), atol=1e-8)
    np.testing.assert_allclose(white, pre.Whitening(eps=1e-12).fit(X).transform(X), rtol=1e-8, atol=1e-8)


# ----- prediction --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(digits):
    X, y, X_test, _ = digits
    net = fastmlp.MLP([64, 40, 10], seed=0)
    net.fit(X, y, epochs=3)
    return net, X_test


def test_model_predictions_on_dask_are_lazy_and_equal(trained, client):
    net, X = trained
    Xd = da.from_array(X, chunks=100)
    labels, proba, scores = net.predict(Xd), net.predict_proba(Xd), net.predict_scores(Xd, batch_size=32)
    assert all(isinstance(a, da.Array) for a in (labels, proba, scores))
    assert labels.shape == (X.shape[0],) and labels.dtype == net.predict(X).dtype
    np.testing.assert_array_equal(labels.compute(), net.predict(X))
    np.testing.assert_allclose(proba.compute(), net.predict_proba(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores.compute(), net.predict_scores(X), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="features"):
        net.predict(da.from_array(X[:, :10], chunks=100))


def test_evaluate_streams_a_dask_array(trained):
    net, X = trained
    y = net.predict(X)
    y[::7] = (y[::7] + 1) % 10
    streamed = net.evaluate(da.from_array(X, chunks=90), da.from_array(y, chunks=90))
    whole = net.evaluate(X, y)
    assert streamed["accuracy"] == whole["accuracy"]
    assert streamed["loss"] == pytest.approx(whole["loss"], rel=1e-6)


def test_adapter_predictions_on_dask(digits, client):
    X, y, X_test, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(30,), max_iter=5, random_state=0).fit(X, y)
    Xd = da.from_array(X_test, chunks=128)
    np.testing.assert_array_equal(clf.predict(Xd).compute(), clf.predict(X_test))
    np.testing.assert_allclose(clf.predict_proba(Xd).compute(), clf.predict_proba(X_test), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_log_proba(Xd).compute(), clf.predict_log_proba(X_test), rtol=1e-4, atol=1e-4)
    reg = MLPRegressor(hidden_layer_sizes=(20,), max_iter=5, random_state=0).fit(X, y.astype(float))
    out = reg.predict(Xd)
    assert isinstance(out, da.Array) and out.ndim == 1
    np.testing.assert_allclose(out.compute(), reg.predict(X_test), rtol=1e-5, atol=1e-5)


def test_dask_ml_incremental_equals_partial_fit_over_the_same_blocks(digits, client):
    from dask_ml.wrappers import Incremental

    X, y, X_test, y_test = digits
    Xd, yd = da.from_array(X, chunks=300), da.from_array(y, chunks=300)
    params = dict(hidden_layer_sizes=(30,), random_state=0, learning_rate_init=0.01)
    inc = Incremental(MLPClassifier(**params), scoring="accuracy", shuffle_blocks=False)
    inc.fit(Xd, yd, classes=np.arange(10))
    by_hand = MLPClassifier(**params)
    for start in range(0, X.shape[0], 300):
        by_hand.partial_fit(X[start : start + 300], y[start : start + 300], classes=np.arange(10))
    for got, want in zip(inc.estimator_.coefs_ + inc.estimator_.intercepts_, by_hand.coefs_ + by_hand.intercepts_):
        np.testing.assert_array_equal(got, want)
    assert inc.score(da.from_array(X_test, chunks=200), da.from_array(y_test, chunks=200)) == by_hand.score(
        X_test, y_test
    )


def test_an_adapter_keeps_its_optimizer_state_through_pickling(digits):
    """dask-ml's Incremental pickles the estimator between blocks: the Adam moments must survive."""
    import pickle

    X, y, _, _ = digits
    kept, shipped = (MLPClassifier(hidden_layer_sizes=(30,), random_state=0) for _ in range(2))
    for model in (kept, shipped):
        model.partial_fit(X[:300], y[:300], classes=np.arange(10))
    shipped = pickle.loads(pickle.dumps(shipped))
    for model in (kept, shipped):
        model.partial_fit(X[300:600], y[300:600])
    for got, want in zip(shipped.coefs_, kept.coefs_):
        np.testing.assert_array_equal(got, want)


def test_dask_ml_parallel_post_fit(digits, client):
    from dask_ml.wrappers import ParallelPostFit

    X, y, X_test, _ = digits
    wrapped = ParallelPostFit(MLPClassifier(hidden_layer_sizes=(30,), max_iter=5, random_state=0)).fit(X, y)
    labels = wrapped.predict(da.from_array(X_test, chunks=150))
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), wrapped.estimator.predict(X_test))


# ----- streamed training ---------------------------------------------------------------------------
def _memmap(tmp_path, array, name="X.npy"):
    path = tmp_path / name
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def _net():
    return fastmlp.MLP([64, 32, 10], keep_prob=0.8, dtype="float64", seed=3)


def _same_parameters(a, b):
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_a_streamed_epoch_takes_every_row_once_window_by_window(tmp_path):
    X = _memmap(tmp_path, np.zeros((1030, 64)))
    source = _stream.RowChunks(X, np.zeros(1030), chunk_rows=100, n_features=64)
    assert source.sizes.tolist() == [100] * 10 + [30]
    rng = np.random.default_rng(0)
    order = _stream.epoch_order(source, 3, rng)
    np.testing.assert_array_equal(np.sort(order), np.arange(1030))
    assert not np.array_equal(order, np.sort(order))
    chunk_of = np.minimum(order // 100, 10)
    start = 0
    for _ in range(4):  # each window: its 3 chunks (1 in the last), all their rows, nothing else
        window = set(chunk_of[start : start + 1].tolist())
        stop = start
        while len(window) < 3 and stop < order.size:
            stop += 1
            window = set(chunk_of[start:stop].tolist())
        rows = sum(source.sizes[c] for c in window)
        assert set(chunk_of[start : start + rows].tolist()) == window
        start += rows
    assert start == 1030
    np.testing.assert_array_equal(_stream.epoch_order(source, 3, None), np.arange(1030))


def test_a_streamed_fit_makes_the_in_memory_steps(tmp_path, digits):
    X, y, _, _ = digits
    X = X.astype(np.float64)
    streamed = _net()
    history = streamed.fit(
        _memmap(tmp_path, X),
        y,
        epochs=2,
        batch_size=50,
        chunk_rows=200,
        shuffle_window=3,
        optimizer=optim.Adam(1e-3),
        validation_split=0.1,
    )
    in_memory, opt = _net(), optim.Adam(1e-3)
    rng = np.random.default_rng([3, 0xF17])  # the model's shuffling stream (fit's documented seed use)
    source, _ = _stream.RowChunks(X, y, 200, 64).head_tail(round(0.1 * X.shape[0]))
    for _ in range(2):
        order = _stream.epoch_order(source, 3, rng)
        in_memory.fit(X[order], y[order], epochs=1, batch_size=50, shuffle=False, optimizer=opt)
    _same_parameters(streamed, in_memory)
    held_out = in_memory.evaluate(X[-round(0.1 * X.shape[0]) :], y[-round(0.1 * X.shape[0]) :])
    assert history.val_loss[-1] == pytest.approx(held_out["loss"], rel=1e-12)


def test_a_memmap_fit_equals_partial_fits_over_its_chunks(tmp_path, digits):
    """Unshuffled, a stream is the in-memory fit of each chunk in turn (one optimizer throughout)."""
    X, y, _, _ = digits
    X = X.astype(np.float64)
    streamed = _net()
    streamed.fit(
        _memmap(tmp_path, X),
        _memmap(tmp_path, y, "y.npy"),
        epochs=1,
        batch_size=40,
        chunk_rows=400,
        shuffle=False,
        optimizer=optim.SGD(0.05, momentum=0.9),
    )
    by_chunk, opt = _net(), optim.SGD(0.05, momentum=0.9)
    for start in range(0, X.shape[0], 400):
        by_chunk.fit(
            X[start : start + 400], y[start : start + 400], epochs=1, batch_size=40, shuffle=False, optimizer=opt
        )
    _same_parameters(streamed, by_chunk)


def test_a_dask_fit_on_the_cluster_equals_the_in_memory_fit(digits, client):
    X, y, X_test, y_test = digits
    X = X.astype(np.float64)
    streamed, in_memory = _net(), _net()
    history = streamed.fit(
        da.from_array(X, chunks=250),
        da.from_array(y, chunks=250),
        epochs=2,
        batch_size=64,
        shuffle=False,
        validation_data=(da.from_array(X_test, chunks=100), y_test),
        optimizer=optim.Adam(2e-3),
    )
    reference = in_memory.fit(
        X, y, epochs=2, batch_size=64, shuffle=False, validation_data=(X_test, y_test), optimizer=optim.Adam(2e-3)
    )
    _same_parameters(streamed, in_memory)
    np.testing.assert_allclose(history.loss, reference.loss, rtol=1e-12)
    np.testing.assert_allclose(history.val_loss, reference.val_loss, rtol=1e-12)
    assert history.train_accuracy == reference.train_accuracy


@pytest.mark.slow  # 100,000 rows: minutes with the JIT off
def test_streaming_memory_is_bounded_by_the_window(tmp_path):
    rows, width = 100_000, 64
    rng = np.random.default_rng(0)
    X = _memmap(tmp_path, rng.normal(size=(rows, width)).astype(np.float32))  # 25.6 MB on disk
    y = _memmap(tmp_path, rng.integers(0, 10, rows), "y.npy")
    net = fastmlp.MLP([width, 32, 10], seed=0)
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=1, batch_size=128, chunk_rows=2000, shuffle_window=2, track_dead_relu=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    window_bytes = 2 * 2000 * width * 4
    assert peak < 6 * window_bytes < X.nbytes / 4  # a few windows' worth, not the data


def test_bad_streamed_data_fails_clearly(tmp_path, digits):
    X, y, _, _ = digits
    bad = X.copy()
    bad[1200, 3] = np.inf
    with pytest.raises(ValueError, match="finite|NaN|Inf"):
        fastmlp.MLP([64, 10], seed=0).fit(_memmap(tmp_path, bad), y, epochs=1, chunk_rows=500, shuffle=False)
    wrong = y.copy()
    wrong[900] = 12
    with pytest.raises(ValueError, match="label"):
        fastmlp.MLP([64, 10], seed=0).fit(da.from_array(X, chunks=300), wrong, epochs=1)
    with pytest.raises(ValueError, match="rows"):
        fastmlp.MLP([64, 10], seed=0).fit(_memmap(tmp_path, X), y[:-1], epochs=1)
    with pytest.raises(ValueError, match="shuffle_window"):
        fastmlp.MLP([64, 10], seed=0).fit(_memmap(tmp_path, X), y, shuffle_window=0)
    unknown = da.from_array(X, chunks=300)
    unknown = unknown[unknown[:, 0] >= 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fastmlp.MLP([64, 10], seed=0).fit(unknown, y, epochs=1)
    with dask.config.set(scheduler="sync"), pytest.raises(ValueError, match="features"):
        fastmlp.MLP([32, 10], seed=0).fit(da.from_array(X, chunks=300), y, epochs=1)


def test_predict_keeps_no_reference_to_the_data(trained):
    """A dask worker keeps the model of each task it ran; a model pinning its last input would
    hold a block per task (1.5 GB per worker in benches/dask_scale.py before this)."""
    import gc
    import weakref

    net, X_test = trained
    X = X_test.astype(net.dtype, copy=True)  # the model's dtype: predict sees X itself, not a converted copy
    alive = weakref.ref(X)
    net.predict(X)
    del X
    gc.collect()
    assert alive() is None


def test_transformers_pickled_by_the_previous_release_go_on_accumulating():
    """The statistics used to live under other names (``_sum``, ``_m2``, a ``_Moments``): an
    unpickled estimator continues its partial_fit instead of silently starting over."""
    import pickle

    X = _data()
    first, rest = X[:1000], X[1000:]
    legacy_states = {
        "mean": lambda est: {"_sum": first.sum(axis=0), "n_samples_seen_": 1000},
        "standardize": lambda est: {
            "_m2": ((first - first.mean(0)) ** 2).sum(0),
            "mean_": first.mean(0),
            "n_samples_seen_": 1000,
        },
        "range": lambda est: {"data_min_": first.min(0), "data_max_": first.max(0)},
        "whiten_zca": lambda est: {"_moments": _old_moments(first)},
    }
    for name, legacy in legacy_states.items():
        old = TRANSFORMERS[name]().fit(first)
        state = {k: v for k, v in old.__dict__.items() if k != "_stats"}
        state.update(legacy(old))
        old.__dict__.clear()
        old.__dict__.update(state)
        revived = pickle.loads(pickle.dumps(old)).partial_fit(rest)
        whole = TRANSFORMERS[name]().fit(X)
        attribute = FITTED[name][-1]
        want = getattr(whole, attribute)
        np.testing.assert_allclose(getattr(revived, attribute), want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


def _old_moments(X):
    moments = pre._Moments()
    moments.n, moments.mean = X.shape[0], X.mean(axis=0)
    moments.m2 = (X - moments.mean).T @ (X - moments.mean)
    return moments


def test_lazy_outputs_hold_the_estimator_as_it_was_and_take_positional_options(trained):
    net, X = trained
    Xd = da.from_array(X, chunks=100)
    before = net.predict_scores(X)
    lazy = net.predict_scores(Xd, 16)  # batch_size positionally
    copy = net.copy()
    copy.fit(X, net.predict(X), epochs=1)
    other = pre.PCA(n_components=4).fit(X)
    projected = other.transform(Xd)
    other.set_params(n_components=2).fit(X)
    np.testing.assert_allclose(lazy.compute(), before, rtol=1e-5, atol=1e-5)
    assert projected.compute().shape == (X.shape[0], 4)


def test_empty_blocks_give_empty_outputs(trained):
    net, X = trained
    X = X[np.argsort(X[:, 10], kind="stable")]
    Xd = da.from_array(X, chunks=50)
    kept = Xd[Xd[:, 10] > 0.5]  # rows sorted by that feature: the first blocks keep none
    kept.compute_chunk_sizes()
    assert 0 in kept.chunks[0]
    rows = X[X[:, 10] > 0.5]
    np.testing.assert_array_equal(net.predict(kept).compute(), net.predict(rows))
    scaler = pre.Standardize().fit(X)
    np.testing.assert_allclose(scaler.transform(kept).compute(), scaler.transform(rows), rtol=1e-6)
    np.testing.assert_allclose(pre.Standardize().fit(kept).var_, pre.Standardize().fit(rows).var_, rtol=1e-6)
    labels = net.predict(rows)
    assert net.evaluate(kept, labels)["accuracy"] == 1.0
    streamed, in_memory = net.copy(), net.copy()
    streamed.fit(kept, labels, epochs=1, shuffle=False, batch_size=32)
    in_memory.fit(rows, labels, epochs=1, shuffle=False, batch_size=32)
    _same_parameters(streamed, in_memory)
