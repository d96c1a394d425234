"""Every backward of the reference against central finite differences of its forward (float64).

For a forward y = f(x) and a random upstream gradient dy, the scalar L = Σ dy·y has ∂L/∂x equal
to what the backward returns for dy. Inputs are kept KINK_GAP away from non-differentiable points
(ReLU at 0, hinge corners, |f - y| at 0, maxout ties), so x ± h never crosses one.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastmlp.kernels import reference as ref
from tolerances import FD_REL_ERR, FD_STEP, KINK_GAP

SEED, STREAM = 0x5EED_0F_FA57, 3


def numeric_grad(f, x, h=FD_STEP):
    """Central differences of the scalar f() with respect to each entry of x (perturbed in place)."""
    grad = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f()
        x[idx] = old - h
        f_minus = f()
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(got, want):
    """Norm-wise relative error max|got - want| / max(max|got|, max|want|)."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert got.shape == want.shape
    scale = max(np.abs(got).max(), np.abs(want).max(), 1e-300)
    return float(np.abs(got - want).max() / scale)


def check(f, wrt: dict, analytic: dict):
    """Assert the analytic gradient of f() wrt each named array equals the numeric one."""
    for name, x in wrt.items():
        want = numeric_grad(f, x)
        assert np.abs(want).max() > 0, f"degenerate check: d/d{name} is identically 0"
        err = rel_error(analytic[name], want)
        assert err < FD_REL_ERR, f"d/d{name}: relative error {err:.2e}"


def away_from(values, points=(0.0,), gap=KINK_GAP):
    """True when every value is at least ``gap`` from every kink point."""
    return all(np.abs(np.asarray(values) - p).min() >= gap for p in points)


def draw(make, ok, start=0):
    """make(rng) for the first seed whose inputs satisfy ok(inputs): deterministic and kink-free."""
    for seed in range(start, start + 100):
        inputs = make(np.random.default_rng(seed))
        if ok(inputs):
            return inputs
    raise AssertionError("no kink-free inputs in 100 seeds")


def randn(rng, *shape):
    return rng.standard_normal(shape)


def signed(rng, *shape):
    """|v| in [0.1, 1.1]: far from 0."""
    return rng.choice([-1.0, 1.0], shape) * (0.1 + rng.random(shape))


# ---------------------------------------------------------------------------------------------
def test_affine_backward():
    rng = np.random.default_rng(0)
    x, w, b, dy = randn(rng, 4, 3), randn(rng, 3, 5), randn(rng, 5), randn(rng, 4, 5)
    dx, dw, db = ref.affine_backward(dy, x, w)
    check(lambda: (dy * ref.affine_forward(x, w, b)).sum(), {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db})


@pytest.mark.parametrize("keep_prob", [1.0, 0.7])
@pytest.mark.parametrize("activation", ["identity", "relu", "leaky_relu", "sigmoid", "tanh"])
def test_dense_backward(activation, keep_prob):
    def make(rng):
        return randn(rng, 4, 3), randn(rng, 3, 5), randn(rng, 5), randn(rng, 4, 5)

    x, w, b, dout = draw(make, lambda a: away_from(a[0] @ a[1] + a[2]))  # pre-activations off 0
    opts = {"activation": activation, "keep_prob": keep_prob, "seed": SEED, "stream": STREAM, "alpha": 0.05}
    out = ref.dense_forward(x, w, b, **opts)
    if keep_prob < 1:  # the mask drops some units and keeps others
        assert 0 < (ref.dropout_mask(out.shape, keep_prob, SEED, STREAM) == 0).sum() < out.size
    dx, dw, db = ref.dense_backward(dout, x, w, out, **opts)
    check(
        lambda: (dout * ref.dense_forward(x, w, b, **opts)).sum(), {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}
    )


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_elementwise_backward(name):
    rng = np.random.default_rng(1)
    x, dy = signed(rng, 3, 4) * 2, randn(rng, 3, 4)
    extra = (0.05,) if name == "leaky_relu" else ()
    forward, backward = getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward")
    saved = x if name == "leaky_relu" else forward(x, *extra)  # leaky takes x, the others y
    dx = backward(dy, saved, *extra)
    check(lambda: (dy * forward(x, *extra)).sum(), {"x": x}, {"x": dx})


def test_prelu_backward():
    rng = np.random.default_rng(2)
    x, dy, alpha = signed(rng, 5, 3), randn(rng, 5, 3), rng.uniform(0.05, 0.5, 3)
    x[0] = -np.abs(x[0])  # every unit has a negative input: dalpha is non-zero
    dx, dalpha = ref.prelu_backward(dy, x, alpha)
    check(lambda: (dy * ref.prelu_forward(x, alpha)).sum(), {"x": x, "alpha": alpha}, {"x": dx, "alpha": dalpha})


@pytest.mark.parametrize("k", [1, 2, 3])
def test_maxout_backward(k):
    def make(rng):
        return randn(rng, 4, 3 * k), randn(rng, 4, 3)

    def no_ties(a):
        if k == 1:
            return True
        top2 = np.sort(a[0].reshape(4, 3, k), axis=2)[:, :, -2:]
        return (top2[:, :, 1] - top2[:, :, 0]).min() >= KINK_GAP

    z, dy = draw(make, no_ties)
    _, idx = ref.maxout_forward(z, k)
    dz = ref.maxout_backward(dy, idx, k)
    check(lambda: (dy * ref.maxout_forward(z, k)[0]).sum(), {"z": z}, {"z": dz})


def test_dropout_backward():
    rng = np.random.default_rng(3)
    x, dy = randn(rng, 4, 5), randn(rng, 4, 5)
    dx = ref.dropout_backward(dy, 0.7, SEED, STREAM)
    check(lambda: (dy * ref.dropout_forward(x, 0.7, SEED, STREAM)).sum(), {"x": x}, {"x": dx})


def test_dropconnect_backward():
    rng = np.random.default_rng(4)
    x, w, b, dy = randn(rng, 4, 3), randn(rng, 3, 5), randn(rng, 5), randn(rng, 4, 5)
    dx, dw, db = ref.dropconnect_backward(dy, x, w, 0.7, SEED, STREAM)
    assert (dw == 0).any()  # dropped weights get no gradient
    check(
        lambda: (dy * ref.dropconnect_forward(x, w, b, 0.7, SEED, STREAM)).sum(),
        {"x": x, "w": w, "b": b},
        {"x": dx, "w": dw, "b": db},
    )


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_backward(training):
    rng = np.random.default_rng(5)
    x, dy = randn(rng, 6, 4) * 2 + 1, randn(rng, 6, 4)
    gamma, beta = randn(rng, 4), randn(rng, 4)
    rm, rv = randn(rng, 4), rng.uniform(0.5, 2, 4)

    def forward():  # copies: each call must see the same running statistics
        return ref.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training, 0.9, 1e-3)

    _, mean, inv_std = forward()
    dx, dgamma, dbeta = ref.batchnorm_backward(dy, x, gamma, mean, inv_std, training)
    check(
        lambda: (dy * forward()[0]).sum(),
        {"x": x, "gamma": gamma, "beta": beta},
        {"x": dx, "gamma": dgamma, "beta": dbeta},
    )


# ---------------------------------------------------------------------------------------------
# Losses: d(loss)/d(scores) against the returned dscores.
# ---------------------------------------------------------------------------------------------
def _labels(rng, n=5, c=4):
    return randn(rng, n, c) * 2, rng.integers(0, c, n)


def _hinge_margins(scores, y, margin):
    rows = np.arange(len(y))
    m = scores - scores[rows, y][:, None] + margin
    m[rows, y] = margin + 10  # the correct class has no hinge: never a kink
    return m


LOSS_CASES = {
    "softmax_cross_entropy": (lambda s, y: ref.softmax_cross_entropy(s, y), _labels, lambda a: True),
    "svm_loss": (lambda s, y: ref.svm_loss(s, y, 1.0), _labels, lambda a: away_from(_hinge_margins(*a, 1.0))),
    "svm_squared": (lambda s, y: ref.svm_loss(s, y, 1.0, True), _labels, lambda a: away_from(_hinge_margins(*a, 1.0))),
    "sigmoid_cross_entropy": (
        ref.sigmoid_cross_entropy,
        lambda rng: (randn(rng, 5, 4) * 3, rng.random((5, 4))),
        lambda a: True,
    ),
    "attribute_hinge_loss": (
        ref.attribute_hinge_loss,
        lambda rng: (randn(rng, 5, 4) * 2, rng.choice([-1.0, 1.0], (5, 4))),
        lambda a: away_from(1 - a[0] * a[1]),
    ),
    "l2_loss": (ref.l2_loss, lambda rng: (randn(rng, 5, 3), randn(rng, 5, 3)), lambda a: True),
    "l1_loss": (ref.l1_loss, lambda rng: (randn(rng, 5, 3), randn(rng, 5, 3)), lambda a: away_from(a[0] - a[1])),
}


@pytest.mark.parametrize("case", LOSS_CASES)
def test_loss_gradient(case):
    loss_fn, make, ok = LOSS_CASES[case]
    scores, target = draw(make, ok)
    loss, dscores = loss_fn(scores, target)
    assert loss > 0
    check(lambda: loss_fn(scores, target)[0], {"scores": scores}, {"scores": dscores})


def test_weight_decay_is_gradient_of_half_l2():
    """sgd_update with λ steps along dw + ∇(½λ‖w‖²), the notes' L2 regularization."""
    rng = np.random.default_rng(6)
    w, dw, lam, lr = randn(rng, 3, 4), randn(rng, 3, 4), 0.3, 0.1
    reg_grad = numeric_grad(lambda: 0.5 * lam * (w * w).sum(), w)
    got = w.copy()
    ref.sgd_update(got, dw, lr, lam)
    assert rel_error(got, w - lr * (dw + reg_grad)) < FD_REL_ERR
