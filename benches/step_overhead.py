"""Per-step time of small networks, where Python overhead rules: the tiny step (8 → 8 → 8 → 2,
batch 4) and the digits step (64 → 256 → 128 → 10, batch 64), Adam, numba backend.

    python benches/step_overhead.py                      # this checkout
    python benches/step_overhead.py --repo /path/to/other/checkout

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


def _step_us(fastmlp, optim, sizes, X, y, reps):
    net = fastmlp.MLP(list(sizes), seed=0, backend="numba")
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
    args = parser.parse_args()
    if args.repo:
        sys.path.insert(0, args.repo)
    import numpy as np

    import fastmlp
    from fastmlp import datasets, optim

    X, y = datasets.load_digits()
    X = X.astype(np.float32)
    rng = np.random.default_rng(0)
    tiny_X, tiny_y = rng.standard_normal((4, 8)).astype(np.float32), rng.integers(0, 2, 4)
    digits = _step_us(fastmlp, optim, (64, 256, 128, 10), X[:64], y[:64], 200)
    tiny = _step_us(fastmlp, optim, (8, 8, 8, 2), tiny_X, tiny_y, 1000)
    print(f"{fastmlp.__file__}: digits step {digits:.1f} us, tiny step {tiny:.1f} us (minimum of 9 rounds)")


if __name__ == "__main__":
    main()
