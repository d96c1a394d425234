"""Per-step time of small networks, where Python overhead rules: the tiny step (8 → 8 → 8 → 2,
batch 4) and the digits step (64 → 256 → 128 → 10, batch 64), Adam, numba backend, one BLAS
thread (as fit runs them: fastmlp.threads.serial_blas_if_small).

    python benches/step_overhead.py                      # this checkout, compiled path
    python benches/step_overhead.py --layered            # the layered path (model.compiled = False)
    python benches/step_overhead.py --gemms              # the digits step's 8 GEMMs alone (NumPy)
    python benches/step_overhead.py --cifar              # the CIFAR-shaped train_step, B = 64 and 256
    python benches/step_overhead.py --repo /path/to/other/checkout

Alternate the commands a few times (each in its own process) and compare the minima.

To compare two commits, each contender in its own process (BENCH.md), alternate the two
commands a few times and compare the minima, e.g. against a worktree of an older commit:

    git worktree add /tmp/old <commit> && ln -s ../kernels /tmp/old/fastmlp/kernels
    for i in 1 2 3 4 5; do python benches/step_overhead.py --repo /tmp/old; python benches/step_overhead.py; done

(the symlink gives the worktree the ``fastmlp.kernels`` package its installed form has; the
Cython backend is not used here, so nothing needs building). benches/NOTES.md change 21 used it.
"""

from __future__ import annotations

import argparse
import sys
import time


def _step_us(fastmlp, optim, sizes, X, y, reps, layered=False):
    net = fastmlp.MLP(list(sizes), seed=0, backend="numba")
    net.compiled = not layered
    adam = optim.Adam(1e-3)
    for _ in range(30):  # compile and allocate outside the timing
        net.train_step(X, y, adam)
    best = float("inf")
    for _ in range(9):
        start = time.perf_counter()
        for _ in range(reps):
            net.train_step(X, y, adam)
        best = min(best, (time.perf_counter() - start) / reps)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="import fastmlp from this checkout instead of the installed one")
    parser.add_argument("--layered", action="store_true", help="time the layered path (one call per op)")
    parser.add_argument("--gemms", action="store_true", help="time the digits step's GEMMs alone")
    parser.add_argument("--cifar", action="store_true", help="time the CIFAR-shaped train_step (BENCH.md)")
    args = parser.parse_args()
    if args.repo:
        sys.path.insert(0, args.repo)
    import numpy as np

    import fastmlp
    from fastmlp import datasets, optim

    if args.cifar:
        print(f"{fastmlp.__file__}: CIFAR-shaped train_step {_cifar_ms(fastmlp, optim)} (minimum of 7 rounds)")
        return
    X, y = datasets.load_digits()
    X = X.astype(np.float32)
    rng = np.random.default_rng(0)
    tiny_X, tiny_y = rng.standard_normal((4, 8)).astype(np.float32), rng.integers(0, 2, 4)
    with fastmlp.threads.serial_blas_if_small(0):
        if args.gemms:
            print(f"digits step's GEMMs alone {_gemms_us(np, X[:64]):.1f} us (minimum of 9 rounds)")
            return
        digits = _step_us(fastmlp, optim, (64, 256, 128, 10), X[:64], y[:64], 200, args.layered)
        tiny = _step_us(fastmlp, optim, (8, 8, 8, 2), tiny_X, tiny_y, 1000, args.layered)
        fit_X, fit_y = rng.standard_normal((4000, 8)).astype(np.float32), rng.integers(0, 2, 4000)
        digits_fit = _fit_step_us(fastmlp, optim, (64, 256, 128, 10), X, y, 64, args.layered)
        tiny_fit = _fit_step_us(fastmlp, optim, (8, 8, 8, 2), fit_X, fit_y, 4, args.layered)
    path = "layered" if args.layered else "compiled"
    print(
        f"{fastmlp.__file__} ({path}): train_step call: digits {digits:.1f} us, tiny {tiny:.1f} us; "
        f"a step within fit: digits {digits_fit:.1f} us, tiny {tiny_fit:.1f} us (minimum of 9 rounds)"
    )


def _fit_step_us(fastmlp, optim, sizes, X, y, batch_size, layered):
    """fit's time per step: 5 epochs over X in batches of ``batch_size``, divided by their steps
    (the epochs' own work, shuffling and record included; fit's set-up spread over them)."""
    net = fastmlp.MLP(list(sizes), seed=0, backend="numba")
    net.compiled = not layered
    net.fit(X[: batch_size * 4], y[: batch_size * 4], epochs=1, batch_size=batch_size, optimizer="adam")
    steps = 5 * -(-len(X) // batch_size)
    best = float("inf")
    for _ in range(9):
        start = time.perf_counter()
        net.fit(X, y, epochs=5, batch_size=batch_size, optimizer=optim.Adam(1e-3))
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1e6


def _cifar_ms(fastmlp, optim):
    """BENCH.md's step (3072 → 512 → 512 → 10, dropout 0.5, SGD momentum + L2), both threads."""
    from fastmlp.benchmarks.workloads import CIFAR_SIZES, KEEP, L2, LR, MU, batch

    timings = []
    for n in (64, 256):
        X, y = batch(n)
        net = fastmlp.MLP(list(CIFAR_SIZES), keep_prob=KEEP, seed=0, backend="numba")
        sgd = optim.SGD(LR, momentum=MU, weight_decay=L2)
        for _ in range(3):
            net.train_step(X, y, sgd)
        best = float("inf")
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(10):
                net.train_step(X, y, sgd)
            best = min(best, (time.perf_counter() - start) / 10)
        timings.append(f"B={n} {best * 1e3:.2f} ms")
    return ", ".join(timings)


def _gemms_us(np, X):
    """The digits step's GEMMs: three forward, two dx (the first layer's is not needed), three dW."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(shape).astype(np.float32) for shape in ((64, 256), (256, 128), (128, 10))]
    outs = [np.empty((64, w.shape[1]), np.float32) for w in ws]
    dxs = [np.empty((64, w.shape[0]), np.float32) for w in ws[1:]]
    dws = [np.empty_like(w) for w in ws]

    def step():
        a = X
        for w, out in zip(ws, outs):
            np.dot(a, w, out=out)
            a = out
        g = outs[2]
        for i in (2, 1, 0):
            if i:
                np.dot(g, ws[i].T, out=dxs[i - 1])
            np.dot((X if i == 0 else outs[i - 1]).T, g, out=dws[i])
            g = dxs[i - 1] if i else g

    best = float("inf")
    for _ in range(9):
        start = time.perf_counter()
        for _ in range(1000):
            step()
        best = min(best, (time.perf_counter() - start) / 1000)
    return best * 1e6


if __name__ == "__main__":
    main()
