"""fastmlp.compat.cs231n checked the way the CS231n notebooks check a student's code.

Layers: analytic backward vs ``eval_numerical_gradient_array`` with the notebooks' relative
error (< 1e-7, float64, inputs kept off the ReLU/hinge kinks). Networks: every parameter's
gradient vs ``eval_numerical_gradient`` of the loss, with the NORM-WISE relative error (the
notebooks' entry-wise one has a round-off floor of ~eps·|L|/h ≈ 5e-11 per entry, which is above
1e-7 of the smallest entries of a correct gradient). Update rules: against the assignment's
formulas written out in plain NumPy here, on the notebook's inputs, plus the notebook's own
expected numbers for SGD+momentum.
"""

# ruff: noqa: NPY002 - the assignment's API draws from NumPy's global RNG; the tests seed it

from __future__ import annotations

import json

import numpy as np
import pytest

from fastmlp.compat import cs231n
from fastmlp.compat.cs231n import (
    FullyConnectedNet,
    Solver,
    TwoLayerNet,
    adam,
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    layernorm_backward,
    layernorm_forward,
    rel_error,
    relu_backward,
    relu_forward,
    rmsprop,
    sgd,
    sgd_momentum,
    softmax_loss,
    svm_loss,
)
from tolerances import BINOMIAL_SIGMAS

LAYER_REL_ERR = 1e-7  # the brief's bar; correct layers give 1e-9 .. 1e-11 here
NET_REL_ERR = 1e-7  # norm-wise; correct nets give 1e-8 .. 1e-11 here
ZERO_GRAD_ATOL = 1e-8  # biases feeding batch norm: the true gradient is 0


def norm_rel_error(got, want):
    """max|got - want| / max(max|got|, max|want|)."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    scale = max(np.abs(got).max(), np.abs(want).max(), 1e-300)
    return float(np.abs(got - want).max() / scale)


def off_kink(rng, shape, gap=0.05):
    """Normal entries with |x| >= gap, so x ± h never crosses ReLU's kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < gap, np.copysign(gap, x) + x, x)


@pytest.fixture
def rng():
    return np.random.default_rng(231)


# ---------------------------------------------------------------- affine, relu


def test_affine_forward_reshapes_like_the_assignment(rng):
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((120, 3))
    b = rng.standard_normal(3)
    out, cache = affine_forward(x, w, b)
    want = x.reshape(2, -1) @ w + b
    assert out.shape == (2, 3)
    assert rel_error(out, want) < LAYER_REL_ERR
    assert cache[0] is x and cache[1] is w and cache[2] is b


def test_affine_backward_matches_numerical_gradient(rng):
    x = rng.standard_normal((10, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    dx_num = eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx_num, dx) < LAYER_REL_ERR
    assert rel_error(dw_num, dw) < LAYER_REL_ERR
    assert rel_error(db_num, db) < LAYER_REL_ERR


def test_relu_forward_and_backward(rng):
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, cache = relu_forward(x)
    assert rel_error(out, np.maximum(0, x)) < LAYER_REL_ERR
    x = off_kink(rng, (10, 10))
    dout = rng.standard_normal((10, 10))
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    _, cache = relu_forward(x)
    assert rel_error(dx_num, relu_backward(dout, cache)) < LAYER_REL_ERR


def test_affine_relu_matches_numerical_gradient(rng):
    x = rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((12, 10))
    b = rng.standard_normal(10)
    # keep pre-activations off the kink: shift b so no |x w + b| is tiny
    a = x.reshape(2, -1) @ w + b
    b = b + np.where(np.abs(a).min(axis=0) < 0.05, 0.1, 0.0)
    dout = rng.standard_normal((2, 10))
    out, cache = affine_relu_forward(x, w, b)
    assert rel_error(out, np.maximum(0, x.reshape(2, -1) @ w + b)) < LAYER_REL_ERR
    dx, dw, db = affine_relu_backward(dout, cache)
    f = lambda x, w, b: affine_relu_forward(x, w, b)[0]  # noqa: E731
    assert rel_error(eval_numerical_gradient_array(lambda x: f(x, w, b), x, dout), dx) < LAYER_REL_ERR
    assert rel_error(eval_numerical_gradient_array(lambda w: f(x, w, b), w, dout), dw) < LAYER_REL_ERR
    assert rel_error(eval_numerical_gradient_array(lambda b: f(x, w, b), b, dout), db) < LAYER_REL_ERR
    # the cache also works with the unfused pair, as a student's code may use it
    fc_cache, relu_cache = cache
    dx2, _, _ = affine_backward(relu_backward(dout, relu_cache), fc_cache)
    assert rel_error(dx2, dx) < LAYER_REL_ERR


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_keeps_a_p_fraction_and_preserves_the_mean(rng, p):
    x = rng.standard_normal((500, 500)) + 10
    out, _ = dropout_forward(x, {"mode": "train", "p": p, "seed": 123})
    kept = np.count_nonzero(out)
    n = x.size
    assert abs(kept - p * n) < BINOMIAL_SIGMAS * np.sqrt(n * p * (1 - p))
    assert np.allclose(out[out != 0], x[out != 0] / p)  # inverted dropout: kept units scaled by 1/p
    assert abs(out.mean() - x.mean()) < 0.05 * x.mean()


def test_dropout_test_mode_is_the_identity(rng):
    x = rng.standard_normal((20, 30))
    out, cache = dropout_forward(x, {"mode": "test", "p": 0.3})
    assert out is x
    dout = rng.standard_normal((20, 30))
    assert dropout_backward(dout, cache) is dout


def test_dropout_seed_determinism_and_global_rng(rng):
    x = rng.standard_normal((40, 50))
    a, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    b, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    np.testing.assert_array_equal(a, b)
    # without a seed each call draws one from NumPy's global RNG: fresh masks, repeatable runs
    np.random.seed(0)
    c, _ = dropout_forward(x, {"mode": "train", "p": 0.5})
    d, _ = dropout_forward(x, {"mode": "train", "p": 0.5})
    np.random.seed(0)
    e, _ = dropout_forward(x, {"mode": "train", "p": 0.5})
    assert not np.array_equal(c, d)
    np.testing.assert_array_equal(c, e)


def test_dropout_backward_matches_numerical_gradient(rng):
    x = rng.standard_normal((10, 10)) + 10
    dout = rng.standard_normal((10, 10))
    param = {"mode": "train", "p": 0.2, "seed": 123}
    _, cache = dropout_forward(x, param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda x: dropout_forward(x, param)[0], x, dout)
    assert rel_error(dx_num, dx) < LAYER_REL_ERR


def test_dropout_errors_name_the_key(rng):
    with pytest.raises(ValueError, match="mode"):
        dropout_forward(np.ones((2, 2)), {"p": 0.5})
    with pytest.raises(ValueError, match="'p'"):
        dropout_forward(np.ones((2, 2)), {"mode": "train"})


# ---------------------------------------------------------------- batch norm, layer norm


def test_batchnorm_forward_statistics(rng):
    N, D1, D2, D3 = 200, 50, 60, 3
    X = rng.standard_normal((N, D1))
    W1 = rng.standard_normal((D1, D2))
    W2 = rng.standard_normal((D2, D3))
    a = np.maximum(0, X @ W1) @ W2
    gamma, beta = np.asarray([1.0, 2.0, 3.0]), np.asarray([11.0, 12.0, 13.0])
    out, _ = batchnorm_forward(a, gamma, beta, {"mode": "train"})
    assert rel_error(out.mean(axis=0), beta) < 1e-7
    assert np.allclose(out.std(axis=0), gamma, rtol=1e-4)


def test_batchnorm_running_stats_mutate_bn_param(rng):
    D = 3
    bn_param = {"mode": "train"}
    x = rng.standard_normal((50, D)) * 2 + 5
    out, _ = batchnorm_forward(x, np.ones(D), np.zeros(D), bn_param)
    assert bn_param["running_mean"].dtype == x.dtype
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], 0.1 * x.var(axis=0), rtol=1e-12)
    # the arrays passed in are replaced, not written into (the assignment rebinds them)
    old_mean = bn_param["running_mean"]
    snapshot = old_mean.copy()
    batchnorm_forward(x, np.ones(D), np.zeros(D), bn_param)
    assert bn_param["running_mean"] is not old_mean
    np.testing.assert_array_equal(old_mean, snapshot)
    # after many training passes, test mode normalises with the running statistics
    gamma, beta = np.asarray([1.0, 2.0, 3.0]), np.asarray([0.0, -1.0, 4.0])
    bn_param = {"mode": "train", "momentum": 0.9}
    for _ in range(100):
        batchnorm_forward(rng.standard_normal((50, D)) * 2 + 5, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(rng.standard_normal((500, D)) * 2 + 5, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=0.3)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=0.15)


def test_batchnorm_keeps_float32(rng):
    x = rng.standard_normal((8, 4)).astype(np.float32)
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32), bn_param)
    assert out.dtype == np.float32 and bn_param["running_var"].dtype == np.float32


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_matches_numerical_gradient(rng, backward):
    N, D = 4, 5
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma = rng.standard_normal(D)
    beta = rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    bn_param = {"mode": "train"}
    dx_num = eval_numerical_gradient_array(lambda x: batchnorm_forward(x, gamma, beta, bn_param)[0], x, dout)
    da_num = eval_numerical_gradient_array(lambda g: batchnorm_forward(x, g, beta, bn_param)[0], gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(lambda b: batchnorm_forward(x, gamma, b, bn_param)[0], beta.copy(), dout)
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = backward(dout, cache)
    assert rel_error(dx_num, dx) < LAYER_REL_ERR
    assert rel_error(da_num, dgamma) < LAYER_REL_ERR
    assert rel_error(db_num, dbeta) < LAYER_REL_ERR


def test_layernorm_forward_and_backward(rng):
    N, D = 4, 5
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma = rng.standard_normal(D)
    beta = rng.standard_normal(D)
    out, _ = layernorm_forward(x, np.ones(D), np.zeros(D), {})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=1), 1, rtol=1e-5)
    dout = rng.standard_normal((N, D))
    ln_param = {}
    dx_num = eval_numerical_gradient_array(lambda x: layernorm_forward(x, gamma, beta, ln_param)[0], x, dout)
    da_num = eval_numerical_gradient_array(lambda g: layernorm_forward(x, g, beta, ln_param)[0], gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(lambda b: layernorm_forward(x, gamma, b, ln_param)[0], beta.copy(), dout)
    _, cache = layernorm_forward(x, gamma, beta, ln_param)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    assert rel_error(dx_num, dx) < LAYER_REL_ERR
    assert rel_error(da_num, dgamma) < LAYER_REL_ERR
    assert rel_error(db_num, dbeta) < LAYER_REL_ERR


# ---------------------------------------------------------------- losses


def test_softmax_and_svm_loss(rng):
    num_classes, num_inputs = 10, 50
    x = 0.001 * rng.standard_normal((num_inputs, num_classes))
    y = rng.integers(num_classes, size=num_inputs)

    loss, dx = softmax_loss(x, y)
    dx_num = eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x, verbose=False)
    assert abs(loss - np.log(num_classes)) < 1e-2
    shifted = x - x.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert abs(loss - (-logp[np.arange(num_inputs), y].mean())) < 1e-12
    assert rel_error(dx_num, dx) < LAYER_REL_ERR

    loss, dx = svm_loss(x, y)
    dx_num = eval_numerical_gradient(lambda x: svm_loss(x, y)[0], x, verbose=False)
    margins = np.maximum(0, x - x[np.arange(num_inputs), y][:, None] + 1.0)
    margins[np.arange(num_inputs), y] = 0
    assert abs(loss - margins.sum() / num_inputs) < 1e-12
    assert abs(loss - (num_classes - 1)) < 0.1
    assert rel_error(dx_num, dx) < LAYER_REL_ERR


# ---------------------------------------------------------------- update rules


def notebook_inputs():
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    return N, D, w, dw


def test_sgd():
    _, _, w, dw = notebook_inputs()
    w0 = w.copy()
    next_w, config = sgd(w, dw, {"learning_rate": 1e-3})
    assert rel_error(next_w, w0 - 1e-3 * dw) < 1e-12
    np.testing.assert_array_equal(w, w0)  # the caller's w is untouched
    _, config = sgd(w, dw)
    assert config["learning_rate"] == 1e-2


def test_sgd_momentum_matches_the_notebook():
    N, D, w, dw = notebook_inputs()
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, _ = sgd_momentum(w, dw, config=config)
    want_v = 0.9 * v - 1e-3 * dw  # the assignment: v = mu v - lr dw; next_w = w + v
    want_w = w + want_v
    assert rel_error(next_w, want_w) < 1e-8
    assert rel_error(config["velocity"], want_v) < 1e-8
    # the notebook's printed expectation (8 significant digits), first rows
    assert rel_error(next_w[0], [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789]) < 1e-7
    assert rel_error(config["velocity"][0], [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158]) < 1e-7
    assert config["momentum"] == 0.9


def test_rmsprop_matches_the_formula():
    N, D, w, dw = notebook_inputs()
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "cache": cache}
    next_w, _ = rmsprop(w, dw, config=config)
    want_cache = 0.99 * cache + (1 - 0.99) * dw**2
    want_w = w - 1e-2 * dw / (np.sqrt(want_cache) + 1e-8)
    assert rel_error(next_w, want_w) < 1e-8
    assert rel_error(config["cache"], want_cache) < 1e-8
    assert (config["decay_rate"], config["epsilon"]) == (0.99, 1e-8)


def test_adam_matches_the_formula():
    N, D, w, dw = notebook_inputs()
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": 5}
    next_w, _ = adam(w, dw, config=config)
    t = 6  # incremented before use
    want_m = 0.9 * m + 0.1 * dw
    want_v = 0.999 * v + 0.001 * dw**2
    want_w = w - 1e-2 * (want_m / (1 - 0.9**t)) / (np.sqrt(want_v / (1 - 0.999**t)) + 1e-8)
    assert rel_error(next_w, want_w) < 1e-8
    assert rel_error(config["m"], want_m) < 1e-8
    assert rel_error(config["v"], want_v) < 1e-8
    assert config["t"] == 6
    # the caller's state arrays are replaced, not written into
    np.testing.assert_array_equal(m, np.linspace(0.6, 0.9, num=N * D).reshape(N, D))


def test_update_rules_outside_fastmlps_ranges_use_the_same_formula():
    _, _, w, dw = notebook_inputs()
    next_w, config = sgd_momentum(w, dw, {"learning_rate": 0.0, "velocity": np.ones_like(w)})
    assert rel_error(config["velocity"], 0.9 * np.ones_like(w)) < 1e-12
    assert rel_error(next_w, w + 0.9) < 1e-12
    next_w, config = adam(w, dw, {"learning_rate": 0.0})
    np.testing.assert_array_equal(next_w, w)
    assert config["t"] == 1


# ---------------------------------------------------------------- networks

NET_CONFIGS = [
    # (normalization, dropout_keep_ratio, reg)
    (None, 1, 0.0),
    (None, 1, 3.14),
    (None, 0.5, 0.0),
    ("batchnorm", 1, 0.0),
    ("batchnorm", 1, 3.14),
    ("batchnorm", 0.5, 3.14),
    ("layernorm", 0.5, 3.14),
]


@pytest.mark.slow
@pytest.mark.parametrize(("normalization", "keep", "reg"), NET_CONFIGS)
def test_fully_connected_net_gradients(normalization, keep, reg):
    np.random.seed(231)
    # 10 rows: with the notebook's 2, batch norm is nearly degenerate (xhat = ±1) and finite
    # differences lose accuracy near var ≈ eps
    N, D, H1, H2, C = 10, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    model = FullyConnectedNet(
        [H1, H2],
        input_dim=D,
        num_classes=C,
        dropout_keep_ratio=keep,
        normalization=normalization,
        reg=reg,
        weight_scale=5e-2,
        dtype=np.float64,
        seed=123,
    )
    loss, grads = model.loss(X, y)
    assert sorted(grads) == sorted(model.params)
    assert np.isfinite(loss)
    for name in sorted(grads):
        grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-5)
        if normalization == "batchnorm" and name in ("b1", "b2"):
            # a bias feeding batch norm shifts the batch mean only: its true gradient is 0
            assert np.abs(grads[name]).max() < ZERO_GRAD_ATOL
            assert np.abs(grad_num).max() < ZERO_GRAD_ATOL
            continue
        assert norm_rel_error(grad_num, grads[name]) < NET_REL_ERR, name


def test_fully_connected_net_initial_loss_and_params():
    np.random.seed(0)
    model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, normalization="batchnorm", weight_scale=1e-3)
    assert list(model.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert model.params["W1"].shape == (15, 20) and model.params["gamma2"].shape == (30,)
    X = np.random.randn(50, 3, 5)  # (N, d_1, d_2) is flattened
    y = np.random.randint(10, size=50)
    loss, grads = model.loss(X, y)
    assert abs(loss - np.log(10)) < 0.1
    assert grads["W1"].dtype == np.float32
    scores = model.loss(X)
    assert scores.shape == (50, 10)
    assert all(p["mode"] == "test" for p in model.bn_params)
    # reg adds 0.5 * reg * sum(W**2)
    model.reg = 2.0
    loss_reg, _ = model.loss(X, y)
    penalty = sum(0.5 * 2.0 * np.sum(model.params[f"W{i}"].astype(np.float64) ** 2) for i in (1, 2, 3))
    assert abs(loss_reg - loss - penalty) < 1e-4


def test_fully_connected_net_rejects_unknown_normalization():
    with pytest.raises(ValueError, match="normalization"):
        FullyConnectedNet([10], normalization="groupnorm")


def test_two_layer_net_scores_and_gradients():
    N, D, H, C = 3, 5, 50, 7
    X = np.random.default_rng(0).standard_normal((N, D))
    y = np.asarray([0, 5, 1])
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    assert model.params["W1"].dtype == np.float64
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    Xl = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    want = np.maximum(0, Xl @ model.params["W1"] + model.params["b1"]) @ model.params["W2"] + model.params["b2"]
    assert rel_error(model.loss(Xl), want) < 1e-10
    for reg in (0.0, 0.7):
        model.reg = reg
        _, grads = model.loss(X, y)
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False)
            assert norm_rel_error(grad_num, grads[name]) < NET_REL_ERR, name


# ---------------------------------------------------------------- solver


def overfit_data(n_train=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train + 20, 3, 8, 8))
    y = rng.integers(10, size=n_train + 20)
    return {"X_train": X[:n_train], "y_train": y[:n_train], "X_val": X[n_train:], "y_val": y[n_train:]}


@pytest.mark.parametrize("update_rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_solver_overfits_50_samples(update_rule, capsys):
    np.random.seed(231)
    data = overfit_data()
    model = FullyConnectedNet([100, 100], input_dim=3 * 8 * 8, num_classes=10, weight_scale=1e-1)
    # each reaches 100% a few epochs before the end (0.2-0.4 s per run here)
    lr = {"sgd": 1e-1, "sgd_momentum": 2e-2, "rmsprop": 1e-3, "adam": 2e-3}[update_rule]
    solver = Solver(
        model,
        data,
        update_rule=update_rule,
        optim_config={"learning_rate": lr},
        num_epochs=20,
        batch_size=25,
        print_every=10,
        num_train_samples=None,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.loss_history) == 20 * 2
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 21  # first iteration + 20 epochs
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert set(solver.best_params) == set(model.params)
    assert "(Epoch 20 / 20) train acc: 1.000000" in capsys.readouterr().out


def test_solver_checkpoint_is_npz_without_pickle(tmp_path):
    np.random.seed(0)
    data = overfit_data(n_train=20)
    model = FullyConnectedNet([10], input_dim=3 * 8 * 8, num_classes=10)
    name = str(tmp_path / "ckpt")
    solver = Solver(
        model,
        data,
        num_epochs=2,
        batch_size=10,
        verbose=False,
        checkpoint_name=name,
        optim_config={"learning_rate": 1e-2},
    )
    solver.train()
    with np.load(f"{name}_epoch_2.npz", allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        assert meta["epoch"] == 2 and meta["update_rule"] == "sgd"
        assert len(meta["loss_history"]) == 4
        assert f["param_W1"].shape == (192, 10)


def test_solver_options():
    data = overfit_data(n_train=20)
    model = FullyConnectedNet([10], input_dim=3 * 8 * 8, num_classes=10)
    with pytest.raises(ValueError, match='Unrecognized arguments "bogus"'):
        Solver(model, data, bogus=1)
    with pytest.raises(ValueError, match="update_rule"):
        Solver(model, data, update_rule="nesterov")
    calls = []

    def my_rule(w, dw, config=None):
        calls.append(1)
        return cs231n.optim.sgd(w, dw, config)

    solver = Solver(
        model,
        data,
        update_rule=my_rule,
        num_epochs=1,
        batch_size=10,
        verbose=False,
        lr_decay=0.5,
        optim_config={"learning_rate": 1e-2},
    )
    solver.train()
    assert len(calls) == 2 * len(model.params)
    assert all(c["learning_rate"] == 5e-3 for c in solver.optim_configs.values())
    acc = solver.check_accuracy(data["X_val"], data["y_val"], num_samples=5, batch_size=2)
    assert 0.0 <= acc <= 1.0


# ---------------------------------------------------------------- gradient-check helpers


def test_gradient_check_helpers(capsys):
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    grad = eval_numerical_gradient(lambda x: float(np.sum(x**3)), x, verbose=True)
    assert rel_error(grad, 3 * x**2) < 1e-8
    assert "(0, 0)" in capsys.readouterr().out
    grad_check_sparse(lambda x: float(np.sum(x**3)), x, 3 * x**2, num_checks=3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert all(float(line.rsplit(" ", 1)[1]) < 1e-8 for line in lines)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
