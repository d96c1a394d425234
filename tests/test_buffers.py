"""Caller-provided buffers (``out=``, ``grads=``) and ``need_dx``: same values, no new arrays."""

import numpy as np
import pytest

from fastmlp import backends, ops

BACKENDS = [name for name in backends.available() if name != "cuda"]


def _data(dtype=np.float32, n=7, d=5, m=3, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, d)).astype(dtype),
        rng.standard_normal((d, m)).astype(dtype),
        rng.standard_normal(m).astype(dtype),
        rng.standard_normal((n, m)).astype(dtype),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_buffers_give_the_same_values(backend, dtype):
    x, w, b, dy = _data(dtype)
    out = np.full((7, 3), np.nan, dtype)
    assert ops.affine_forward(x, w, b, out=out, backend=backend) is out
    np.testing.assert_array_equal(out, ops.affine_forward(x, w, b, backend=backend))
    for act, keep in [("relu", 0.6), ("tanh", 1.0)]:
        want = ops.dense_forward(x, w, b, act, keep, 5, 1, backend=backend)
        got = ops.dense_forward(x, w, b, act, keep, 5, 1, out=np.full((7, 3), np.nan, dtype), backend=backend)
        np.testing.assert_array_equal(got, want)
        grads = (np.full_like(x, np.nan), np.full_like(w, np.nan), np.full_like(b, np.nan))
        got = ops.dense_backward(dy, x, w, want, act, keep, 5, 1, grads=grads, backend=backend)
        assert all(g is buf for g, buf in zip(got, grads))
        for g, w_ in zip(got, ops.dense_backward(dy, x, w, want, act, keep, 5, 1, backend=backend)):
            np.testing.assert_array_equal(g, w_)
    grads = (np.empty_like(x), np.empty_like(w), np.empty_like(b))
    got = ops.affine_backward(dy, x, w, grads=grads, backend=backend)
    for g, w_ in zip(got, ops.affine_backward(dy, x, w, backend=backend)):
        np.testing.assert_array_equal(g, w_)
    y = np.array([0, 1, 2, 0, 1, 2, 2])
    dscores = np.full((7, 3), np.nan, dtype)
    loss, got = ops.softmax_cross_entropy(dy, y, out=dscores, backend=backend)
    want_loss, want = ops.softmax_cross_entropy(dy, y, backend=backend)
    assert got is dscores and loss == want_loss
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_need_dx_false_skips_the_input_gradient(backend):
    x, w, b, dy = _data()
    dx, dw, db = ops.affine_backward(dy, x, w, need_dx=False, backend=backend)
    assert dx is None
    _, want_dw, want_db = ops.affine_backward(dy, x, w, backend=backend)
    np.testing.assert_array_equal(dw, want_dw)
    np.testing.assert_array_equal(db, want_db)
    out = ops.dense_forward(x, w, b, "relu", backend=backend)
    dx, dw, _ = ops.dense_backward(
        dy, x, w, out, "relu", need_dx=False, grads=(None, np.empty_like(w), np.empty_like(b)), backend=backend
    )
    assert dx is None
    np.testing.assert_array_equal(dw, ops.dense_backward(dy, x, w, out, "relu", backend=backend)[1])


def test_bad_buffers_are_refused():
    x, w, b, dy = _data()
    with pytest.raises(ValueError, match="out has shape"):
        ops.affine_forward(x, w, b, out=np.empty((7, 4), np.float32))
    with pytest.raises(TypeError, match="out has dtype float64"):
        ops.affine_forward(x, w, b, out=np.empty((7, 3)))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.affine_forward(x, w, b, out=np.empty((3, 7), np.float32).T)
    ro = np.empty((7, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        ops.dense_forward(x, w, b, out=ro)
    with pytest.raises(TypeError, match="NumPy array"):
        ops.affine_forward(x, w, b, out=[[0.0] * 3] * 7)
    with pytest.raises(TypeError, match="tuple"):
        ops.affine_backward(dy, x, w, grads=[np.empty_like(x), np.empty_like(w), np.empty_like(b)])
    with pytest.raises(ValueError, match="grads\\[1\\]"):
        ops.affine_backward(dy, x, w, grads=(np.empty_like(x), np.empty_like(x), np.empty_like(b)))
    with pytest.raises(TypeError, match="grads\\[0\\]"):
        ops.affine_backward(dy, x, w, grads=(None, np.empty_like(w), np.empty_like(b)))
