"""Reliability end to end: fuzzing without crashes, determinism across runs, threads and backends,
thread safety, numerics at the edges."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import backends, ops, optim

BACKENDS = [name for name in backends.available() if name != "cuda"]
FUZZ = Path(__file__).parent / "fuzz" / "fuzz_ops.py"


@pytest.mark.parametrize("backend", BACKENDS)
def test_fuzzed_ops_are_correct_or_refused_never_crash(backend):
    """Random shapes, dtypes, strides, NaN/Inf, empties, lists, read-only arrays: a kernel crash
    would kill the subprocess with a signal, which fails here with the output shown."""
    proc = subprocess.run(
        [sys.executable, str(FUZZ), backend, "150"],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYTHONHASHSEED="0"),
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    assert "fuzz ok" in proc.stdout


def _train(backend, threads=None, steps=4, seed=11, sizes=(20, 64, 32, 5), batch=24, optimizer=None):
    if threads is not None:
        fastmlp.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((steps * batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], steps * batch)
    net = fastmlp.MLP(list(sizes), keep_prob=0.6, seed=seed, backend=backend)
    opt = optimizer or optim.SGD(0.05, momentum=0.9, weight_decay=1e-3)
    rows = [slice(i * batch, (i + 1) * batch) for i in range(steps)]
    losses = [net.train_step(X[r], y[r], opt) for r in rows]
    return losses, net.get_state()


# Big enough that every kernel of the step splits its work: the first layer's (512, 256) output is
# 4 chunks of 32768 elements, the second's 2, W1's update (300 x 256) 2 (kernels/numba_cpu/_common.py).
CHUNKED_NET = {"sizes": (300, 256, 128, 10), "batch": 512}


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_same_seed_same_result_across_runs_and_thread_counts(backend, optimizer, monkeypatch):
    """Sizes whose chunks really go to the thread team: the BLAS clock is held quiet, which
    otherwise keeps the epilogues next to each GEMM on the calling thread (kernels/_blas_clock.py)."""
    from fastmlp.kernels import _blas_clock

    monkeypatch.setattr(_blas_clock, "QUIET_S", -1.0)

    def run(threads):
        opt = optim.Adam(1e-3, weight_decay=1e-4) if optimizer == "adam" else None
        return _train(backend, threads, optimizer=opt, **CHUNKED_NET)

    before = fastmlp.get_num_threads()
    try:
        runs = [run(2), run(2), run(1), run(2)]
    finally:
        fastmlp.set_num_threads(before)
    first_losses, first_state = runs[0]
    for losses, state in runs[1:]:
        assert losses == first_losses  # exactly: masks, chunked reductions and BLAS are all deterministic
        for key in first_state:
            np.testing.assert_array_equal(state[key], first_state[key], err_msg=key)


def test_backends_agree_end_to_end():
    """The same seed gives the same dropout masks on every backend, so whole training runs agree
    to rounding: any mask difference would show up as O(1) differences."""
    if len(BACKENDS) < 2:
        pytest.skip("only one CPU backend is available here")
    want_losses, want_state = _train("numpy")
    for backend in BACKENDS[1:]:
        losses, state = _train(backend)
        np.testing.assert_allclose(losses, want_losses, rtol=1e-4)
        for key in want_state:
            np.testing.assert_allclose(state[key], want_state[key], rtol=1e-3, atol=1e-5, err_msg=f"{backend} {key}")


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_masks_are_identical_across_backends(backend):
    for shape, keep, seed, stream in [((7, 13), 0.5, 1, 0), ((256, 512), 0.9, 2**63 + 5, 7), ((1, 1), 1.0, 0, 0)]:
        np.testing.assert_array_equal(
            ops.dropout_mask(shape, keep, seed, stream, backend=backend),
            ops.dropout_mask(shape, keep, seed, stream, backend="numpy"),
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_threads_training_two_models_match_sequential_runs(backend):
    sequential = [_train(backend, seed=s)[1] for s in (1, 2)]
    results: dict[int, dict] = {}
    errors: list[BaseException] = []

    def work(seed):
        try:
            results[seed] = _train(backend, seed=seed)[1]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seed, want in zip((1, 2), sequential):
        for key in want:
            np.testing.assert_array_equal(results[seed][key], want[key], err_msg=f"seed {seed} {key}")


@pytest.mark.jit_only
def test_threads_are_safe_on_numbas_workqueue_layer():
    """Numba's workqueue layer aborts on concurrent parallel launches; fastmlp serializes its
    launches when Numba ended up with that layer (kernels/numba_cpu/_common.py)."""
    script = Path(__file__).parent / "threads_workqueue.py"
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert "layer workqueue failures 0" in proc.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_numerics_at_the_edges(backend):
    big = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], np.float32)
    loss, d = ops.softmax_cross_entropy(big, [1, 0], backend=backend)
    # row 0: 1e4 - (-1e4); row 1: 1e4 + log 2 - (-1e4)
    assert np.isfinite(loss) and np.all(np.isfinite(d)) and loss == pytest.approx(2e4 + np.log(2) / 2, rel=1e-6)
    for fn in (ops.sigmoid_forward, ops.tanh_forward):
        y = fn(np.array([[-1e4, 1e4]], np.float32), backend=backend)
        np.testing.assert_array_equal(np.abs(y), [[0.0 if fn is ops.sigmoid_forward else 1.0, 1.0]])
    loss, d = ops.sigmoid_cross_entropy(big, (big > 0).astype(np.float32), backend=backend)
    assert loss == pytest.approx(np.log(2) / 2, rel=1e-5)  # only the 0 score costs log 2; e^-1e4 terms vanish
    x = np.column_stack([np.full(8, 3.0), np.arange(8.0)]).astype(np.float32)  # constant feature
    y, mean, inv_std = ops.batchnorm_forward(
        x,
        np.ones(2, np.float32),
        np.zeros(2, np.float32),
        np.zeros(2, np.float32),
        np.ones(2, np.float32),
        backend=backend,
    )
    assert np.all(np.isfinite(y)) and np.all(y[:, 0] == 0)
    dx, _, _ = ops.batchnorm_backward(np.ones_like(y), x, np.ones(2, np.float32), mean, inv_std, backend=backend)
    assert np.all(np.isfinite(dx))
