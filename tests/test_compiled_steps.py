"""The compiled training path (fastmlp/_plan.py, kernels/numba_cpu/epoch.py) against the layered
one: the same masks bit for bit, the same parameters within BLAS rounding (float64: 1e-9
relative after a few epochs; both paths call the same elementwise kernels, and only the GEMMs
come from different OpenBLAS builds), the same record, counters and errors; models it does not
take fall back; a step allocates nothing."""

import numba
import numpy as np
import pytest

import fastmlp
from fastmlp import layers, ops, optim
from fastmlp.model import step_seed

OPTIMIZERS = {
    "sgd": lambda: optim.SGD(0.05),
    "momentum": lambda: optim.SGD(0.05, momentum=0.9),
    "nesterov": lambda: optim.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: optim.Adam(1e-2),
    "rmsprop": lambda: optim.RMSprop(1e-3),
    "adagrad": lambda: optim.Adagrad(1e-2),
}
RTOL = 1e-9  # float64, a few epochs: GEMM rounding of two BLAS builds, amplified a little by training


def _classes(n=90, d=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, ((X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3).astype(int)) % 3


def _twins(build):
    """Two identical models, one held to the layered path."""
    compiled, layered = build(), build()
    layered.compiled = False
    return compiled, layered


def _assert_same_parameters(a, b, rtol=RTOL):
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(pa.value, pb.value, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("keep_prob", [1.0, 0.7])
def test_fit_matches_the_layered_path_on_every_optimizer(name, keep_prob):
    X, y = _classes()
    a, b = _twins(lambda: fastmlp.MLP([7, 12, 9, 3], keep_prob=keep_prob, dtype="float64", seed=5, backend="numba"))
    assert a.training_path(OPTIMIZERS[name](), 16) == "compiled"
    history_a = a.fit(X, y, epochs=3, batch_size=16, optimizer=OPTIMIZERS[name]())
    history_b = b.fit(X, y, epochs=3, batch_size=16, optimizer=OPTIMIZERS[name]())
    _assert_same_parameters(a, b)
    np.testing.assert_allclose(history_a.loss, history_b.loss, rtol=RTOL)
    assert history_a.train_accuracy == history_b.train_accuracy
    assert history_a.dead_relu == history_b.dead_relu
    assert a.steps == b.steps == 3 * 6


@pytest.mark.parametrize("loss", ["softmax", "svm", "squared_hinge", "sigmoid", "attribute_hinge", "l2", "l1"])
def test_every_loss_it_takes_matches_the_layered_path(loss):
    X, labels = _classes()
    y = {
        "sigmoid": (X[:, :3] > 0).astype(float),
        "attribute_hinge": np.where(X[:, :3] > 0, 1.0, -1.0),
        "l2": np.stack([X[:, 0] - X[:, 1], X[:, 2]], axis=1),
        "l1": np.stack([X[:, 0] - X[:, 1], X[:, 2]], axis=1),
    }.get(loss, labels)
    width = 2 if loss in ("l2", "l1") else 3
    a, b = _twins(lambda: fastmlp.MLP([7, 10, width], loss=loss, dtype="float64", seed=2, backend="numba"))
    assert a.training_path("momentum", 32) == "compiled"
    history_a = a.fit(X, y, epochs=2, batch_size=32, optimizer="momentum")
    history_b = b.fit(X, y, epochs=2, batch_size=32, optimizer="momentum")
    _assert_same_parameters(a, b)
    np.testing.assert_allclose(history_a.loss, history_b.loss, rtol=RTOL)
    np.testing.assert_allclose(history_a.train_accuracy, history_b.train_accuracy, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("activation", ["identity", "relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_activation_and_dtype_matches_the_layered_path(activation, dtype):
    X, y = _classes()
    a, b = _twins(
        lambda: fastmlp.MLP([7, 11, 3], activation=activation, keep_prob=0.8, dtype=dtype, seed=4, backend="numba")
    )
    a.fit(X, y, epochs=2, batch_size=20, optimizer="adam")
    b.fit(X, y, epochs=2, batch_size=20, optimizer="adam")
    _assert_same_parameters(a, b, rtol=RTOL if dtype == "float64" else 1e-4)


def test_penalties_and_per_layer_strengths_match_the_layered_path():
    X, y = _classes()

    def build():
        rng = np.random.default_rng(0)
        net = fastmlp.Sequential(
            [
                layers.Dense(7, 10, "relu", l2=0.3, dtype=np.float64, rng=rng),
                layers.Dense(10, 3, l1=0.01, dtype=np.float64, rng=rng),
            ],
            l1=0.002,
            seed=1,
            backend="numba",
        )
        return net

    a, b = _twins(build)
    history_a = a.fit(X, y, epochs=2, batch_size=30, optimizer=optim.SGD(0.05, momentum=0.5, weight_decay=0.01))
    history_b = b.fit(X, y, epochs=2, batch_size=30, optimizer=optim.SGD(0.05, momentum=0.5, weight_decay=0.01))
    _assert_same_parameters(a, b)
    np.testing.assert_allclose(history_a.loss, history_b.loss, rtol=RTOL)


def test_masks_are_the_dropout_ops_own_bits():
    X, y = _classes(n=24)
    net = fastmlp.MLP([7, 40, 30, 3], activation="identity", keep_prob=0.6, dtype="float32", seed=9, backend="numba")
    optimizer = optim.SGD(0.0001)
    net.train_step(X, y, optimizer)
    plan = net._plan
    assert plan is not None
    step = net.steps - 1
    for index in (0, 1):  # identity layers: an output is 0 exactly where the mask dropped it
        out = plan.output(index, len(X))
        mask = ops.dropout_mask(out.shape, 0.6, seed=step_seed(net.seed, step), stream=index)
        np.testing.assert_array_equal(out == 0, mask == 0)


def test_train_step_matches_the_layered_step_and_reuses_its_binding():
    X, y = _classes(n=50)
    a, b = _twins(lambda: fastmlp.MLP([7, 8, 3], keep_prob=0.9, dtype="float64", seed=3, backend="numba"))
    opt_a, opt_b = optim.Adam(1e-2), optim.Adam(1e-2)
    for rows in (20, 20, 7, 20, 1):  # smaller batches reuse the buffers of the largest
        loss = b.train_step(X[:rows], y[:rows], opt_b)
        assert a.train_step(X[:rows], y[:rows], opt_a) == pytest.approx(loss, rel=RTOL)
    plan = a._plan
    a.train_step(X[:20], y[:20], opt_a)
    b.train_step(X[:20], y[:20], opt_b)
    assert a._plan is plan
    _assert_same_parameters(a, b)
    assert a.steps == b.steps == opt_a.steps == opt_b.steps == 6
    for p in a.parameters():  # the gradients of the last step, as a layered step leaves them
        assert p.grad is not None and p.grad.shape == p.value.shape


def test_the_binding_follows_replaced_arrays_and_reset_optimizers():
    X, y = _classes(n=40)
    net = fastmlp.MLP([7, 8, 3], dtype="float64", seed=3, backend="numba")
    opt = optim.Adam(1e-2)
    net.train_step(X, y, opt)
    first = net._plan
    opt.reset()
    net.train_step(X, y, opt)
    assert net._plan is not first and opt.steps == 1
    layer = net.layers[0]
    layer.W.value = layer.W.value.copy()
    net.train_step(X, y, opt)
    assert net._plan.values[0] is layer.W.value
    copied = net.copy()  # a copy binds its own arrays
    copied.train_step(X, y, opt)
    assert copied._plan is not net._plan


@pytest.mark.parametrize(
    ("build", "why"),
    [
        (lambda: fastmlp.MLP([7, 8, 3], activation="gelu", backend="numba"), "activation 'gelu'"),
        (lambda: fastmlp.MLP([7, 8, 3], batchnorm=True, backend="numba"), "BatchNorm"),
        (lambda: fastmlp.MLP([7, 8, 3], loss="hierarchical_softmax", backend="numba"), "hierarchical_softmax"),
        (lambda: fastmlp.MLP([7, 8, 3], backend="numpy"), "no compiled training path"),
        (lambda: fastmlp.MLP([7, 4096, 3], backend="numba"), "several threads"),
    ],
)
def test_models_it_does_not_take_fall_back_and_say_why(build, why):
    X, y = _classes()
    net = build()
    path = net.training_path("momentum", 32)
    assert path.startswith("layered: ") and why in path
    history = net.fit(X, y, epochs=1, batch_size=32)
    assert net._plan is None and np.isfinite(history.loss[0])


def test_a_parameter_whose_update_runs_on_several_threads_keeps_the_layered_path():
    # 32 rows × 300 units is one epilogue chunk, but a 300 × 300 W (90 000 elements) is two
    # update chunks: one compiled call would run serially what the layered update threads
    net = fastmlp.MLP([300, 300, 3], backend="numba")
    assert "several threads" in net.training_path("momentum", 32)
    assert fastmlp.MLP([200, 300, 3], backend="numba").training_path("momentum", 32) == "compiled"


def test_max_norm_and_optimizer_subclasses_fall_back():
    net = fastmlp.Sequential([layers.Dense(7, 3, max_norm=2.0)], backend="numba")
    assert "max_norm" in net.training_path()

    class Clipped(optim.SGD):
        pass

    assert "Clipped" in fastmlp.MLP([7, 3], backend="numba").training_path(Clipped(0.1))


def test_a_non_finite_loss_stops_at_that_step_with_the_parameters_of_the_one_before():
    X, y = _classes(n=40)
    net = fastmlp.MLP([7, 8, 3], dtype="float32", seed=0, backend="numba")
    opt = optim.SGD(1e3)
    with pytest.raises(fastmlp.TrainingDiverged, match=r"loss is (nan|inf) at step \d+"):
        net.fit(X * 1e3, y, epochs=50, batch_size=10, optimizer=opt)
    assert net.steps == opt.steps


def test_zero_allocations_per_step_after_the_first():
    from numba.core.runtime import _nrt_python, rtsys  # the switch NUMBA_NRT_STATS=1 flips at start-up

    if _jit_disabled():
        pytest.skip("the JIT is disabled: the kernel runs as Python, which allocates by nature")
    X, y = _classes(n=400)
    net = fastmlp.MLP([7, 16, 16, 3], keep_prob=0.8, dtype="float32", seed=0, backend="numba")
    opt = optim.Adam()
    net.fit(X, y, epochs=1, batch_size=16, optimizer=opt)  # compiles, binds
    plan = net._plan
    X32, labels = X.astype(np.float32), y.astype(np.int64)

    def allocations(steps):
        before = rtsys.get_allocation_stats().alloc
        plan.run(X32, labels, np.arange(16 * steps), 16, np.full(steps, 1e-3))
        return rtsys.get_allocation_stats().alloc - before

    _nrt_python.memsys_enable_stats()
    try:
        probe = rtsys.get_allocation_stats().alloc
        _allocates(3)  # the counter sees an allocation in compiled code
        assert rtsys.get_allocation_stats().alloc > probe
        one, many = allocations(1), allocations(25)
    finally:
        _nrt_python.memsys_disable_stats()
    # a call unboxes its typed lists (a few allocations, once); 24 more steps add none
    assert many == one


@numba.njit
def _allocates(n):
    return np.empty(n).size


def _jit_disabled():
    from numba.core import config

    return bool(config.DISABLE_JIT)


@pytest.mark.parametrize("keep_prob", [1.0, 0.75])
def test_results_do_not_depend_on_the_thread_count(keep_prob):
    X, y = _classes(n=300)
    results = []
    before = fastmlp.get_num_threads()
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        try:
            net = fastmlp.MLP([7, 32, 16, 3], keep_prob=keep_prob, dtype="float32", seed=8, backend="numba")
            net.fit(X, y, epochs=2, batch_size=32, optimizer="adam")
            results.append([p.value.copy() for p in net.parameters()])
        finally:
            fastmlp.set_num_threads(before)
    for one, two in zip(*results, strict=True):
        np.testing.assert_array_equal(one, two)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_sklearn_adapter_trains_compiled_with_its_learning_rate_schedule():
    sklearn = pytest.importorskip("fastmlp.sklearn")
    X, y = _classes(n=120)
    settings = dict(
        hidden_layer_sizes=(9,),
        solver="sgd",
        learning_rate="invscaling",
        batch_size=25,
        max_iter=4,
        random_state=0,
        dtype="float64",
        backend="numba",
    )
    a = sklearn.MLPClassifier(**settings).fit(X, y)
    assert a.model_.training_path(a._opt, 25) == "compiled"
    fastmlp.Sequential.compiled = False
    try:
        b = sklearn.MLPClassifier(**settings).fit(X, y)
    finally:
        fastmlp.Sequential.compiled = True
    _assert_same_parameters(a.model_, b.model_)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=RTOL)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_layered_step_calls_no_door_of_the_ops_it_binds(backend, monkeypatch):
    X, y = _classes(n=60)
    net = fastmlp.MLP([7, 9, 3], keep_prob=0.8, dtype="float64", seed=1, backend=backend)
    net.compiled = False
    reference = net.copy()

    def door(*args, **kwargs):
        raise AssertionError("a training step went through an op's door")

    for name in ("dense_forward", "dense_backward", "affine_forward", "affine_backward", "softmax_cross_entropy"):
        monkeypatch.setattr(ops, name, door)
    monkeypatch.setattr(ops, "adam_update", door)
    net.fit(X, y, epochs=2, batch_size=20, optimizer=optim.Adam(1e-2))
    net.train_step(X[:5], y[:5], optim.Adam(1e-2))
    monkeypatch.undo()
    reference.fit(X, y, epochs=2, batch_size=20, optimizer=optim.Adam(1e-2))
    reference.train_step(X[:5], y[:5], optim.Adam(1e-2))
    _assert_same_parameters(net, reference, rtol=0)  # the same drivers, the same bits


def test_targets_the_loss_ops_would_refuse_are_refused_by_fit():
    X, _ = _classes(n=30)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fastmlp.MLP([7, 3], loss="sigmoid").fit(X, np.full((30, 3), 2.0), epochs=1)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        fastmlp.MLP([7, 3], loss="attribute_hinge").fit(X, np.full((30, 3), 0.5), epochs=1)
