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


# ----- data-parallel hooks (fastmlp/distributed.py drives them; here without MPI) ------------------
CPU_BACKENDS = [b for b in ("numpy", "numba", "cython") if backends.is_available(b)]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_a_dense_layer_on_rows_3_onwards_of_a_batch_gives_those_rows(backend):
    """mask_row0 = 3: the rows' forward, masks and input gradient are rows 3.. of the whole
    batch's; their dW and the first rows' add up to the whole batch's."""
    rng = np.random.default_rng(0)
    X, dy = rng.normal(size=(9, 6)), rng.normal(size=(9, 5))
    layer = Dense(6, 5, "relu", keep_prob=0.6, dtype=np.float64, rng=rng)
    whole = layer._train_forward(X, 1234, backend).copy()
    dx_whole = layer._train_backward(dy, True, backend).copy()
    dW_whole = layer.W.grad.copy()
    head = [layer._train_forward(X[:3], 1234, backend).copy(), layer._train_backward(dy[:3], True, backend).copy()]
    dW_head = layer.W.grad.copy()
    layer.mask_row0 = 3
    tail = layer._train_forward(X[3:], 1234, backend)
    np.testing.assert_array_equal(tail == 0, whole[3:] == 0)  # the same units dropped (and off)
    np.testing.assert_allclose(tail, whole[3:], rtol=1e-12)
    np.testing.assert_allclose(head[0], whole[:3], rtol=1e-12)
    np.testing.assert_allclose(layer._train_backward(dy[3:], True, backend), dx_whole[3:], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(head[1], dx_whole[:3], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW_head + layer.W.grad, dW_whole, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("keep_prob", [0.5, 1.0])
def test_a_dropout_layer_on_rows_3_onwards_of_a_batch_gives_those_rows(keep_prob):
    X = np.random.default_rng(1).normal(size=(7, 4))
    layer = Dropout(keep_prob)
    whole = layer.forward(X, True, 99)
    layer.mask_row0 = 3
    np.testing.assert_array_equal(layer.forward(X[3:], True, 99), whole[3:])
    np.testing.assert_array_equal(layer.backward(np.ones((4, 4))), whole[3:] / np.where(X[3:] == 0, 1, X[3:]))


class TwoRanks:
    """BatchNorm's ``sync`` as the other rank of two would make it: adds the other half's sums
    (count and Σx, then Σ(x − mean)², then Σdy and Σdy·x̂), computed from the whole batch."""

    def __init__(self, X_other, dy_other, X_all, eps=1e-5):
        self.X_other, self.dy_other, self.calls = X_other, dy_other, 0
        self.mean, self.inv_std = X_all.mean(axis=0), 1 / np.sqrt(X_all.var(axis=0) + eps)

    def __call__(self, values):
        self.calls += 1
        n = self.X_other.shape[1]
        if self.calls == 1:
            values[:n] += self.X_other.sum(axis=0)
            values[n] += self.X_other.shape[0]
        elif self.calls == 2:
            values += ((self.X_other - self.mean) ** 2).sum(axis=0)
        else:
            xhat = (self.X_other - self.mean) * self.inv_std
            values[:n] += self.dy_other.sum(axis=0)
            values[n:] += (self.dy_other * xhat).sum(axis=0)


@pytest.mark.parametrize("rows", [0, 4, 10])
def test_synchronized_batchnorm_is_the_whole_batch_s(rows):
    """Rows 0..rows of a 10-row batch on this rank, the rest on the other: the output and dx are
    those rows of the one-process op's, dgamma/dbeta this rank's part, running statistics equal.
    rows = 0 is a rank without rows in the step (idle_forward)."""
    rng = np.random.default_rng(2)
    X, dy = rng.normal(2.0, 3.0, size=(10, 4)), rng.normal(size=(10, 4))
    one, synced = BatchNorm(4, dtype=np.float64), BatchNorm(4, dtype=np.float64)
    y_all = one.forward(X, True)
    dx_all = one.backward(dy)
    synced.sync = TwoRanks(X[rows:], dy[rows:], X)
    if rows == 0:
        synced.idle_forward()
    else:
        np.testing.assert_allclose(synced.forward(X[:rows], True), y_all[:rows], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(synced.backward(dy[:rows]), dx_all[:rows], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(synced.beta.grad, dy[:rows].sum(axis=0), rtol=1e-12)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(synced.buffers[name], one.buffers[name], rtol=1e-12)
    if rows == 10:  # one rank holds it all: the one-process gradients
        np.testing.assert_allclose(synced.gamma.grad, one.gamma.grad, rtol=1e-10)


def test_synchronized_batchnorm_refuses_a_global_batch_of_one_row():
    layer = BatchNorm(3, dtype=np.float64)
    layer.sync = lambda values: None  # one rank
    with pytest.raises(ValueError, match="at least 2 rows"):
        layer.forward(np.ones((1, 3)), True)


def test_copies_leave_a_data_parallel_run_s_bindings_behind():
    import pickle

    net = fastmlp.MLP([4, 3, 2], keep_prob=0.5, batchnorm=True, seed=0)
    for layer in net.layers:
        layer.mask_row0 = 7
        if isinstance(layer, BatchNorm):
            layer.sync = print  # anything, even unpicklable bindings
    for copy in (net.copy(), pickle.loads(pickle.dumps(net))):
        assert all(layer.mask_row0 == 0 for layer in copy.layers)
        assert all(getattr(layer, "sync", None) is None for layer in copy.layers)
