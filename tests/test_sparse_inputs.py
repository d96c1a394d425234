"""SciPy sparse X: a first Dense layer computes x @ W and xᵀ dz sparse × dense (never densifying x)
and gives what its dense copy gives, dropout masks included."""

import numpy as np
import pytest
import scipy.sparse

import fastmlp
from fastmlp.kernels.activation_table import NAMES
from fastmlp.layers import Dense


def _batch(dtype, rows=13, cols=21):
    return scipy.sparse.random(rows, cols, density=0.2, format="csr", random_state=4, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", NAMES)
@pytest.mark.parametrize("keep_prob", [1.0, 0.7])
def test_a_dense_layer_gives_the_same_on_a_sparse_batch(dtype, activation, keep_prob):
    x = _batch(dtype)
    sparse_layer = Dense(21, 6, activation=activation, keep_prob=keep_prob, dtype=dtype, rng=np.random.default_rng(0))
    dense_layer = Dense(21, 6, activation=activation, keep_prob=keep_prob, dtype=dtype, rng=np.random.default_rng(0))
    dense_layer.backend = "numpy"  # the reference: what the sparse path must equal
    out_s = sparse_layer.forward(x, training=True, seed=11)
    out_d = dense_layer.forward(x.toarray(), training=True, seed=11).copy()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out_s, out_d, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(out_s == 0, out_d == 0)  # the same units dropped (and ReLU-zeroed)
    dy = np.random.default_rng(1).standard_normal(out_s.shape).astype(dtype)
    dx_s = sparse_layer.backward(dy, need_dx=True)
    dx_d = dense_layer.backward(dy, need_dx=True)
    pairs = ((dx_s, dx_d), (sparse_layer.W.grad, dense_layer.W.grad), (sparse_layer.b.grad, dense_layer.b.grad))
    for got, want in pairs:
        assert type(got) is np.ndarray and got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol * 10, atol=rtol * 10)


def test_fit_and_predict_take_sparse_x_and_match_the_dense_fit():
    X = _batch(np.float64, rows=200, cols=30)
    y = (np.asarray(X[:, :4].sum(axis=1)).ravel() > 0.2).astype(int)
    nets = [fastmlp.MLP([30, 12, 2], keep_prob=0.9, seed=0, dtype="float64", backend="numba") for _ in range(2)]
    nets[0].fit(X, y, epochs=5, batch_size=32, optimizer="adam")
    nets[1].fit(X.toarray(), y, epochs=5, batch_size=32, optimizer="adam")
    np.testing.assert_allclose(nets[0].predict_scores(X.tocsc()), nets[1].predict_scores(X.toarray()), rtol=1e-9)


def test_sparse_x_is_checked_like_dense_x():
    net = fastmlp.MLP([21, 4, 2], seed=0)
    x = _batch(np.float64)
    with pytest.raises(ValueError, match="20 features but the model expects 21"):
        net.predict(x[:, :20])
    bad = x.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        net.predict(bad)
    with pytest.raises(ValueError, match="non-empty"):
        net.predict(x[:0])
    normed = fastmlp.Sequential([fastmlp.layers.BatchNorm(21), Dense(21, 2)])
    with pytest.raises(ValueError, match="needs a Dense first layer"):
        normed.predict(x)
    net.backend = "cuda"
    with pytest.raises(ValueError, match="CPU backends"):
        net._inputs(x)
