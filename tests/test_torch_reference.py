"""The reference replayed in PyTorch (float64, CPU): forward values and autograd gradients.

Skipped where torch is not installed, except where ``FASTMLP_REQUIRE_TORCH=1`` (CI sets it):
there a missing torch fails the run instead of silently dropping these checks. Each comparison
notes how torch's convention maps to ours.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastmlp.kernels import reference as ref
from tolerances import assert_close

if os.environ.get("FASTMLP_REQUIRE_TORCH") == "1":
    import torch  # a failed import here fails the run: CI promised these comparisons
else:
    torch = pytest.importorskip("torch")
F = torch.nn.functional


def t(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def grads_of(out, dy, *leaves):
    """Gradients of Σ dy·out (or of a scalar out when dy is None) wrt the leaves, as ndarrays."""
    scalar = out if dy is None else (out * torch.as_tensor(dy)).sum()
    return tuple(g.numpy() for g in torch.autograd.grad(scalar, leaves))


@pytest.fixture
def rng():
    return np.random.default_rng(2013)


def test_affine(rng):
    x, w, b, dy = (rng.standard_normal(s) for s in [(4, 3), (3, 5), (5,), (4, 5)])
    tx, tw, tb = t(x), t(w), t(b)
    out = tx @ tw + tb
    assert_close(ref.affine_forward(x, w, b), out.detach().numpy())
    for got, want in zip(ref.affine_backward(dy, x, w), grads_of(out, dy, tx, tw, tb)):
        assert_close(got, want)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_elementwise(rng, name):
    x, dy = rng.standard_normal((4, 6)) * 3, rng.standard_normal((4, 6))
    tx = t(x)
    torch_fn = {
        "relu": F.relu,
        "leaky_relu": lambda v: F.leaky_relu(v, 0.05),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }[name]
    extra = (0.05,) if name == "leaky_relu" else ()
    out = torch_fn(tx)
    y = getattr(ref, f"{name}_forward")(x, *extra)
    assert_close(y, out.detach().numpy())
    saved = x if name == "leaky_relu" else y
    assert_close(getattr(ref, f"{name}_backward")(dy, saved, *extra), grads_of(out, dy, tx)[0])


def test_prelu(rng):
    # F.prelu on (N, C) input: one slope per column (channel dim 1)
    x, dy, alpha = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.uniform(0.05, 0.5, 3)
    tx, ta = t(x), t(alpha)
    out = F.prelu(tx, ta)
    assert_close(ref.prelu_forward(x, alpha), out.detach().numpy())
    dx, dalpha = ref.prelu_backward(dy, x, alpha)
    want_dx, want_dalpha = grads_of(out, dy, tx, ta)
    assert_close(dx, want_dx)
    assert_close(dalpha, want_dalpha)


def test_softmax_cross_entropy(rng):
    scores, y = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    ts = t(scores)
    loss_t = F.cross_entropy(ts, torch.as_tensor(y))  # reduction="mean" over rows, like ours
    loss, dscores = ref.softmax_cross_entropy(scores, y)
    assert_close(loss, loss_t.item())
    assert_close(dscores, grads_of(loss_t, None, ts)[0])


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("margin", [1.0, 2.5])
def test_svm_multi_margin(rng, margin, squared):
    # torch: loss(x, y) = Σ_{j≠y} max(0, margin - x[y] + x[j])^p / C  (divides by the class count
    # C), then the mean over rows: ours (no 1/C) = C · torch's
    n, c = 6, 5
    scores, y = rng.standard_normal((n, c)) * 2, rng.integers(0, c, n)
    ts = t(scores)
    loss_t = c * F.multi_margin_loss(ts, torch.as_tensor(y), p=2 if squared else 1, margin=margin)
    loss, dscores = ref.svm_loss(scores, y, margin, squared)
    assert_close(loss, loss_t.item())
    assert_close(dscores, grads_of(loss_t, None, ts)[0])


def test_sigmoid_cross_entropy(rng):
    # BCE-with-logits summed over attributes, averaged over rows
    scores, targets = rng.standard_normal((5, 4)) * 4, rng.random((5, 4))
    ts = t(scores)
    loss_t = F.binary_cross_entropy_with_logits(ts, t(targets, False), reduction="sum") / 5
    loss, dscores = ref.sigmoid_cross_entropy(scores, targets)
    assert_close(loss, loss_t.item())
    assert_close(dscores, grads_of(loss_t, None, ts)[0])


@pytest.mark.parametrize("name", ["l1_loss", "l2_loss"])
def test_regression_losses(rng, name):
    pred, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))  # f ≠ y: L1 is smooth
    tp = t(pred)
    torch_fn = F.l1_loss if name == "l1_loss" else F.mse_loss  # mse: Σ (f - y)², no ½
    loss_t = torch_fn(tp, t(target, False), reduction="sum") / 5
    loss, dpred = getattr(ref, name)(pred, target)
    assert_close(loss, loss_t.item())
    assert_close(dpred, grads_of(loss_t, None, tp)[0])


def test_batchnorm_training(rng):
    # torch's running var uses the UNBIASED variance and momentum = 1 - ours: compare y, the
    # gradients, and the running mean (whose update is the same formula in either convention)
    x, dy = rng.standard_normal((6, 4)) * 2 + 1, rng.standard_normal((6, 4))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    tx, tg, tb = t(x), t(gamma), t(beta)
    t_rm, t_rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    out = F.batch_norm(tx, t_rm, t_rv, tg, tb, training=True, momentum=1 - 0.9, eps=1e-5)
    rm, rv = np.zeros(4), np.ones(4)
    y, mean, inv_std = ref.batchnorm_forward(x, gamma, beta, rm, rv, True, 0.9, 1e-5)
    assert_close(y, out.detach().numpy())
    assert_close(rm, t_rm.numpy())
    for got, want in zip(ref.batchnorm_backward(dy, x, gamma, mean, inv_std), grads_of(out, dy, tx, tg, tb)):
        assert_close(got, want)


# ---------------------------------------------------------------------------------------------
# Optimizers: several steps with changing gradients; w and the state compared after each step.
# ---------------------------------------------------------------------------------------------
def _run_torch(make_opt, w0, grads):
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = make_opt([p])
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        yield p.detach().numpy().copy(), opt.state[p]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum(rng, nesterov, weight_decay):
    # torch: b = μ b + g; w -= lr·b (Nesterov: w -= lr·(g + μ b)). Ours: v = μ v - lr g; w += v
    # (Nesterov: w += -μ v_prev + (1+μ) v). With v = -lr·b both give the same w at every step:
    # Nesterov: -μ v_prev + (1+μ) v = lr μ b_prev - (1+μ) lr (μ b_prev + g) = -lr (g + μ b).
    lr, mu = 0.1, 0.9
    w0, grads = rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(3)]
    w, v = w0.copy(), np.zeros_like(w0)
    steps = _run_torch(
        lambda p: torch.optim.SGD(p, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=weight_decay), w0, grads
    )
    for g, (want_w, state) in zip(grads, steps):
        ref.momentum_update(w, g, v, lr, mu, weight_decay, nesterov)
        assert_close(w, want_w)
        assert_close(v, -lr * state["momentum_buffer"].numpy())


def test_sgd_plain(rng):
    w0, grads = rng.standard_normal(5), [rng.standard_normal(5) for _ in range(2)]
    w = w0.copy()
    for g, (want_w, _) in zip(grads, _run_torch(lambda p: torch.optim.SGD(p, lr=0.3, weight_decay=0.2), w0, grads)):
        ref.sgd_update(w, g, 0.3, 0.2)
        assert_close(w, want_w)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("n_steps", [1, 3])
def test_adam(rng, n_steps, weight_decay):
    # torch.optim.Adam (not AdamW): weight_decay adds λw to the gradient, as ours does;
    # w -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps) = ours rearranged
    hyper = {"lr": 1e-2, "betas": (0.8, 0.95), "eps": 1e-6}
    w0, grads = rng.standard_normal((2, 3)), [rng.standard_normal((2, 3)) for _ in range(n_steps)]
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    steps = _run_torch(lambda p: torch.optim.Adam(p, weight_decay=weight_decay, **hyper), w0, grads)
    for step, (g, (want_w, state)) in enumerate(zip(grads, steps), start=1):
        ref.adam_update(w, g, m, v, step, 1e-2, 0.8, 0.95, 1e-6, weight_decay)
        assert_close(w, want_w)
        assert_close(m, state["exp_avg"].numpy())
        assert_close(v, state["exp_avg_sq"].numpy())


def test_rmsprop(rng):
    # torch: square_avg = α sq + (1-α) g²; w -= lr g / (sqrt(square_avg) + eps): α = decay_rate
    w0, grads = rng.standard_normal(6), [rng.standard_normal(6) for _ in range(3)]
    w, cache = w0.copy(), np.zeros(6)
    steps = _run_torch(lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.9, eps=1e-6, weight_decay=0.1), w0, grads)
    for g, (want_w, state) in zip(grads, steps):
        ref.rmsprop_update(w, g, cache, 1e-2, 0.9, 1e-6, 0.1)
        assert_close(w, want_w)
        assert_close(cache, state["square_avg"].numpy())


def test_adagrad(rng):
    # torch: sum += g²; w -= lr g / (sqrt(sum) + eps); initial accumulator 0, no lr decay
    w0, grads = rng.standard_normal(6), [rng.standard_normal(6) for _ in range(3)]
    w, cache = w0.copy(), np.zeros(6)
    steps = _run_torch(
        lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-8, weight_decay=0.1, initial_accumulator_value=0.0), w0, grads
    )
    for g, (want_w, state) in zip(grads, steps):
        ref.adagrad_update(w, g, cache, 0.1, 1e-8, 0.1)
        assert_close(w, want_w)
        assert_close(cache, state["sum"].numpy())
