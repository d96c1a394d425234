"""The NumPy reference (and its validated ``fastmlp.ops`` door, backend="numpy") against the
loop-level oracles of ``tests/naive.py``, hand-computed cases, Philox known answers, numerical
stability and the whitening recipe of the notes."""

from __future__ import annotations

import functools
import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import naive
from fastmlp import ops
from fastmlp.kernels import reference as ref
from fastmlp.kernels.reference import rng as ref_rng
from tolerances import BINOMIAL_SIGMAS, WHITE_ATOL, WHITEN_EPS, assert_close

FAST = settings(max_examples=25, deadline=None)
SEED = 0x5EED_0F_FA57  # wider than 32 bits: both key words matter
ROWS_COLS = [(1, 1), (1, 5), (3, 4), (7, 3)]
DENSE_DIMS = [(1, 1, 1), (1, 3, 2), (4, 5, 3), (7, 2, 9)]  # (N, D, M)
ANY_SHAPES = [(1,), (5,), (3, 4), (2, 3, 5)]
IMPLS = ["reference", "ops"]


def _impl(which: str):
    def get(name):
        if which == "reference":
            return getattr(ref, name)
        if which == "ops":
            return functools.partial(getattr(ops, name), backend="numpy")
        return getattr(naive, name)

    get.impl = which
    return get


@pytest.fixture(params=IMPLS)
def op(request):
    """op("relu_forward") -> the reference kernel, or the validated public op on backend numpy."""
    return _impl(request.param)


@pytest.fixture(params=[*IMPLS, "naive"])
def any_op(request):
    """Like ``op``, and the naive oracle too: hand-computed cases check all three."""
    return _impl(request.param)


def rng_for(*key) -> np.random.Generator:
    """A generator seeded by the test's parameters (crc32: stable across processes, unlike hash)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def with_zeros(rng, shape):
    """Standard normal values with about a quarter of them exactly 0 (the ReLU boundary)."""
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.25] = 0.0
    return x


def assert_all_close(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_all_close(g, w)
    else:
        assert_close(got, want)


# =============================================================================================
# (a) reference vs naive, every op
# =============================================================================================
@pytest.mark.parametrize("shape", ANY_SHAPES, ids=str)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu"])
def test_elementwise_vs_naive(op, name, shape):
    rng = rng_for(name, shape)
    x, dy = with_zeros(rng, shape), rng.standard_normal(shape)
    extra = (0.05,) if name == "leaky_relu" else ()
    got = op(f"{name}_forward")(x, *extra)
    want = getattr(naive, f"{name}_forward")(x, *extra)
    assert_close(got, want)
    # relu/sigmoid/tanh take the forward output, leaky_relu the forward input
    saved = x if name == "leaky_relu" else want
    assert_close(op(f"{name}_backward")(dy, saved, *extra), getattr(naive, f"{name}_backward")(dy, saved, *extra))


@pytest.mark.parametrize("n,m", ROWS_COLS)
def test_prelu_vs_naive(op, n, m):
    rng = rng_for("prelu", n, m)
    x, dy, alpha = with_zeros(rng, (n, m)), rng.standard_normal((n, m)), rng.uniform(0, 0.5, m)
    assert_close(op("prelu_forward")(x, alpha), naive.prelu_forward(x, alpha))
    assert_all_close(op("prelu_backward")(dy, x, alpha), naive.prelu_backward(dy, x, alpha))


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("n,m", ROWS_COLS)
def test_maxout_vs_naive(op, n, m, k):
    rng = rng_for("maxout", n, m, k)
    z = rng.integers(-2, 3, (n, m * k)) / 2.0  # few distinct values: many ties
    y, idx = op("maxout_forward")(z, k)
    want_y, want_idx = naive.maxout_forward(z, k)
    assert_close(y, want_y)
    assert idx.dtype == np.int64
    assert_close(idx, want_idx)
    dy = rng.standard_normal((n, m))
    assert_close(op("maxout_backward")(dy, idx, k), naive.maxout_backward(dy, want_idx, k))


def test_dead_relu_fraction_vs_naive(op):
    rng = rng_for("dead")
    batches = [np.maximum(rng.standard_normal((4, 9)) - 1.5, 0) for _ in range(3)]
    fired_got, fired_want = np.zeros(9, bool), np.zeros(9, bool)
    for h in batches:
        assert op("dead_relu_fraction")(h) == pytest.approx(naive.dead_relu_fraction(h), abs=1e-15)
        got = op("dead_relu_fraction")(h, fired_got)
        want = naive.dead_relu_fraction(h, fired_want)
        assert got == pytest.approx(want, abs=1e-15)
        assert_close(fired_got, fired_want)


@pytest.mark.parametrize("n,d,m", DENSE_DIMS)
def test_affine_vs_naive(op, n, d, m):
    rng = rng_for("affine", n, d, m)
    x, w, b, dy = (rng.standard_normal(s) for s in [(n, d), (d, m), (m,), (n, m)])
    assert_close(op("affine_forward")(x, w, b), naive.affine_forward(x, w, b))
    assert_all_close(op("affine_backward")(dy, x, w), naive.affine_backward(dy, x, w))


@pytest.mark.parametrize("keep_prob", [1.0, 0.7])
@pytest.mark.parametrize("activation", ["identity", "relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("n,d,m", DENSE_DIMS)
def test_dense_vs_naive(op, n, d, m, activation, keep_prob):
    rng = rng_for("dense", n, d, m, activation, keep_prob)
    x, w, b, dout = (rng.standard_normal(s) for s in [(n, d), (d, m), (m,), (n, m)])
    opts = {"activation": activation, "keep_prob": keep_prob, "seed": SEED, "stream": 5, "alpha": 0.05}
    out = op("dense_forward")(x, w, b, **opts)
    mask = naive.dropout_mask((n, m), keep_prob, SEED, 5) if keep_prob < 1 else np.ones((n, m))
    assert_close(out, naive.dense_forward(x, w, b, activation, alpha=0.05, mask=mask))
    got = op("dense_backward")(dout, x, w, out, **opts)
    assert_all_close(got, naive.dense_backward(dout, x, w, b, activation, alpha=0.05, mask=mask))


@pytest.mark.parametrize("seed,stream", [(0, 0), (1, 7), (SEED, 3), (2**64 - 1, 2**32 - 1)])
@pytest.mark.parametrize("shape", [(1,), (3,), (4,), (5, 7), (2, 3, 3)], ids=str)
def test_random_bits_vs_naive(op, shape, seed, stream):
    got = op("random_bits")(shape, seed, stream)
    assert got.dtype == np.uint32
    assert_close(got, naive.random_bits(shape, seed, stream))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("keep_prob", [0.5, 0.7, 0.123, 1.0])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 9)], ids=str)
def test_dropout_vs_naive(op, shape, keep_prob, dtype):
    want_mask = naive.dropout_mask(shape, keep_prob, SEED, 2, dtype)
    got_mask = op("dropout_mask")(shape, keep_prob, SEED, 2, dtype)
    assert got_mask.dtype == dtype
    np.testing.assert_array_equal(got_mask, want_mask)  # masks: bit for bit
    rng = rng_for("dropout", shape, keep_prob)
    x = rng.standard_normal(shape).astype(dtype)
    assert_close(op("dropout_forward")(x, keep_prob, SEED, 2), naive.dropout_forward(x, keep_prob, SEED, 2))
    assert_close(op("dropout_backward")(x, keep_prob, SEED, 2), naive.dropout_backward(x, keep_prob, SEED, 2))


@pytest.mark.parametrize("keep_prob", [0.5, 0.9])
@pytest.mark.parametrize("n,d,m", DENSE_DIMS)
def test_dropconnect_vs_naive(op, n, d, m, keep_prob):
    rng = rng_for("dropconnect", n, d, m)
    x, w, b, dy = (rng.standard_normal(s) for s in [(n, d), (d, m), (m,), (n, m)])
    got = op("dropconnect_forward")(x, w, b, keep_prob, SEED, 9)
    assert_close(got, naive.dropconnect_forward(x, w, b, keep_prob, SEED, 9))
    got = op("dropconnect_backward")(dy, x, w, keep_prob, SEED, 9)
    assert_all_close(got, naive.dropconnect_backward(dy, x, w, keep_prob, SEED, 9))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("n,d", ROWS_COLS)
def test_batchnorm_vs_naive(op, n, d, training):
    if training and n == 1 and op.impl == "ops":
        pytest.skip("the public op refuses 1-row training batches (validation tested elsewhere)")
    rng = rng_for("bn", n, d, training)
    x = rng.standard_normal((n, d)) * 3 + 1
    gamma, beta, dy = rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal((n, d))
    rm, rv = rng.standard_normal(d), rng.uniform(0.5, 2, d)
    rm_want, rv_want = rm.copy(), rv.copy()
    got = op("batchnorm_forward")(x, gamma, beta, rm, rv, training, 0.8, 1e-3)
    want = naive.batchnorm_forward(x, gamma, beta, rm_want, rv_want, training, 0.8, 1e-3)
    assert_all_close(got, want)
    assert_close(rm, rm_want)  # running statistics: updated in place when training, untouched else
    assert_close(rv, rv_want)
    _, mean, inv_std = want
    got = op("batchnorm_backward")(dy, x, gamma, mean, inv_std, training)
    assert_all_close(got, naive.batchnorm_backward(dy, x, gamma, mean, inv_std, training))


def _loss_inputs(name, n, c, rng):
    scores = rng.standard_normal((n, c)) * 2
    if name in ("softmax_cross_entropy", "svm_loss", "svm_squared", "svm_margin10"):
        return scores, rng.integers(0, c, n)
    if name == "sigmoid_cross_entropy":
        t = rng.random((n, c))
        t[rng.random((n, c)) < 0.5] = 1.0
        return scores, t
    if name == "attribute_hinge_loss":
        return scores, rng.choice([-1.0, 1.0], (n, c))
    target = rng.standard_normal((n, c))
    target[0, 0] = scores[0, 0]  # an exact fit: L1's subgradient there is 0
    return scores, target


LOSSES = {
    "softmax_cross_entropy": ("softmax_cross_entropy", {}),
    "svm_loss": ("svm_loss", {}),
    "svm_squared": ("svm_loss", {"squared": True}),
    "svm_margin10": ("svm_loss", {"margin": 10.0}),
    "sigmoid_cross_entropy": ("sigmoid_cross_entropy", {}),
    "attribute_hinge_loss": ("attribute_hinge_loss", {}),
    "l2_loss": ("l2_loss", {}),
    "l1_loss": ("l1_loss", {}),
}


@pytest.mark.parametrize("n,c", [*ROWS_COLS, (5, 10)])
@pytest.mark.parametrize("case", LOSSES)
def test_losses_vs_naive(op, case, n, c):
    name, kwargs = LOSSES[case]
    scores, y = _loss_inputs(case, n, c, rng_for(case, n, c))
    loss, dscores = op(name)(scores, y, **kwargs)
    want_loss, want_d = getattr(naive, name)(scores, y, **kwargs)
    assert isinstance(loss, float)
    assert_close(loss, want_loss)
    assert_close(dscores, want_d)


@pytest.mark.parametrize("n,d", [*ROWS_COLS, (30, 6)])
def test_covariance_vs_naive(op, n, d):
    X = rng_for("cov", n, d).standard_normal((n, d)) * 2 + 5
    assert_all_close(op("covariance")(X), naive.covariance(X))


def _well_separated_cov(d, seed=0):
    """cov = Q diag(S) Qᵀ with eigenvalues 1..d (gaps of 1): eigenvectors well determined."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return (q * np.arange(d, 0, -1.0)) @ q.T


WHITEN_CASES = [
    (d, method, k)
    for d in (1, 3, 5)
    for method, k in [("pca", None), ("pca", 2), ("zca", None), ("rotate", None), ("rotate", 1)]
    if k is None or k <= d
]


@pytest.mark.parametrize("d,method,k", WHITEN_CASES)
def test_whitening_matrix_vs_naive(op, d, method, k):
    cov = _well_separated_cov(d, d)
    assert_all_close(op("whitening_matrix")(cov, method, 1e-5, k), naive.whitening_matrix(cov, method, 1e-5, k))


OPTIMIZERS = {  # name: (number of state arrays, hyper-parameters)
    "sgd_update": (0, {"lr": 0.1}),
    "momentum_update": (1, {"lr": 0.1, "momentum": 0.9}),
    "nesterov": (1, {"lr": 0.1, "momentum": 0.8, "nesterov": True}),
    "adam_update": (2, {"lr": 1e-2, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
    "rmsprop_update": (1, {"lr": 1e-2, "decay_rate": 0.9, "eps": 1e-6}),
    "adagrad_update": (1, {"lr": 1e-1, "eps": 1e-6}),
}


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(1,), (3, 4)], ids=str)
@pytest.mark.parametrize("case", OPTIMIZERS)
def test_optimizers_vs_naive(op, case, shape, weight_decay):
    n_states, hyper = OPTIMIZERS[case]
    name = "momentum_update" if case == "nesterov" else case
    rng = rng_for(case, shape)
    w_got = rng.standard_normal(shape)
    w_want = w_got.copy()
    s_got = [np.zeros(shape) for _ in range(n_states)]
    s_want = [np.zeros(shape) for _ in range(n_states)]
    for t in (1, 2, 3):  # three steps with different gradients: the state carries over
        dw = rng.standard_normal(shape)
        step = (t,) if name == "adam_update" else ()
        assert op(name)(w_got, dw, *s_got, *step, weight_decay=weight_decay, **hyper) is None
        getattr(naive, name)(w_want, dw, *s_want, *step, weight_decay=weight_decay, **hyper)
        assert_close(w_got, w_want)
        for got, want in zip(s_got, s_want):
            assert_close(got, want)


@pytest.mark.parametrize("d_in,d_out", [(1, 1), (3, 4), (5, 2)])
def test_max_norm_vs_naive(op, d_in, d_out):
    w_got = rng_for("maxnorm", d_in, d_out).standard_normal((d_in, d_out)) * 2
    w_want = w_got.copy()
    op("max_norm_")(w_got, 1.5)
    naive.max_norm_(w_want, 1.5)
    assert_close(w_got, w_want)


# ---- hypothesis: random shapes and values on representative ops (reference only) -------------
@st.composite
def matrices(draw, max_rows=6, max_cols=6, lo=-3.0, hi=3.0):
    n, m = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    return draw(hnp.arrays(np.float64, (n, m), elements=st.floats(lo, hi, width=64)))


@FAST
@given(x=matrices(), m=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_affine_hypothesis(x, m, seed):
    rng = np.random.default_rng(seed)
    w, b, dy = rng.uniform(-3, 3, (x.shape[1], m)), rng.uniform(-3, 3, m), rng.uniform(-3, 3, (x.shape[0], m))
    assert_close(ref.affine_forward(x, w, b), naive.affine_forward(x, w, b))
    assert_all_close(ref.affine_backward(dy, x, w), naive.affine_backward(dy, x, w))


@FAST
@given(z=matrices(lo=-2, hi=2), k=st.integers(1, 4))
def test_maxout_relu_hypothesis(z, k):
    z = np.round(np.repeat(z, k, axis=1) * 2 + np.tile(np.arange(k) % 2, z.shape[1])) / 2  # ties
    y, idx = ref.maxout_forward(z, k)
    want_y, want_idx = naive.maxout_forward(z, k)
    assert_close(y, want_y)
    assert_close(idx, want_idx)
    assert_close(ref.relu_backward(z, ref.relu_forward(z)), naive.relu_backward(z, naive.relu_forward(z)))


@FAST
@given(scores=matrices(lo=-30, hi=30), data=st.data())
def test_class_losses_hypothesis(scores, data):
    n, c = scores.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    margin = data.draw(st.sampled_from([0.0, 1.0, 2.5]))
    for got, want in [
        (ref.softmax_cross_entropy(scores, y), naive.softmax_cross_entropy(scores, y)),
        (ref.svm_loss(scores, y, margin), naive.svm_loss(scores, y, margin)),
        (ref.svm_loss(scores, y, margin, True), naive.svm_loss(scores, y, margin, True)),
    ]:
        assert_close(got[0], want[0])
        assert_close(got[1], want[1])


@FAST
@given(x=matrices(max_rows=8), seed=st.integers(0, 2**32 - 1), training=st.booleans())
def test_batchnorm_hypothesis(x, seed, training):
    rng = np.random.default_rng(seed)
    x = x + rng.standard_normal(x.shape)  # no constant columns: var = 0 leaves only eps
    d = x.shape[1]
    gamma, beta, dy = rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal(x.shape)
    rm, rv = np.zeros(d), np.ones(d)
    got = ref.batchnorm_forward(x, gamma, beta, rm, rv, training)
    want = naive.batchnorm_forward(x, gamma, beta, np.zeros(d), np.ones(d), training)
    assert_all_close(got, want)
    got = ref.batchnorm_backward(dy, x, gamma, want[1], want[2], training)
    assert_all_close(got, naive.batchnorm_backward(dy, x, gamma, want[1], want[2], training))


@FAST
@given(
    size=st.integers(1, 41),
    keep_prob=st.floats(1e-3, 1.0),
    seed=st.integers(0, 2**64 - 1),
    stream=st.integers(0, 2**32 - 1),
)
def test_dropout_mask_hypothesis(size, keep_prob, seed, stream):
    got = ref.dropout_mask((size,), keep_prob, seed, stream, np.float64)
    np.testing.assert_array_equal(got, naive.dropout_mask((size,), keep_prob, seed, stream))


WORD = st.integers(0, 2**32 - 1)


@FAST
@given(ctr=st.tuples(WORD, WORD, WORD, WORD), key=st.tuples(WORD, WORD))
def test_philox_block_hypothesis(ctr, key):
    got = ref_rng.philox4x32(*ctr, *key)
    assert tuple(int(v) for v in got) == naive.philox4x32(ctr, key)


# =============================================================================================
# (b) hand-computed cases
# =============================================================================================
def test_softmax_ce_by_hand(any_op):
    # scores [1, 2, 3], label 2: L = -log(e^3 / (e^1 + e^2 + e^3)) = log(1 + e^-1 + e^-2)
    #   = log(1 + 0.36787944 + 0.13533528) = log(1.50321472) = 0.40760596444438
    loss, d = any_op("softmax_cross_entropy")(np.array([[1.0, 2.0, 3.0]]), np.array([2]))
    assert_close(loss, 0.4076059644443804)
    # softmax = e^[1,2,3] / 30.19287485 = [0.09003057, 0.24472847, 0.66524096]; minus one-hot(2)
    assert_close(d, [[0.09003057317038046, 0.24472847105479764, 0.6652409557748219 - 1.0]])


def test_softmax_ce_uniform_is_log_c(any_op):
    # the notes' sanity check: equal scores over C = 10 classes give -log(1/10) = 2.302585
    loss, d = any_op("softmax_cross_entropy")(np.zeros((4, 10)), np.array([0, 3, 9, 3]))
    assert_close(loss, math.log(10))
    want = np.full((4, 10), 0.1)
    want[[0, 1, 2, 3], [0, 3, 9, 3]] -= 1
    assert_close(d, want / 4)


def test_svm_notes_example(any_op):
    # CS231n: scores [13, -7, 11], true class 0, Δ = 10:
    #   max(0, -7 - 13 + 10) + max(0, 11 - 13 + 10) = 0 + 8 = 8
    scores, y = np.array([[13.0, -7.0, 11.0]]), np.array([0])
    loss, d = any_op("svm_loss")(scores, y, 10.0)
    assert_close(loss, 8.0)
    assert_close(d, [[-1.0, 0.0, 1.0]])  # only class 2 violates the margin
    loss, d = any_op("svm_loss")(scores, y, 10.0, True)
    assert_close(loss, 64.0)  # 8²
    assert_close(d, [[-16.0, 0.0, 16.0]])  # 2·8


def test_svm_three_images(any_op):
    # the notes' cat/car/frog scores (one row per image), Δ = 1:
    #   cat  [3.2, 5.1, -1.7] y=0: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9 + 0 = 2.9
    #   car  [1.3, 4.9,  2.0] y=1: max(0, 1.3-4.9+1) + max(0, 2.0-4.9+1) = 0
    #   frog [2.2, 2.5, -3.1] y=2: max(0, 2.2+3.1+1) + max(0, 2.5+3.1+1) = 6.3 + 6.6 = 12.9
    #   mean = (2.9 + 0 + 12.9) / 3 = 5.2667 (the notes' 5.27)
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    loss, d = any_op("svm_loss")(scores, np.array([0, 1, 2]))
    assert_close(loss, 15.8 / 3)
    assert_close(d, np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]]) / 3)


def test_activations_by_hand(any_op):
    x = np.array([-2.0, -0.5, 0.0, 3.0])
    assert_close(any_op("relu_forward")(x), [0.0, 0.0, 0.0, 3.0])
    assert_close(any_op("relu_backward")(np.ones(4), np.array([0.0, 0.0, 0.0, 3.0])), [0, 0, 0, 1.0])
    assert_close(any_op("leaky_relu_forward")(x, 0.01), [-0.02, -0.005, 0.0, 3.0])
    assert_close(any_op("leaky_relu_backward")(np.ones(4), x, 0.01), [0.01, 0.01, 1.0, 1.0])
    # σ(0) = 1/2; σ(ln 3) = 1/(1 + 1/3) = 3/4; σ(-ln 3) = 1/4
    s = any_op("sigmoid_forward")(np.array([0.0, math.log(3), -math.log(3)]))
    assert_close(s, [0.5, 0.75, 0.25])
    assert_close(any_op("sigmoid_backward")(np.ones(3), s), [0.25, 0.1875, 0.1875])  # σ(1-σ)
    # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6; derivative 1 - 0.36 = 0.64
    t = any_op("tanh_forward")(np.array([math.log(2), 0.0]))
    assert_close(t, [0.6, 0.0])
    assert_close(any_op("tanh_backward")(np.array([2.0, 1.0]), t), [1.28, 1.0])


def test_prelu_maxout_by_hand(any_op):
    x, alpha = np.array([[-2.0, 3.0], [4.0, -1.0]]), np.array([0.1, 0.5])
    assert_close(any_op("prelu_forward")(x, alpha), [[-0.2, 3.0], [4.0, -0.5]])
    dx, dalpha = any_op("prelu_backward")(np.array([[1.0, 2.0], [3.0, 4.0]]), x, alpha)
    assert_close(dx, [[0.1, 2.0], [3.0, 2.0]])
    assert_close(dalpha, [1.0 * -2.0, 4.0 * -1.0])  # Σ dy·x over the negative entries
    # unit 0 = max(1, 3, 2) = 3 (piece 1); unit 1 = max(5, 5, 0) = 5 (tie: first piece, 0)
    y, idx = any_op("maxout_forward")(np.array([[1.0, 3.0, 2.0, 5.0, 5.0, 0.0]]), 3)
    assert_close(y, [[3.0, 5.0]])
    assert_close(idx, np.array([[1, 0]]))
    assert_close(any_op("maxout_backward")(np.array([[7.0, 8.0]]), idx, 3), [[0, 7.0, 0, 8.0, 0, 0]])


def test_dead_relu_fraction_by_hand(any_op):
    fired = np.zeros(3, bool)
    # column 1 fires in batch 1, column 0 in batch 2, column 2 never
    assert any_op("dead_relu_fraction")(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), fired) == pytest.approx(2 / 3)
    assert any_op("dead_relu_fraction")(np.array([[2.0, 0.0, 0.0]]), fired) == pytest.approx(1 / 3)
    assert fired.tolist() == [True, True, False]
    assert any_op("dead_relu_fraction")(np.array([[2.0, 0.0, 0.0]])) == pytest.approx(2 / 3)


def test_affine_by_hand(any_op):
    # [1, 2] @ [[1, 0, -1], [2, 1, 0]] + [0.5, 0, 0] = [1 + 4 + 0.5, 2, -1]
    x, w, b = np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]), np.array([0.5, 0, 0])
    assert_close(any_op("affine_forward")(x, w, b), [[5.5, 2.0, -1.0]])
    dx, dw, db = any_op("affine_backward")(np.array([[1.0, 0.0, 2.0]]), x, w)
    assert_close(dx, [[1 - 2.0, 2.0]])  # dy wᵀ
    assert_close(dw, [[1.0, 0.0, 2.0], [2.0, 0.0, 4.0]])  # xᵀ dy
    assert_close(db, [1.0, 0.0, 2.0])


def test_batchnorm_by_hand(any_op):
    # column [1, 2, 3]: mean 2, biased var ((-1)² + 0 + 1²)/3 = 2/3
    # y = 2 · (x - 2) / sqrt(2/3 + eps) + 1, with eps = 1e-5 (sqrt(0.6666767) = 0.8164927)
    x = np.array([[1.0], [2.0], [3.0]])
    rm, rv = np.zeros(1), np.ones(1)
    y, mean, inv_std = any_op("batchnorm_forward")(x, np.array([2.0]), np.array([1.0]), rm, rv, True, 0.9, 1e-5)
    s = math.sqrt(2 / 3 + 1e-5)
    assert_close(y, [[1 - 2 / s], [1.0], [1 + 2 / s]])
    assert_close(mean, [2.0])
    assert_close(inv_std, [1 / s])
    assert_close(rm, [0.2])  # 0.9·0 + 0.1·2
    assert_close(rv, [0.9 + 0.1 * 2 / 3])  # 0.9·1 + 0.1·(2/3) = 0.96667
    # evaluation uses the running statistics: mean 2, var 4 → (x - 2) / sqrt(4 + 1e-5)
    rm, rv = np.array([2.0]), np.array([4.0])
    y, _, _ = any_op("batchnorm_forward")(x, np.ones(1), np.zeros(1), rm, rv, False, 0.9, 1e-5)
    assert_close(y, [[-1 / math.sqrt(4.00001)], [0.0], [1 / math.sqrt(4.00001)]])
    assert_close(rm, [2.0])
    assert_close(rv, [4.0])


def test_regression_and_attribute_losses_by_hand(any_op):
    pred, target = np.array([[1.0, 2.0], [0.0, 0.0]]), np.zeros((2, 2))
    loss, d = any_op("l2_loss")(pred, target)
    assert_close(loss, 5.0 / 2)  # (1² + 2²) / 2 rows, no ½
    assert_close(d, [[1.0, 2.0], [0.0, 0.0]])  # 2(f - y)/N
    loss, d = any_op("l1_loss")(pred, target)
    assert_close(loss, 3.0 / 2)
    assert_close(d, [[0.5, 0.5], [0.0, 0.0]])  # sign(f - y)/N, 0 at an exact fit
    # attribute hinge: y = +1 for both; max(0, 1 - 2) + max(0, 1 + 0.5) = 1.5
    loss, d = any_op("attribute_hinge_loss")(np.array([[2.0, -0.5]]), np.array([[1.0, 1.0]]))
    assert_close(loss, 1.5)
    assert_close(d, [[0.0, -1.0]])
    # sigmoid CE at f = 0: -log σ(0) = log 2 for either target; gradient σ(0) - t = ∓0.5
    loss, d = any_op("sigmoid_cross_entropy")(np.zeros((1, 2)), np.array([[1.0, 0.0]]))
    assert_close(loss, 2 * math.log(2))
    assert_close(d, [[-0.5, 0.5]])


def test_optimizer_steps_by_hand(any_op):
    # momentum: w = 1, dw = 0.5, lr 0.1, μ 0.9: v = -0.05, w = 0.95; again: v = -0.095, w = 0.855
    w, v = np.array([1.0]), np.zeros(1)
    any_op("momentum_update")(w, np.array([0.5]), v, 0.1, 0.9)
    assert_all_close((w, v), ([0.95], [-0.05]))
    any_op("momentum_update")(w, np.array([0.5]), v, 0.1, 0.9)
    assert_all_close((w, v), ([0.855], [-0.095]))
    # Nesterov (notes): w += -μ v_prev + (1+μ) v: step 1: 0 + 1.9·(-0.05) = -0.095 → 0.905;
    # step 2: v = -0.095, w += 0.9·0.05 + 1.9·(-0.095) = 0.045 - 0.1805 = -0.1355 → 0.7695
    w, v = np.array([1.0]), np.zeros(1)
    any_op("momentum_update")(w, np.array([0.5]), v, 0.1, 0.9, nesterov=True)
    assert_close(w, [0.905])
    any_op("momentum_update")(w, np.array([0.5]), v, 0.1, 0.9, nesterov=True)
    assert_close(w, [0.7695])
    # Adam, t = 1: m = 0.1·0.5 = 0.05, v = 0.001·0.25 = 2.5e-4; m̂ = 0.5, v̂ = 0.25;
    # w -= 1e-3 · 0.5 / (0.5 + 1e-8): the first step has size ≈ lr
    w, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
    any_op("adam_update")(w, np.array([0.5]), m, v, 1)
    assert_all_close((w, m, v), ([1 - 1e-3 * 0.5 / (0.5 + 1e-8)], [0.05], [2.5e-4]))
    # RMSprop: cache = 0.01·0.25 = 0.0025, sqrt = 0.05; w -= 0.01·0.5/(0.05 + 1e-8) ≈ 0.1
    w, c = np.array([1.0]), np.zeros(1)
    any_op("rmsprop_update")(w, np.array([0.5]), c)
    assert_all_close((w, c), ([1 - 0.005 / (0.05 + 1e-8)], [0.0025]))
    # Adagrad: cache = 0.25; w -= 0.01·0.5/(0.5 + 1e-8) ≈ 0.01
    w, c = np.array([1.0]), np.zeros(1)
    any_op("adagrad_update")(w, np.array([0.5]), c)
    assert_all_close((w, c), ([1 - 0.005 / (0.5 + 1e-8)], [0.25]))
    # SGD with weight decay λ = 0.5: g = 1 + 0.5·2 = 2; w = 2 - 0.1·2 = 1.8
    w = np.array([2.0])
    any_op("sgd_update")(w, np.array([1.0]), 0.1, 0.5)
    assert_close(w, [1.8])


def test_max_norm_by_hand(any_op):
    # column 0 = [3, 4] has norm 5 > 1: scaled to [0.6, 0.8]; column 1 (norm 0.5) untouched
    w = np.array([[3.0, 0.3], [4.0, 0.4]])
    any_op("max_norm_")(w, 1.0)
    assert_close(w, [[0.6, 0.3], [0.8, 0.4]])


def test_covariance_whitening_by_hand(any_op):
    # X = [[1, 2], [3, 4]]: mean [2, 3], centred rows ±[1, 1], cov = [[1, 1], [1, 1]]
    mean, cov = any_op("covariance")(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert_all_close((mean, cov), ([2.0, 3.0], [[1.0, 1.0], [1.0, 1.0]]))
    # cov = U diag(4, 1) Uᵀ, U = [[0.8, -0.6], [0.6, 0.8]] → [[2.92, 1.44], [1.44, 2.08]];
    # each column's largest-|.| entry (0.8) is already positive
    U, S = np.array([[0.8, -0.6], [0.6, 0.8]]), np.array([4.0, 1.0])
    cov = np.array([[2.92, 1.44], [1.44, 2.08]])
    W, s, u = any_op("whitening_matrix")(cov, "pca", 1e-5)
    assert_all_close((s, u), (S, U))
    assert_close(W, U / np.sqrt(S + 1e-5))
    W, _, _ = any_op("whitening_matrix")(cov, "zca", 1e-5)
    assert_close(W, U @ np.diag(1 / np.sqrt(S + 1e-5)) @ U.T)
    W, s, u = any_op("whitening_matrix")(cov, "rotate", 1e-5, 1)
    assert_all_close((W, s, u), (U[:, :1], S[:1], U[:, :1]))


def test_dropout_by_hand(any_op):
    # keep_prob = 1: threshold 2^32 keeps every word; p = 0.5: kept values are 1/0.5 = 2
    assert_close(any_op("dropout_mask")((3, 5), 1.0, 7, 0, np.float64), np.ones((3, 5)))
    mask = any_op("dropout_mask")((40,), 0.5, 7, 0, np.float64)
    assert set(np.unique(mask).tolist()) == {0.0, 2.0}
    x = np.arange(1.0, 41.0)
    assert_close(any_op("dropout_forward")(x, 0.5, 7), x * mask)
    assert_close(any_op("dropout_backward")(x, 0.5, 7), x * mask)


# =============================================================================================
# (c) Philox-4x32-10 known answers (Random123 kat_vectors) and mask statistics
# =============================================================================================
PHILOX_KAT = [  # (counter, key, output)
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("ctr,key,want", PHILOX_KAT, ids=["zeros", "ones", "pi"])
def test_philox_known_answers(ctr, key, want):
    assert naive.philox4x32(ctr, key) == want
    got = ref_rng.philox4x32(*([c] for c in ctr), *key)  # the vectorised version, one lane
    assert tuple(int(g[0]) for g in got) == want


def test_random_bits_layout_known_answer(any_op):
    # seed 0, stream 0: block 0 has counter (0, 0, 0, 0) and key (0, 0): the first KAT vector
    assert any_op("random_bits")((4,), 0, 0).tolist() == list(PHILOX_KAT[0][2])
    # element e = word e % 4 of block e // 4 with counter (e//4, 0, stream, 0), key (lo, hi) of seed
    seed, stream = 0x299F31D0A4093822, 0x13198A2E
    got = any_op("random_bits")((3, 3), seed, stream).ravel().tolist()
    want = []
    for block in range(3):
        want += naive.philox4x32((block, 0, stream, 0), (0xA4093822, 0x299F31D0))
    assert got == want[:9]


@pytest.mark.parametrize("keep_prob", [0.05, 0.5, 0.8])
def test_keep_fraction_binomial(keep_prob):
    n = 1_000_000
    mask = ref.dropout_mask((1000, 1000), keep_prob, SEED, 1, np.float64)
    kept = int((mask != 0).sum())
    sigma = math.sqrt(n * keep_prob * (1 - keep_prob))
    assert abs(kept - n * keep_prob) <= BINOMIAL_SIGMAS * sigma
    assert_close(np.unique(mask), [0.0, 1 / keep_prob])


def test_keep_threshold_boundary(any_op):
    # kept iff word < int(p · 2^32): with p = word / 2^32 (exact in float64) the element sits ON
    # the threshold and is dropped; one more 2^-32 of keep probability keeps it
    words = ref.random_bits((8,), SEED, 4)
    for e, word in enumerate(words.tolist()):
        dropped = any_op("dropout_mask")((8,), word / 2**32, SEED, 4, np.float64)
        kept = any_op("dropout_mask")((8,), (word + 1) / 2**32, SEED, 4, np.float64)
        assert dropped[e] == 0.0
        assert kept[e] == 2**32 / (word + 1)


def test_random_words_uniform():
    # top 4 bits of 2^20 words: 16 buckets, each within 5 sigma of n/16
    words = ref.random_bits((1 << 20,), SEED, 0)
    counts = np.bincount(words >> 28, minlength=16)
    sigma = math.sqrt(words.size * (1 / 16) * (15 / 16))
    assert np.all(np.abs(counts - words.size / 16) <= BINOMIAL_SIGMAS * sigma)


@pytest.mark.parametrize("other", [{"seed": SEED + 1}, {"stream": 2}, {"seed": SEED ^ (1 << 40)}])
def test_streams_and_seeds_independent(other):
    p, n = 0.5, 200_000
    base = {"seed": SEED, "stream": 1}
    a = ref.dropout_mask((n,), p, base["seed"], base["stream"], np.float64)
    key = {**base, **other}
    b = ref.dropout_mask((n,), p, key["seed"], key["stream"], np.float64)
    np.testing.assert_array_equal(a, ref.dropout_mask((n,), p, SEED, 1, np.float64))  # deterministic
    # independent masks agree on a fraction p² + (1-p)² of the elements
    agree, want = float(((a != 0) == (b != 0)).mean()), p * p + (1 - p) ** 2
    assert abs(agree - want) <= BINOMIAL_SIGMAS * math.sqrt(want * (1 - want) / n)


# =============================================================================================
# (d) numerical stability (RuntimeWarnings are errors in this suite)
# =============================================================================================
def test_softmax_ce_huge_logits(op):
    scores = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]])
    loss, d = op("softmax_cross_entropy")(scores, np.array([1, 0]))
    # row 0: -log softmax_1 = 1e4 - (-1e4) = 2e4 (+ log(1 + e^-1e4 + ...) = 0)
    # row 1: two equal maxima: log 2
    assert_close(loss, (2e4 + math.log(2)) / 2)
    assert_close(d, np.array([[1.0, -1.0, 0.0], [0.5 - 1.0, 0.5, 0.0]]) / 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_tanh_saturate(op, dtype):
    x = np.array([-1e4, -800.0, -100.0, 0.0, 100.0, 800.0, 1e4], dtype=dtype)
    s = op("sigmoid_forward")(x)
    assert s.dtype == dtype
    assert_close(s[[0, 1, 3, 5, 6]], np.array([0.0, 0.0, 0.5, 1.0, 1.0], dtype))
    assert s[2] > 0
    assert_close(s[2], np.array(math.exp(-100) / (1 + math.exp(-100)), dtype))  # e^-100: 3.7e-44
    t = op("tanh_forward")(x)
    assert_close(t, np.array([-1, -1, -1, 0, 1, 1, 1], dtype))


def test_sigmoid_ce_huge_scores(op):
    scores = np.array([[1e4, -1e4, 1e4, -1e4]])
    loss, d = op("sigmoid_cross_entropy")(scores, np.array([[1.0, 0.0, 0.0, 1.0]]))
    # right with certainty: 0 + 0; wrong with certainty: softplus(1e4) = 1e4 twice
    assert_close(loss, 2e4)
    assert_close(d, [[0.0, 0.0, 1.0, -1.0]])  # σ(f) - t


def test_batchnorm_constant_column(op):
    # var = 0: inv_std = 1/sqrt(eps), x - mean = 0: y = beta, finite
    x = np.full((4, 2), 3.0)
    y, _, inv_std = op("batchnorm_forward")(x, np.ones(2), np.array([0.5, -1]), np.zeros(2), np.ones(2))
    assert_close(y, np.tile([0.5, -1.0], (4, 1)))
    assert_close(inv_std, np.full(2, 1 / math.sqrt(1e-5)))


# =============================================================================================
# (e) whitening: the notes' recipe
# =============================================================================================
@pytest.fixture(scope="module")
def train_data():
    """N = 2000 rows, D = 5, correlated, eigenvalues of the covariance about 0.25 .. 16."""
    rng = np.random.default_rng(231)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    z = rng.standard_normal((2000, 5)) * np.array([4.0, 2.5, 1.5, 1.0, 0.5])
    return z @ q.T + np.array([1.0, -2.0, 3.0, 0.0, 10.0])


def test_pca_and_zca_whitened_covariance_is_identity(op, train_data):
    mean, cov = op("covariance")(train_data)
    Xc = train_data - mean
    for method in ("pca", "zca"):
        W, _, _ = op("whitening_matrix")(cov, method, WHITEN_EPS)
        white = Xc @ W
        assert_close(white.mean(axis=0), np.zeros(5))
        assert_close(white.T @ white / len(white), np.eye(5), tol={"rtol": 0, "atol": WHITE_ATOL})


def test_zca_is_pca_rotated_back_and_reconstruction(op, train_data):
    mean, cov = op("covariance")(train_data)
    Xc = train_data - mean
    W_pca, S, U = op("whitening_matrix")(cov, "pca", WHITEN_EPS)
    W_zca, _, _ = op("whitening_matrix")(cov, "zca", WHITEN_EPS)
    assert_close(Xc @ W_zca, (Xc @ W_pca) @ U.T)  # X_zca = X_white · Uᵀ
    assert_close((Xc @ W_pca) * np.sqrt(S + WHITEN_EPS) @ U.T, Xc)  # undo the scaling, rotate back
    W_rot, _, _ = op("whitening_matrix")(cov, "rotate")
    assert_close((Xc @ W_rot) @ U.T, Xc)
    assert_close(U.T @ U, np.eye(5))


def test_matches_notes_recipe(op, train_data):
    # The notes: X -= mean; cov = X.T @ X / N; U, S, V = np.linalg.svd(cov); Xrot = X @ U;
    # Xrot_reduced = X @ U[:, :k]; Xwhite = Xrot / np.sqrt(S + 1e-5)
    X = train_data - train_data.mean(axis=0)
    cov_notes = X.T @ X / X.shape[0]
    U_notes, S_notes, _ = np.linalg.svd(cov_notes)
    U_notes = U_notes * np.sign(U_notes[np.abs(U_notes).argmax(axis=0), range(5)])  # our sign rule
    _, cov = op("covariance")(train_data)
    assert_close(cov, cov_notes)
    W, S, U = op("whitening_matrix")(cov, "pca", 1e-5)
    assert_all_close((S, U), (S_notes, U_notes))
    assert_close(X @ W, (X @ U_notes) / np.sqrt(S_notes + 1e-5))
    W, _, _ = op("whitening_matrix")(cov, "rotate", 1e-5, 2)
    assert_close(X @ W, X @ U_notes[:, :2])
    W, _, _ = op("whitening_matrix")(cov, "zca", 1e-5)  # sign-free: compare to the raw SVD
    U_raw = np.linalg.svd(cov_notes)[0]
    assert_close(X @ W, (X @ U_raw) / np.sqrt(S_notes + 1e-5) @ U_raw.T)


def test_float32_keeps_dtype_and_values(op):
    """float32 in, float32 out, within float32 tolerance of the float64 oracle."""
    rng = rng_for("f32")
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (3, 5), (5,)])
    got = op("affine_forward")(x, w, b)
    assert got.dtype == np.float32
    assert_close(got, naive.affine_forward(x, w, b))
    for name in ("relu", "sigmoid", "tanh"):
        got = op(f"{name}_forward")(x)
        assert got.dtype == np.float32
        assert_close(got, getattr(naive, f"{name}_forward")(x))
    loss, d = op("softmax_cross_entropy")(x, np.array([0, 2, 1, 1]))
    want_loss, want_d = naive.softmax_cross_entropy(x, np.array([0, 2, 1, 1]))
    assert d.dtype == np.float32
    assert_close(np.float32(loss), want_loss)
    assert_close(d, want_d)
