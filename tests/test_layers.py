"""Every layer's backward against finite differences, on every available backend."""

import numpy as np
import pytest

import fastmlp
from fastmlp import backends
from fastmlp.layers import BatchNorm, Dense, DropConnect, Dropout, LeakyReLU, Maxout, PReLU, ReLU, Sigmoid, Tanh

BACKENDS = [name for name in backends.available() if name != "cuda"]
F64 = np.float64


def _stacks(rng):
    """(name, layers) small float64 networks, each exercising one layer type in training mode."""
    kw = {"dtype": F64, "rng": rng}
    return [
        ("dense-identity", [Dense(5, 4, **kw)]),
        *[(f"dense-{a}", [Dense(5, 4, a, **kw)]) for a in ("relu", "leaky_relu", "sigmoid", "tanh")],
        *[(f"dense-{a}-dropout", [Dense(5, 4, a, keep_prob=0.7, **kw)]) for a in ("relu", "sigmoid", "tanh")],
        ("relu", [Dense(5, 4, **kw), ReLU()]),
        ("leaky_relu", [Dense(5, 4, **kw), LeakyReLU(0.1)]),
        ("prelu", [Dense(5, 4, **kw), PReLU(4, dtype=F64)]),
        ("sigmoid", [Dense(5, 4, **kw), Sigmoid()]),
        ("tanh", [Dense(5, 4, **kw), Tanh()]),
        ("maxout", [Maxout(5, 4, k=3, **kw)]),
        ("dropout-inverted", [Dense(5, 4, **kw), Dropout(0.6)]),
        ("dropout-vanilla", [Dense(5, 4, **kw), Dropout(0.6, mode="vanilla")]),
        ("dropconnect", [DropConnect(5, 4, keep_prob=0.6, **kw), Tanh()]),
        ("batchnorm", [Dense(5, 4, **kw), BatchNorm(4, dtype=F64), Tanh()]),
    ]


CASES = [name for name, _ in _stacks(np.random.default_rng(0))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CASES)
def test_layer_gradients(name, backend):
    rng = np.random.default_rng(1)
    layers = dict(_stacks(rng))[name]
    layers.append(Dense(layers[-1].n_out or 4, 3, dtype=F64, rng=rng))
    model = fastmlp.Sequential(layers, "softmax", seed=7, backend=backend)
    X = rng.standard_normal((6, 5))
    y = rng.integers(0, 3, 6)
    errors = model.gradient_check(X, y, max_checks=15)
    assert errors and max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("weight_decay,l1", [(0.3, 0.0), (0.0, 0.2), (0.3, 0.2)], ids=["l2", "l1", "elastic"])
def test_regularized_gradients(weight_decay, l1, backend):
    rng = np.random.default_rng(2)
    layers = [Dense(5, 4, "tanh", dtype=F64, rng=rng), Dense(4, 3, dtype=F64, rng=rng, l2=0.05)]
    model = fastmlp.Sequential(layers, "softmax", l1=l1, seed=3, backend=backend)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    errors = model.gradient_check(X, y, weight_decay=weight_decay)
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize(
    "loss", ["softmax", "svm", "squared_hinge", "hierarchical_softmax", "sigmoid", "attribute_hinge", "l2", "l1"]
)
def test_loss_gradients_through_a_model(loss):
    rng = np.random.default_rng(4)
    # init="he" (tanh's default became xavier): with these weights no margin of the hinge losses
    # sits within the finite difference's step of its kink
    model = fastmlp.MLP([5, 6, 4], activation="tanh", loss=loss, init="he", dtype="float64", seed=1)
    X = rng.standard_normal((7, 5))
    if loss in ("sigmoid", "attribute_hinge"):
        y = rng.integers(0, 2, (7, 4))
    elif loss in ("l2", "l1"):
        y = rng.standard_normal((7, 4))
    else:
        y = rng.integers(0, 4, 7)
    errors = model.gradient_check(X, y)
    assert max(errors.values()) < 1e-5, errors


def test_dropout_modes_at_test_time():
    x = np.full((2, 3), 2.0)
    assert Dropout(0.5).forward(x, training=False) is x  # inverted: untouched at prediction
    np.testing.assert_array_equal(Dropout(0.5, "vanilla").forward(x, training=False), np.full((2, 3), 1.0))
    kept = Dropout(0.5, "vanilla").forward(np.ones((50, 40)), training=True, seed=3)
    assert set(np.unique(kept)) == {0.0, 1.0}  # vanilla: a 0/1 mask, no rescaling while training
    inv = Dropout(0.5).forward(np.ones((50, 40)), training=True, seed=3)
    np.testing.assert_array_equal(inv, 2.0 * kept)  # same key → same units kept in both modes
    with pytest.raises(ValueError, match="mode"):
        Dropout(0.5, "gaussian")


def test_layers_refuse_bad_sizes():
    with pytest.raises(ValueError, match="n_out"):
        Dense(3, 0)
    with pytest.raises(ValueError, match="activation"):
        Dense(3, 2, activation="softsign")
    with pytest.raises(ValueError, match="keep_prob"):
        Dense(3, 2, keep_prob=0.0)
    with pytest.raises(ValueError, match="init"):
        Dense(3, 2, init="orthogonal")
