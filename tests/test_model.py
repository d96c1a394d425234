"""Models: structure, training on real data, reproducibility, saving, optimizers, schedules."""

import numpy as np
import pytest

import fastmlp
from fastmlp import optim
from fastmlp.layers import Dense, ReLU
from fastmlp.model import TrainingDiverged


def test_num_params_matches_the_notes():
    assert fastmlp.MLP([3, 4, 2]).num_params == 26
    assert fastmlp.MLP([3, 4, 4, 1], loss="l2").num_params == 41
    assert fastmlp.MLP([3, 4, 2], activation="maxout", maxout_k=3).num_params == 3 * (3 * 4 + 4) + 3 * 4 * 0 + 4 * 2 + 2
    assert fastmlp.MLP([3, 4, 2], batchnorm=True).num_params == 26 + 8


@pytest.mark.slow
@pytest.mark.parametrize("activation", [*fastmlp.builder.ACTIVATIONS[:-1]])
def test_each_activation_learns_digits(digits, activation):
    """Every activation MLP takes (the activation table's rows, prelu, maxout), fused with dropout."""
    Xtr, ytr, Xte, yte = digits
    net = fastmlp.MLP([64, 96, 10], activation=activation, keep_prob=0.9, seed=0)
    history = net.fit(Xtr, ytr, epochs=25, batch_size=64, optimizer=optim.Adam(2e-3))
    assert history.loss[-1] < history.loss[0] / 4
    acc = net.evaluate(Xte, yte)["accuracy"]
    assert acc >= (0.93 if activation == "sigmoid" else 0.95), acc


@pytest.mark.slow
@pytest.mark.parametrize("backend", [b for b in fastmlp.backends.available() if b != "cuda"])
def test_gelu_learns_digits_on_every_cpu_backend(digits, backend):
    """GELU keeps its pre-activation for the backward pass: the fused path trains on every backend."""
    Xtr, ytr, Xte, yte = digits
    net = fastmlp.MLP([64, 96, 10], activation="gelu", keep_prob=0.9, seed=0, backend=backend)
    net.fit(Xtr, ytr, epochs=25, batch_size=64, optimizer=optim.Adam(2e-3))
    assert net.evaluate(Xte, yte)["accuracy"] >= 0.95


@pytest.mark.slow
def test_softmax_relu_net_reaches_the_expected_accuracy(digits):
    Xtr, ytr, Xte, yte = digits
    net = fastmlp.MLP([64, 128, 64, 10], keep_prob=0.8, batchnorm=True, seed=1)
    net.fit(Xtr, ytr, epochs=30, batch_size=64, optimizer=optim.SGD(0.05, momentum=0.9, weight_decay=1e-4))
    assert net.evaluate(Xte, yte)["accuracy"] >= 0.95
    proba = net.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(proba.argmax(axis=1), net.predict(Xte))


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["svm", "squared_hinge", "hierarchical_softmax"])
def test_classification_losses_learn_digits(digits, loss):
    Xtr, ytr, Xte, yte = digits
    net = fastmlp.MLP([64, 96, 10], loss=loss, seed=0)
    net.fit(Xtr, ytr, epochs=25, optimizer=optim.Adam(2e-3))
    assert net.evaluate(Xte, yte)["accuracy"] >= 0.93


def _attributes(y):
    """Multi-label targets from digit labels: even, >= 5, has a closed loop (0, 4, 6, 8, 9)."""
    return np.stack([y % 2 == 0, y >= 5, np.isin(y, [0, 4, 6, 8, 9])], axis=1).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["sigmoid", "attribute_hinge"])
def test_multilabel_losses_learn_attributes(digits, loss):
    Xtr, ytr, Xte, yte = digits
    net = fastmlp.MLP([64, 96, 3], loss=loss, seed=0)
    net.fit(Xtr, _attributes(ytr), epochs=25, optimizer=optim.Adam(2e-3))
    assert net.evaluate(Xte, _attributes(yte))["accuracy"] >= 0.93
    pred = net.predict(Xte)
    assert pred.shape == (len(yte), 3) and set(np.unique(pred)) <= {0, 1}


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["l2", "l1"])
def test_regression_losses_fit_a_smooth_function(loss):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1500, 3)).astype(np.float32)
    y = (np.sin(2 * X[:, :1]) + X[:, 1:2] * X[:, 2:3]).astype(np.float32)
    net = fastmlp.MLP([3, 64, 1], activation="tanh", loss=loss, seed=0)
    net.fit(X[:1200], y[:1200], epochs=60, batch_size=32, optimizer=optim.Adam(3e-3))
    assert net.evaluate(X[1200:], y[1200:])["r2"] >= 0.95


def test_seeded_runs_are_identical(digits):
    Xtr, ytr, _, _ = digits
    states = []
    for _ in range(2):
        net = fastmlp.MLP([64, 32, 10], keep_prob=0.5, seed=123)
        net.fit(Xtr[:300], ytr[:300], epochs=2, batch_size=32)
        states.append(net.get_state())
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key], err_msg=key)
    other = fastmlp.MLP([64, 32, 10], keep_prob=0.5, seed=124)
    assert not np.array_equal(other.get_state()["0.W"], states[0]["0.W"])


def test_save_load_round_trip(tmp_path, digits):
    Xtr, ytr, Xte, _ = digits
    net = fastmlp.MLP([64, 32, 16, 10], activation="prelu", batchnorm=True, keep_prob=0.7, seed=5)
    net.fit(Xtr[:400], ytr[:400], epochs=2)
    path = tmp_path / "model.npz"
    net.save(path)
    back = fastmlp.load(path)
    np.testing.assert_array_equal(back.predict_scores(Xte), net.predict_scores(Xte))
    assert back.num_params == net.num_params and back.seed == net.seed and back.steps == net.steps
    for key, value in net.get_state().items():
        got = back.get_state()[key]
        assert got.dtype == value.dtype
        np.testing.assert_array_equal(got, value)
    for loss in ("hierarchical_softmax", "squared_hinge", "l1"):
        m = fastmlp.MLP([4, 3, 5], loss=loss, seed=1, activation="maxout")
        m.save(tmp_path / f"{loss}.npz")
        r = fastmlp.load(tmp_path / f"{loss}.npz")
        x = np.ones((2, 4), np.float32)
        np.testing.assert_array_equal(r.predict_scores(x), m.predict_scores(x))
        assert r.loss.name == m.loss.name


def test_early_stopping_restores_the_best_parameters(digits):
    Xtr, ytr, Xte, yte = digits
    net = fastmlp.MLP([64, 64, 10], seed=2)
    history = net.fit(
        Xtr[:200],
        ytr[:200],
        epochs=60,
        optimizer=optim.SGD(0.3, momentum=0.9),
        validation_data=(Xte, yte),
        early_stopping=3,
    )
    assert history.stopped_early and len(history.val_loss) < 60
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    assert net.evaluate(Xte, yte)["loss"] == pytest.approx(history.val_loss[best], rel=1e-5)


def test_history_records_dead_relu_and_lr(digits):
    Xtr, ytr, _, _ = digits
    net = fastmlp.MLP([64, 32, 32, 10], seed=0)
    history = net.fit(
        Xtr,
        ytr,
        epochs=3,
        optimizer=optim.SGD(0.05, schedule=optim.StepDecay(every=1, factor=0.5)),
        validation_split=0.2,
    )
    assert history.lr == pytest.approx([0.05, 0.025, 0.0125])
    assert len(history.dead_relu) == 3 and all(len(d) == 2 for d in history.dead_relu)
    assert all(0.0 <= f <= 1.0 for d in history.dead_relu for f in d)
    assert len(history.val_accuracy) == 3


def test_dead_relu_fraction_counts_units_that_never_fire():
    dense = Dense(2, 4, dtype=np.float64)
    dense.W.value[...] = [[1.0, -1.0, 0.0, 1.0], [1.0, -1.0, 0.0, -1.0]]
    dense.b.value[...] = [0.0, 0.0, -1.0, 0.0]
    net = fastmlp.Sequential([dense, ReLU(), Dense(4, 2, dtype=np.float64)], seed=0)
    X = np.array([[1.0, 2.0], [3.0, 0.5]])  # unit 1 (negative weights) and unit 2 (bias -1) never fire
    assert net.dead_relu_fractions(X) == [0.5]


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer",
    [
        optim.SGD(0.1),
        optim.SGD(0.05, momentum=0.9),
        optim.SGD(0.05, 0.9, True),
        optim.Adam(1e-2),
        optim.RMSprop(1e-2),
        optim.Adagrad(0.1),
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"],
)
def test_every_optimizer_reduces_the_loss(digits, optimizer):
    Xtr, ytr, _, _ = digits
    net = fastmlp.MLP([64, 32, 10], seed=0)
    history = net.fit(Xtr, ytr, epochs=5, optimizer=optimizer)
    assert history.loss[-1] < 0.5 * history.loss[0]


def test_schedules():
    assert optim.StepDecay(10, 0.5)(1.0, 25) == 0.25
    assert optim.ExponentialDecay(0.1)(2.0, 10) == pytest.approx(2.0 * np.exp(-1.0))
    assert optim.InverseTimeDecay(0.5)(1.0, 4) == pytest.approx(1 / 3)
    cos = optim.CosineDecay(10, min_lr=0.1)
    assert cos(1.0, 0) == 1.0 and cos(1.0, 5) == pytest.approx(0.55) and cos(1.0, 20) == pytest.approx(0.1)


def test_max_norm_is_enforced_after_every_update(digits):
    Xtr, ytr, _, _ = digits
    net = fastmlp.MLP([64, 32, 10], max_norm=0.5, seed=0)
    net.fit(Xtr, ytr, epochs=2, optimizer=optim.SGD(0.5, momentum=0.9))
    for p in net.parameters():
        if p.regularized:
            assert np.linalg.norm(p.value, axis=0).max() <= 0.5 * (1 + 1e-5)


def test_weight_decay_spares_biases():
    net = fastmlp.MLP([2, 3, 2], seed=0, dtype="float64")
    for p in net.parameters():
        p.value[...] = 1.0
        p.grad = np.zeros_like(p.value)
    optim.SGD(0.1, weight_decay=0.5).step(net.parameters())
    for p in net.parameters():
        np.testing.assert_allclose(p.value, 0.95 if p.regularized else 1.0)


def test_divergence_is_reported_not_hidden():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4)).astype(np.float32) * 100
    y = rng.integers(0, 3, 64)
    net = fastmlp.MLP([4, 16, 3], seed=0, init="small")
    sgd = optim.SGD(1e30)
    with pytest.raises(TrainingDiverged, match="diverged"):
        for _ in range(20):
            net.train_step(X, y, sgd)
    assert all(np.all(np.isfinite(p.value)) for p in net.parameters())


def test_zero_init_warns_about_symmetry():
    with pytest.warns(fastmlp.init.SymmetryWarning):
        fastmlp.MLP([3, 2, 2], init="zeros")


@pytest.mark.parametrize(
    "scheme,std", [("small", 0.01), ("lecun", 1 / np.sqrt(400)), ("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 600))]
)
def test_init_variances(scheme, std):
    w = fastmlp.init.get(scheme)(400, 200, np.random.default_rng(0), np.float64)
    assert w.std() == pytest.approx(std, rel=0.02)


def test_sparse_init_has_k_connections_per_unit():
    w = fastmlp.init.sparse(50, 7, np.random.default_rng(0), np.float64, connections=10)
    assert ((w != 0).sum(axis=0) == 10).all()


def test_model_input_errors():
    net = fastmlp.MLP([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="X has 5 features but the model expects 4"):
        net.predict(np.ones((2, 5)))
    with pytest.raises(ValueError, match="X contains NaN"):
        net.predict(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="label 2 but scores has 2 classes"):
        net.train_step(np.ones((2, 4)), [0, 2], optim.SGD())
    with pytest.raises(ValueError, match="empty batch"):
        net.predict(np.ones((0, 4)))
    with pytest.raises(ValueError, match="expects 5 inputs"):
        fastmlp.Sequential([Dense(3, 4), Dense(5, 2)])
    with pytest.raises(ValueError, match="activation"):
        fastmlp.MLP([3, 2], activation="swish")
    with pytest.raises(ValueError, match="loss"):
        fastmlp.MLP([3, 2], loss="focal")


@pytest.mark.jit_only
@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_training_step_allocates_no_arrays_after_the_first(backend):
    """The compiled backends, the usual net (fused ReLU + dropout, softmax, SGD momentum + L2):
    workspaces and kernel scratch are reused, so a step's traced memory barely moves. The
    smallest array this step could create is 64 x 32 float32 = 8 KiB; the bound is half that."""
    import tracemalloc

    if backend == "cython" and not fastmlp.backends.is_available("cython"):
        pytest.skip(f"cython backend not built: {fastmlp.backends.unavailable_reason('cython')}")
    assert backend in fastmlp.backends.available()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 64)).astype(np.float32)
    y = rng.integers(0, 32, 64)
    net = fastmlp.MLP([64, 128, 64, 32], keep_prob=0.5, seed=0, backend=backend)
    sgd = optim.SGD(0.05, momentum=0.9, weight_decay=1e-4)
    for _ in range(3):
        net.train_step(X, y, sgd)
    before = [p.value.copy() for p in net.parameters()]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        net.train_step(X, y, sgd)
        rise = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert rise < 4096, f"a training step allocated {rise} bytes"
    assert any(not np.array_equal(b, p.value) for b, p in zip(before, net.parameters()))  # it did train
