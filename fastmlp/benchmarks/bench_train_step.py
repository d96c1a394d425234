"""One training step, side by side in one run (BENCH.md's headline workload and the small-net regime).

CIFAR-shaped step: 3072 → 512 → 512 → 10, ReLU, inverted dropout 0.5, softmax CE, SGD momentum
0.9 + L2 1e-4, float32. Columns: fastmlp per backend, the notes' NumPy code ("numpy-notes"),
PyTorch CPU (same thread count), scikit-learn (no dropout: it has none), and the GEMM floor.
"""

import contextlib
import os
from typing import Any

import numpy as np
import pytest

import fastmlp
from fastmlp import datasets, optim
from fastmlp.benchmarks.harness import BENCH_BACKENDS, contenders
from fastmlp.benchmarks.workloads import (
    CIFAR_SIZES,
    KEEP,
    L2,
    LR,
    MU,
    GemmFloor,
    NotesMLP,
    batch,
    sklearn_step_fn,
    torch_step_fn,
)

FULL = os.environ.get("FASTMLP_BENCH_FULL") == "1"
BATCHES = [64, 256, 1024, 4096] if FULL else [256]


def _same_as_reference(backend, sizes, train, keep=KEEP, loss_rtol=1e-4):
    """Two fresh models of ``sizes`` (same seed), one on ``backend``, one on the NumPy reference,
    trained by ``train(net) -> losses``: the losses and every parameter agree to float rounding
    (the masks are the same bits on every backend, so a wrong kernel shows as O(1) differences).
    A fresh pair, because the timed model took an unknown number of steps."""
    nets = [fastmlp.MLP(list(sizes), keep_prob=keep, seed=0, backend=b) for b in (backend, "numpy")]
    (got_losses, want_losses) = (train(net) for net in nets)
    np.testing.assert_allclose(got_losses, want_losses, rtol=loss_rtol)
    got, want = (net.get_state() for net in nets)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-3, atol=1e-5, err_msg=key)


def _tag(benchmark, impl, n, group="train step"):
    benchmark.group = f"{group} B={n}"
    benchmark.extra_info.update(backend=impl, batch=n)


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("backend", contenders(BENCH_BACKENDS))
def bench_step_fastmlp(benchmark, backend, n):
    _tag(benchmark, backend, n)
    X, y = batch(n)
    net = fastmlp.MLP(list(CIFAR_SIZES), keep_prob=KEEP, seed=0, backend=backend)
    sgd = optim.SGD(LR, momentum=MU, weight_decay=L2)
    net.train_step(X, y, sgd)  # compile and allocate workspaces outside the timing
    assert np.isfinite(benchmark(net.train_step, X, y, sgd))

    def two_steps(net):
        opt = optim.SGD(LR, momentum=MU, weight_decay=L2)
        return [net.train_step(X, y, opt) for _ in range(2)]

    _same_as_reference(backend, CIFAR_SIZES, two_steps)


# Thread scaling in one run: each benchmark sets its own thread count (Numba, BLAS, PyTorch).
THREADS = sorted({1, min(2, os.cpu_count() or 1)})


@contextlib.contextmanager
def _threads(n):
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(n)
    except ValueError as exc:  # NUMBA_NUM_THREADS below n: this column cannot be measured here
        pytest.skip(str(exc))
    try:
        yield
    finally:
        fastmlp.set_num_threads(before)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("impl", contenders(["numba", "gemm-floor", "numpy-notes", "torch"]))
def bench_step_threads(benchmark, impl, threads):
    """B=256 at 1 and at 2 threads, same run: 2 threads should be ≥ 1.7× faster than 1."""
    benchmark.group = "train step threads B=256"
    benchmark.extra_info.update(backend=f"{impl}@{threads}t", batch=256, threads=threads)
    X, y = batch(256)
    fn: Any
    args: tuple[Any, ...]
    with _threads(threads):
        if impl == "numba":
            net = fastmlp.MLP(list(CIFAR_SIZES), keep_prob=KEEP, seed=0, backend="numba")
            sgd = optim.SGD(LR, momentum=MU, weight_decay=L2)
            fn, args = net.train_step, (X, y, sgd)
        elif impl == "gemm-floor":
            fn, args = GemmFloor(256).step, ()
        elif impl == "numpy-notes":
            fn, args = NotesMLP().step, (X, y)
        else:
            pytest.importorskip("torch")
            step, torch = torch_step_fn()
            torch.set_num_threads(threads)
            fn, args = step, (torch.from_numpy(X), torch.from_numpy(y))
        fn(*args)
        benchmark(fn, *args)


@pytest.mark.contender("numpy-notes")
@pytest.mark.parametrize("n", BATCHES)
def bench_step_numpy_notes(benchmark, n):
    _tag(benchmark, "numpy-notes", n)
    X, y = batch(n)
    net = NotesMLP()
    assert np.isfinite(benchmark(net.step, X, y))


@pytest.mark.contender("gemm-floor")
@pytest.mark.parametrize("n", BATCHES)
def bench_step_gemm_floor(benchmark, n):
    _tag(benchmark, "gemm-floor", n)
    floor = GemmFloor(n)
    benchmark(floor.step)


@pytest.mark.contender("torch")
@pytest.mark.parametrize("n", BATCHES)
def bench_step_torch(benchmark, n):
    pytest.importorskip("torch")
    _tag(benchmark, "torch", n)
    step, torch = torch_step_fn()
    torch.set_num_threads(fastmlp.get_num_threads())
    X, y = batch(n)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    step(Xt, yt)
    assert np.isfinite(benchmark(step, Xt, yt).item())


@pytest.mark.contender("sklearn")
@pytest.mark.parametrize("n", BATCHES)
def bench_step_sklearn(benchmark, n):
    pytest.importorskip("sklearn.neural_network")
    _tag(benchmark, "sklearn", n)
    benchmark(sklearn_step_fn(*batch(n)))


SMALL = (64, 256, 128, 10)


def _digits():
    return datasets.load_digits()


@pytest.mark.parametrize("backend", contenders(BENCH_BACKENDS))
def bench_small_net_epoch_fastmlp(benchmark, backend):
    """Digits, 64 → 256 → 128 → 10, Adam, batch 64: one epoch (per-call overhead dominates)."""
    benchmark.group = "small net: digits epoch (Adam, B=64)"
    benchmark.extra_info.update(backend=backend)
    X, y = _digits()
    net = fastmlp.MLP(list(SMALL), seed=0, backend=backend)
    adam = optim.Adam(1e-3)
    kw: dict[str, Any] = {"epochs": 1, "batch_size": 64, "optimizer": adam, "track_dead_relu": False}
    net.fit(X, y, **kw)
    benchmark(net.fit, X, y, **kw)

    def one_epoch(net):
        history = net.fit(X, y, epochs=1, batch_size=64, optimizer=optim.Adam(1e-3), track_dead_relu=False)
        return history.loss

    _same_as_reference(backend, SMALL, one_epoch, keep=1.0)


@pytest.mark.contender("sklearn")
def bench_small_net_epoch_sklearn(benchmark):
    neural = pytest.importorskip("sklearn.neural_network")
    benchmark.group = "small net: digits epoch (Adam, B=64)"
    benchmark.extra_info.update(backend="sklearn")
    X, y = _digits()
    clf = neural.MLPClassifier(
        hidden_layer_sizes=SMALL[1:-1],
        solver="adam",
        batch_size=64,
        max_iter=1,
        shuffle=True,
        random_state=0,
        tol=0,
        n_iter_no_change=10**9,
    )
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        benchmark(clf.fit, X, y)


@pytest.mark.contender("torch")
def bench_small_net_epoch_torch(benchmark):
    pytest.importorskip("torch")
    benchmark.group = "small net: digits epoch (Adam, B=64)"
    benchmark.extra_info.update(backend="torch")
    step, torch = torch_step_fn(SMALL, optimizer="adam", keep=1.0)
    X, y = _digits()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def epoch():
        order = torch.randperm(len(yt))
        for i in range(0, len(yt), 64):
            idx = order[i : i + 64]
            step(Xt[idx], yt[idx])

    epoch()
    benchmark(epoch)


ESTIMATOR_SETTINGS: dict[str, Any] = {
    "hidden_layer_sizes": (256, 128),
    "solver": "adam",
    "batch_size": 64,
    "max_iter": 5,
    "random_state": 0,
    "tol": 0.0,
    "n_iter_no_change": 10**6,
}


@pytest.mark.parametrize("impl", contenders(["fastmlp.sklearn", "sklearn"]))
def bench_estimator_fit_digits(benchmark, impl):
    """Replace the import, keep the settings: MLPClassifier.fit on digits, 5 epochs, float64 both."""
    neural = pytest.importorskip("sklearn.neural_network")
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from fastmlp.sklearn import MLPClassifier

    benchmark.group = "MLPClassifier.fit digits (5 epochs, same settings)"
    benchmark.extra_info.update(backend=impl)
    cls = MLPClassifier if impl == "fastmlp.sklearn" else neural.MLPClassifier
    X, y = datasets.load_digits()
    X = X.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cls(**ESTIMATOR_SETTINGS).fit(X, y)
        fitted = benchmark(lambda: cls(**ESTIMATOR_SETTINGS).fit(X, y))
        assert fitted.score(X, y) > 0.95  # both learn digits in 5 epochs
        if impl == "fastmlp.sklearn":  # and fastmlp's default backend gives the reference's model
            want = MLPClassifier(backend="numpy", **ESTIMATOR_SETTINGS).fit(X, y)
            np.testing.assert_allclose(fitted.predict_proba(X), want.predict_proba(X), rtol=1e-6, atol=1e-8)
