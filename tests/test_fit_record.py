"""fit's per-epoch statistics come from the training steps themselves (no extra pass over the
training data unless ``evaluate_train=True``), and equal what a separate pass would measure where
the two must agree: one full batch per epoch, no dropout, the model as it was before the step."""

import numpy as np
import pytest

import fastmlp
from fastmlp import optim


def _data(n=120, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int) % classes


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_running_accuracy_and_dead_units_are_those_of_the_model_before_the_step(backend):
    X, y = _data()
    net = fastmlp.MLP([6, 16, 8, 3], seed=3, dtype="float64", backend=backend)
    before = net.copy()
    history = net.fit(X, y, epochs=1, batch_size=len(X), shuffle=False, optimizer=optim.SGD(0.1))
    assert history.train_accuracy == [pytest.approx(before.evaluate(X, y)["accuracy"], abs=1e-12)]
    assert history.dead_relu == [pytest.approx(before.dead_relu_fractions(X), abs=1e-12)]
    assert history.loss[0] == pytest.approx(before.evaluate(X, y)["loss"], rel=1e-12)


def test_running_r2_of_a_regression_is_that_of_the_model_before_the_step():
    X, _ = _data()
    target = np.stack([X[:, 0] * 2 - X[:, 1], X[:, 2]], axis=1)
    net = fastmlp.MLP([6, 16, 2], loss="l2", seed=1, dtype="float64")
    before = net.copy()
    history = net.fit(X, target, epochs=1, batch_size=len(X), shuffle=False, optimizer=optim.SGD(0.01))
    assert history.train_accuracy == [pytest.approx(before.evaluate(X, target)["r2"], abs=1e-12)]


def test_multilabel_running_accuracy_counts_every_attribute():
    X, _ = _data()
    target = (X[:, :4] > 0).astype(float)
    net = fastmlp.MLP([6, 12, 4], loss="sigmoid", seed=2, dtype="float64")
    before = net.copy()
    history = net.fit(X, target, epochs=1, batch_size=len(X), shuffle=False, optimizer=optim.SGD(0.1))
    assert history.train_accuracy == [pytest.approx(before.evaluate(X, target)["accuracy"], abs=1e-12)]


def _count_forwards(net):
    """Counts the first layer's training forwards (its training entry, ``_train_forward``) and
    evaluation forwards (``forward`` outside training)."""
    layer = net.layers[0]
    calls = {"training": 0, "evaluation": 0}
    forward, train_forward = layer.forward, layer._train_forward

    def counted(x, training=False, seed=0):
        calls["training" if training else "evaluation"] += 1
        return forward(x, training, seed)

    def counted_training(x, seed, backend):
        calls["training"] += 1
        return train_forward(x, seed, backend)

    layer.forward, layer._train_forward = counted, counted_training
    return calls


@pytest.mark.parametrize("compiled", [False, True])
def test_fit_makes_no_evaluation_pass_unless_asked(compiled):
    X, y = _data(n=100)
    net = fastmlp.MLP([6, 16, 3], seed=0, backend="numba")
    net.compiled = compiled
    assert net.training_path("adam", 25).startswith("compiled" if compiled else "layered")
    steps = 0 if compiled else 8  # 4 steps per epoch, dead ReLUs included; compiled: not through the layer
    calls = _count_forwards(net)
    net.fit(X, y, epochs=2, batch_size=25, optimizer="adam")
    assert calls == {"training": steps, "evaluation": 0}
    calls.update(training=0, evaluation=0)
    net.fit(X, y, epochs=2, batch_size=25, optimizer="adam", validation_data=(X[:10], y[:10]))
    assert calls == {"training": steps, "evaluation": 2}  # the validation data, once per epoch
    calls.update(training=0, evaluation=0)
    history = net.fit(X, y, epochs=2, batch_size=25, optimizer="adam", evaluate_train=True)
    assert calls == {"training": steps, "evaluation": 2}
    assert history.train_accuracy[-1] == pytest.approx(net.evaluate(X, y)["accuracy"])


def test_an_update_that_overflows_after_the_last_finite_loss_still_stops_fit():
    X, y = _data(n=40)
    net = fastmlp.MLP([6, 8, 3], seed=0, dtype="float32")
    with pytest.raises(fastmlp.TrainingDiverged, match=r"after epoch 1: training diverged .* already non-finite"):
        net.fit(X * 1e30, y, epochs=3, batch_size=40, optimizer=optim.SGD(1e30))
