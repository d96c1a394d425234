"""Buffers that overlap inputs: every op that writes an argument (``out=``, ``grads=``, state
updated in place) refuses one that shares memory with another argument, with the same message on
every backend, and computes correctly when buffers merely live side by side in one allocation."""

import numpy as np
import pytest

from fastmlp import backends, ops

BACKENDS = [name for name in backends.available() if name != "cuda"]
F32 = np.float32


def _dense_data(n=6, d=5, m=5, dtype=F32):
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((n, d)).astype(dtype),
        rng.standard_normal((d, m)).astype(dtype),
        rng.standard_normal(m).astype(dtype),
        rng.standard_normal((n, m)).astype(dtype),
    )


def _forward_cases():
    """(name, call(x, w, b, out) ) for the two forward ops with an ``out`` buffer."""
    return {
        "affine_forward": lambda x, w, b, out, be: ops.affine_forward(x, w, b, out=out, backend=be),
        "dense_forward": lambda x, w, b, out, be: ops.dense_forward(x, w, b, "relu", 0.6, 3, 1, out=out, backend=be),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", sorted(_forward_cases()))
@pytest.mark.parametrize("alias", ["x", "x-view", "w"])
def test_forward_out_overlapping_an_input_is_refused(op, alias, backend):
    x, w, b, _ = _dense_data(n=5)  # square: out (5, 5) has x's and w's shape
    out = {"x": x, "x-view": x[:], "w": w}[alias]
    before = x.copy(), w.copy()
    with pytest.raises(ValueError, match=f"out shares memory with {alias[0]}"):
        _forward_cases()[op](x, w, b, out, backend)
    np.testing.assert_array_equal(x, before[0])  # refused before anything was written
    np.testing.assert_array_equal(w, before[1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", ["affine_backward", "dense_backward"])
@pytest.mark.parametrize("alias", ["dx=x", "dw=w", "db=dw", "dx=dy"])
def test_backward_grads_overlapping_inputs_or_each_other_are_refused(op, alias, backend):
    x, w, b, dy = _dense_data()
    dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    if alias == "dx=x":
        dx = x
    elif alias == "dw=w":
        dw = w
    elif alias == "db=dw":
        db = dw[0]
    else:
        dx = dy[:, :5]
    with pytest.raises(ValueError, match="shares memory with"):
        if op == "affine_backward":
            ops.affine_backward(dy, x, w, grads=(dx, dw, db), backend=backend)
        else:
            out = ops.dense_forward(x, w, b, "tanh", backend="numpy")
            ops.dense_backward(dy, x, w, out, "tanh", grads=(dx, dw, db), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_dscores_into_the_scores_is_refused(backend):
    scores = np.random.default_rng(1).standard_normal((4, 3))
    with pytest.raises(ValueError, match="out shares memory with scores"):
        ops.softmax_cross_entropy(scores, [0, 1, 2, 0], out=scores, backend=backend)


UPDATES = {
    "momentum_update": (1, lambda w, dw, s, be: ops.momentum_update(w, dw, *s, 0.1, backend=be)),
    "adam_update": (2, lambda w, dw, s, be: ops.adam_update(w, dw, *s, 1, backend=be)),
    "rmsprop_update": (1, lambda w, dw, s, be: ops.rmsprop_update(w, dw, *s, backend=be)),
    "adagrad_update": (1, lambda w, dw, s, be: ops.adagrad_update(w, dw, *s, backend=be)),
}


def _update_args(n_states):
    rng = np.random.default_rng(2)
    w, dw = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    return w, dw, [np.zeros((4, 6)) for _ in range(n_states)]


UPDATE_ALIASES = [
    (op, alias)
    for op in sorted(UPDATES)
    for alias in ("state=dw", "state=w", "states", "w=dw")
    if alias != "states" or UPDATES[op][0] > 1  # two state arrays to alias with each other
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,alias", UPDATE_ALIASES)
def test_updates_with_aliased_state_are_refused(op, alias, backend):
    n_states, update = UPDATES[op]
    w, dw, states = _update_args(n_states)
    if alias == "state=dw":
        states[0] = dw
    elif alias == "state=w":
        states[-1] = w
    elif alias == "states":
        states[1] = states[0]
    else:
        dw = w
    with pytest.raises(ValueError, match="shares memory with"):
        update(w, dw, states, backend)
    ops.sgd_update(w, np.ones_like(w), 0.1, backend=backend)  # w itself is untouched and usable


@pytest.mark.parametrize("backend", BACKENDS)
def test_sgd_with_the_gradient_being_w_is_refused(backend):
    w = np.ones((3, 3))
    with pytest.raises(ValueError, match="w shares memory with dw"):
        ops.sgd_update(w, w, 0.1, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batchnorm_running_stats_aliasing_each_other_or_gamma_are_refused(backend):
    x = np.random.default_rng(3).standard_normal((5, 4))
    gamma, beta, stats = np.ones(4), np.zeros(4), np.zeros(4)
    with pytest.raises(ValueError, match="running_mean shares memory with running_var"):
        ops.batchnorm_forward(x, gamma, beta, stats, stats, backend=backend)
    with pytest.raises(ValueError, match="running_var shares memory with gamma"):
        ops.batchnorm_forward(x, gamma, beta, np.zeros(4), gamma, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_disjoint_buffers_in_one_allocation_are_accepted_and_right(backend):
    """Views side by side in one block (a workspace arena) do not overlap: accepted, and the
    results equal the reference's."""
    x, w, b, dy = _dense_data(n=6, d=5, m=4)
    arena = np.empty(6 * 4 + 6 * 5 + 5 * 4 + 4, F32)
    out = arena[:24].reshape(6, 4)
    dx, dw, db = arena[24:54].reshape(6, 5), arena[54:74].reshape(5, 4), arena[74:]
    dy = dy[:, :4].copy()
    got = ops.dense_forward(x, w, b, "relu", 0.5, 9, 2, out=out, backend=backend)
    want = ops.dense_forward(x, w, b, "relu", 0.5, 9, 2, backend="numpy")
    np.testing.assert_allclose(got, want, rtol=1e-6)
    grads = ops.dense_backward(dy, x, w, got, "relu", 0.5, 9, 2, grads=(dx, dw, db), backend=backend)
    wants = ops.dense_backward(dy, x, w, want, "relu", 0.5, 9, 2, backend="numpy")
    for g, ref in zip(grads, wants):
        np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-6)
    params = np.random.default_rng(4).standard_normal(3 * 8)
    w2, m, v = params[:8], params[8:16], params[16:]
    m[...] = 0
    v[...] = 0
    w2_ref = w2.copy()
    ops.adam_update(w2, np.ones(8), m, v, 1, backend=backend)
    ops.adam_update(w2_ref, np.ones(8), np.zeros(8), np.zeros(8), 1, backend="numpy")
    np.testing.assert_allclose(w2, w2_ref, rtol=1e-12)
