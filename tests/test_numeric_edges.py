"""Numerics that used to fail quietly, on every CPU backend: values near the dtype's range, an
eps that rounds to 0, extreme logits, labels past int64."""

import numpy as np
import pytest

from fastmlp import backends, ops

BACKENDS = [name for name in backends.available() if name != "cuda"]
HUGE = {np.float32: 3e38, np.float64: 1e300}  # squares overflow the dtype (float64: even float64)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_max_norm_of_columns_near_the_dtype_range(backend, dtype):
    """The norm of a column of huge weights is huge, not inf: the column is scaled down to
    max_norm, not zeroed; ordinary and all-zero columns are left alone."""
    big = HUGE[dtype]
    w = np.zeros((4, 4), dtype)
    w[:, 0] = big
    w[0, 1] = -big
    w[:, 2] = 0.25
    ops.max_norm_(w, 2.0, backend=backend)
    np.testing.assert_allclose(w[:, 0], 1.0, rtol=1e-6)  # 4 equal entries: each max_norm / 2
    np.testing.assert_allclose(w[:, 1], [-2.0, 0, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(w[:, 2], dtype(0.25))
    np.testing.assert_array_equal(w[:, 3], 0)


EPS_OPS = {
    "batchnorm_forward": lambda x, eps, be: ops.batchnorm_forward(
        x, np.ones(3, x.dtype), np.zeros(3, x.dtype), np.zeros(3, x.dtype), np.ones(3, x.dtype), eps=eps, backend=be
    ),
    "whitening_matrix": lambda x, eps, be: ops.whitening_matrix(np.eye(3, dtype=x.dtype), "zca", eps, backend=be),
    "adam_update": lambda x, eps, be: ops.adam_update(
        x, np.ones_like(x), np.zeros_like(x), np.zeros_like(x), 1, eps=eps, backend=be
    ),
    "rmsprop_update": lambda x, eps, be: ops.rmsprop_update(x, np.ones_like(x), np.zeros_like(x), eps=eps, backend=be),
    "adagrad_update": lambda x, eps, be: ops.adagrad_update(x, np.ones_like(x), np.zeros_like(x), eps=eps, backend=be),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", sorted(EPS_OPS))
def test_an_eps_that_rounds_to_zero_is_refused(op, backend):
    x = np.ones((4, 3), np.float32)
    before = x.copy()
    with pytest.raises(ValueError, match=r"eps=1e-50 rounds to 0 in float32"):
        EPS_OPS[op](x, 1e-50, backend)
    np.testing.assert_array_equal(x, before)
    EPS_OPS[op](x.astype(np.float64), 1e-50, backend)  # representable in float64: accepted


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_of_extreme_float32_logits_agrees_with_the_exact_loss(backend):
    """Each row's loss is log Σ e^(f - max) - (f_y - max) = 2e38 exactly representable in float32
    and as a float64 mean: every backend returns it (the reference once averaged in float32: inf)."""
    scores = np.array([[1e38, -1e38, 0.0], [1e38, -1e38, 0.0]], np.float32)
    loss, dscores = ops.softmax_cross_entropy(scores, [1, 1], backend=backend)
    assert loss == pytest.approx(float(np.float32(1e38)) * 2, rel=1e-7)
    np.testing.assert_array_equal(dscores, np.array([[0.5, -0.5, 0.0]] * 2, np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("labels", [[2**63, 0], [2.0**63, 0.0], np.array([2**63, 0], np.uint64)], ids=str)
def test_labels_past_int64_are_reported_as_given(labels, backend):
    with pytest.raises(ValueError, match="y has label 9223372036854775808 but scores has 3 classes"):
        ops.softmax_cross_entropy(np.zeros((2, 3)), labels, backend=backend)
