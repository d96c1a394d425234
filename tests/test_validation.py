"""Bad input gets a clear error naming the argument; odd-but-valid input gets the right answer.

Run on every available backend: validation happens before dispatch, so an out-of-range label or
index never reaches a kernel (where it would read or write out of bounds).
"""

import copy

import numpy as np
import pytest

from fastmlp import backends, ops
from fastmlp.cases import CASES, inputs
from fastmlp.kernels import reference as ref

BACKENDS = [name for name in backends.available() if name != "cuda"]
SHAPE_FIRST = {"random_bits", "dropout_mask"}  # first argument is a shape, not an array


def _array_positions(case, args):
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and i not in case.inplace]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_complex_object_and_none_arrays_are_refused(case):
    args, kwargs = inputs(case, 3, 5, np.float32)
    for pos in _array_positions(case, args):
        for bad in (args[pos].astype(np.complex64), args[pos].astype(object), None):
            broken = list(copy.deepcopy(args))
            broken[pos] = bad
            with pytest.raises((TypeError, ValueError)):
                getattr(ops, case.op)(*broken, **kwargs)


def _multi_array(case):
    args, _ = inputs(case, 3, 5, np.float64)
    return sum(isinstance(a, np.ndarray) for a in args) >= 2


@pytest.mark.parametrize("case", [c for c in CASES if _multi_array(c)], ids=lambda c: c.name)
def test_shape_mismatches_are_refused(case):
    args, kwargs = inputs(case, 3, 5, np.float64)
    positions = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    for pos in positions:
        broken = list(copy.deepcopy(args))
        a = broken[pos]
        broken[pos] = a[:-1, :-1] if a.ndim == 2 else a[:-1]  # one row and one column short
        with pytest.raises(ValueError):
            getattr(ops, case.op)(*broken, **kwargs)


@pytest.mark.parametrize("case", [c for c in CASES if c.op not in SHAPE_FIRST], ids=lambda c: c.name)
def test_empty_batches_are_refused(case):
    args, kwargs = inputs(case, 3, 5, np.float64)
    broken = list(args)
    broken[0] = args[0][:0]
    with pytest.raises(ValueError, match="empty|shape"):
        getattr(ops, case.op)(*broken, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", ["softmax_cross_entropy", "svm_loss"])
def test_labels_out_of_range_never_reach_a_kernel(op, backend):
    scores = np.zeros((4, 10), np.float32)
    fn = getattr(ops, op)
    with pytest.raises(ValueError, match="y has label 12 but scores has 10 classes"):
        fn(scores, [0, 1, 12, 3], backend=backend)
    with pytest.raises(ValueError, match="y has label -1"):
        fn(scores, [0, -1, 2, 3], backend=backend)
    with pytest.raises(ValueError, match="integer"):
        fn(scores, [0, 1.5, 2, 3], backend=backend)
    with pytest.raises(ValueError, match="integer"):
        fn(scores, [0, np.nan, 2, 3], backend=backend)
    with pytest.raises(TypeError, match="integer"):
        fn(scores, np.array([True, False, True, True]), backend=backend)
    with pytest.raises(ValueError, match="4 rows"):
        fn(scores, [0, 1], backend=backend)
    with pytest.raises(ValueError, match="1-dimensional"):
        fn(scores, [[0, 1, 2, 3]], backend=backend)
    loss, _ = fn(scores, np.array([0.0, 1.0, 2.0, 9.0]), backend=backend)  # integral floats are labels
    assert np.isfinite(loss)


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.0001, float("nan"), float("inf"), "0.5", None])
def test_keep_prob_must_be_in_0_1(bad):
    x = np.ones((2, 3), np.float32)
    w, b = np.ones((3, 2), np.float32), np.zeros(2, np.float32)
    for call in (
        lambda: ops.dropout_mask((2, 3), bad, 0),
        lambda: ops.dropout_forward(x, bad, 0),
        lambda: ops.dropout_backward(x, bad, 0),
        lambda: ops.dense_forward(x, w, b, "relu", bad),
        lambda: ops.dropconnect_forward(x, w, b, bad, 0),
    ):
        with pytest.raises((ValueError, TypeError), match="keep_prob"):
            call()


@pytest.mark.parametrize("seed,stream", [(-1, 0), (2**64, 0), (1.5, 0), (0, -1), (0, 2**32), ("7", 0)])
def test_rng_keys_are_checked(seed, stream):
    with pytest.raises((ValueError, TypeError), match="seed|stream"):
        ops.dropout_mask((2, 2), 0.5, seed, stream)


def test_rng_key_extremes_are_accepted():
    ops.dropout_mask((2, 2), 0.5, 2**64 - 1, 2**32 - 1)
    ops.dropout_mask((2, 2), 0.5, np.uint64(5), np.int32(1))


def test_eps_and_hyperparameters():
    x = np.random.default_rng(0).standard_normal((5, 3))
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="eps"):
        ops.batchnorm_forward(x, np.ones(3), np.zeros(3), rm, rv, eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        ops.batchnorm_forward(x, np.ones(3), np.zeros(3), rm, rv, momentum=1.5)
    with pytest.raises(ValueError, match="2 rows"):
        ops.batchnorm_forward(x[:1], np.ones(3), np.zeros(3), rm, rv)
    _, cov = ops.covariance(x)
    with pytest.raises(ValueError, match="eps"):
        ops.whitening_matrix(cov, eps=-1e-5)
    with pytest.raises(ValueError, match="n_components=4 but the data has only 3 features"):
        ops.whitening_matrix(cov, "pca", n_components=4)
    with pytest.raises(ValueError, match="n_components"):
        ops.whitening_matrix(cov, "pca", n_components=0)
    with pytest.raises(ValueError, match="method"):
        ops.whitening_matrix(cov, "svd")
    with pytest.raises(ValueError, match="symmetric"):
        ops.whitening_matrix(np.triu(cov + 1))
    with pytest.raises(ValueError, match="square"):
        ops.whitening_matrix(cov[:2])
    w, dw = np.ones((2, 2)), np.ones((2, 2))
    with pytest.raises(ValueError, match="lr"):
        ops.sgd_update(w, dw, 0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        ops.sgd_update(w, dw, 0.1, weight_decay=-1)
    with pytest.raises(ValueError, match="momentum"):
        ops.momentum_update(w, dw, np.zeros_like(w), 0.1, momentum=1.0)
    with pytest.raises(ValueError, match="t must be"):
        ops.adam_update(w, dw, np.zeros_like(w), np.zeros_like(w), 0)
    with pytest.raises(ValueError, match="beta2"):
        ops.adam_update(w, dw, np.zeros_like(w), np.zeros_like(w), 1, beta2=1.0)
    with pytest.raises(ValueError, match="decay_rate"):
        ops.rmsprop_update(w, dw, np.zeros_like(w), decay_rate=-0.1)
    with pytest.raises(ValueError, match="max_norm"):
        ops.max_norm_(w, 0.0)
    with pytest.raises(ValueError, match="margin"):
        ops.svm_loss(np.zeros((2, 3)), [0, 1], margin=-1)
    with pytest.raises(ValueError, match="activation"):
        ops.dense_forward(x, np.ones((3, 2)), np.zeros(2), "softsign")
    with pytest.raises(ValueError, match="alpha"):
        ops.dense_forward(x, np.ones((3, 2)), np.zeros(2), "leaky_relu", alpha=0.0)
    np.testing.assert_array_equal(w, np.ones((2, 2)))  # nothing was updated by the refused calls


def test_nan_and_inf_where_not_allowed():
    x = np.random.default_rng(1).standard_normal((6, 3))
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or Inf \(first at index \(2, 1\)"):
        ops.covariance(bad)
    big = np.full((4, 3), 3e38, np.float32)  # sums overflow but every value is finite
    mean, cov = ops.covariance(big)
    assert np.all(np.isfinite(mean)) and np.all(cov == 0)
    with pytest.raises(ValueError, match="cov contains NaN"):
        ops.whitening_matrix(np.full((2, 2), np.inf))
    with pytest.raises(ValueError, match="target contains NaN"):
        ops.l2_loss(x, bad)
    with pytest.raises(ValueError, match="targets contains NaN"):
        ops.sigmoid_cross_entropy(x, np.where(np.isnan(bad), np.nan, 0.0))


def test_target_domains():
    s = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ops.sigmoid_cross_entropy(s, [[0, 2], [1, 0]])
    with pytest.raises(ValueError, match=r"-1 or \+1"):
        ops.attribute_hinge_loss(s, [[0, 1], [1, -1]])
    with pytest.raises(ValueError, match="pred has shape"):
        ops.l1_loss(np.zeros(3), np.zeros((3, 1)))


def test_maxout_indices_are_checked():
    dy = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"idx must be in \[0, 2\)"):
        ops.maxout_backward(dy, np.array([[0, 1, 2], [0, 0, 0]]), 2)
    with pytest.raises(ValueError, match=r"idx must be in"):
        ops.maxout_backward(dy, np.array([[0, -1, 0], [0, 0, 0]]), 2)
    with pytest.raises(TypeError, match="idx"):
        ops.maxout_backward(dy, np.zeros((2, 3)), 2)
    with pytest.raises(ValueError, match="multiple of k=4"):
        ops.maxout_forward(np.ones((2, 6)), 4)
    with pytest.raises(ValueError, match="k must be"):
        ops.maxout_forward(np.ones((2, 6)), 0)


def test_in_place_arguments():
    w = np.ones((2, 2))
    with pytest.raises(TypeError, match="w is updated in place"):
        ops.sgd_update([[1.0, 1.0]], [[1.0, 1.0]], 0.1)
    ro = w.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.sgd_update(ro, w, 0.1)
    with pytest.raises(TypeError, match="velocity has dtype float32 but w has dtype float64"):
        ops.momentum_update(w, w, np.zeros((2, 2), np.float32), 0.1)
    with pytest.raises(ValueError, match="velocity has shape"):
        ops.momentum_update(w, w, np.zeros((2, 3)), 0.1)
    with pytest.raises(TypeError):
        ops.sgd_update(np.ones((2, 2), int), w, 0.1)
    rm = np.zeros(3, np.float32)
    with pytest.raises(TypeError, match="running_var"):
        ops.batchnorm_forward(
            np.ones((2, 3), np.float32), np.ones(3, np.float32), np.zeros(3, np.float32), rm, np.ones(3)
        )
    with pytest.raises(TypeError, match="fired"):
        ops.dead_relu_fraction(np.ones((2, 3)), np.zeros(3))


def test_wrong_ranks_name_the_argument():
    with pytest.raises(ValueError, match="x must be 2-dimensional"):
        ops.affine_forward(np.ones(3), np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match="b must be 1-dimensional"):
        ops.affine_forward(np.ones((1, 3)), np.ones((3, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="x has 3 features but w has 4 rows"):
        ops.affine_forward(np.ones((1, 3)), np.ones((4, 2)), np.ones(2))
    with pytest.raises(ValueError, match="non-empty"):
        ops.relu_forward(np.float32(1.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_accepted_input_variety(backend):
    """Lists, ints, read-only and mixed-precision inputs follow the documented rules."""
    got = ops.relu_forward([[1, -2], [3, -4]], backend=backend)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [[1, 0], [3, 0]])
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    w = np.ones((3, 2), np.float32)
    b = np.zeros(2, np.float32)
    y = ops.affine_forward(x, w, b, backend=backend)  # ints → float64, then float64 wins
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[3, 3], [12, 12]])
    assert ops.affine_forward(x.astype(np.float32), w, b, backend=backend).dtype == np.float32
    assert ops.affine_forward(x.astype(np.float32), w.astype(np.float64), b, backend=backend).dtype == np.float64
    ro = np.asarray(x, dtype=np.float32)
    ro.flags.writeable = False
    np.testing.assert_array_equal(ops.affine_forward(ro, w, b, backend=backend), y)
    loss, _ = ops.softmax_cross_entropy([[0.0, 0.0]], [1], backend=backend)
    np.testing.assert_allclose(loss, np.log(2))
    want = ref.l2_loss(np.array([[1.0], [2.0]]), np.array([[0.0], [0.0]]))
    got = ops.l2_loss([1.0, 2.0], [0.0, 0.0], backend=backend)
    assert got[0] == pytest.approx(want[0]) and got[1].shape == (2,)
