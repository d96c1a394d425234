"""Where the CIFAR-shaped step's milliseconds go: cProfile over many steps, grouped by kind.

    python benches/profile_step.py [--threads 2] [--batch 256] [--steps 40] [--backend numba]

Prints ms per step for the GEMM drivers, the fused epilogues, the optimizer update, the loss,
validation and the rest, next to the GEMM floor timed in the same process (fastmlp/benchmarks/workloads.py).
The numbers in benches/NOTES.md come from this script.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

import fastmlp
from fastmlp import optim
from fastmlp.benchmarks.workloads import CIFAR_SIZES, KEEP, L2, LR, MU, GemmFloor, batch

# (label, substrings of "file:function" that belong to it); first match wins, the rest is "other"
KINDS = [
    ("GEMMs (forward, dW, dX)", ("_weight_grads", "dense.py:dense_forward", "affine_forward", "dot", "matmul")),
    ("fused epilogues", ("_forward_", "_backward_", "_tiled", "combine", "col_sums", "_colsum")),
    ("optimizer update", ("optim.py:_update", "optim.py:_step")),
    ("L2 penalty (loss value)", ("regularization",)),
    ("softmax cross-entropy", ("losses.py",)),
    ("input validation (X finite, labels)", ("_checks.py",)),
]


def _kind(key: tuple[str, int, str]) -> str:
    name = f"{key[0].rsplit('/', 1)[-1]}:{key[2]}"
    for label, parts in KINDS:
        if any(p in name for p in parts):
            return label
    return "other (Python, dispatch)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=fastmlp.get_num_threads())
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--backend", default="numba")
    args = parser.parse_args()
    fastmlp.set_num_threads(args.threads)
    X, y = batch(args.batch)
    net = fastmlp.MLP(list(CIFAR_SIZES), keep_prob=KEEP, seed=0, backend=args.backend)
    sgd = optim.SGD(LR, momentum=MU, weight_decay=L2)
    floor = GemmFloor(args.batch)
    for _ in range(5):  # compile, allocate workspaces
        net.train_step(X, y, sgd)
        floor.step()

    def median_ms(fn, *a):
        times = []
        for _ in range(args.steps):
            t = time.perf_counter()
            fn(*a)
            times.append(time.perf_counter() - t)
        return 1e3 * float(np.median(times))

    step_ms, floor_ms = median_ms(net.train_step, X, y, sgd), median_ms(floor.step)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.steps):
        net.train_step(X, y, sgd)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for key, (_, _, tottime, _, _) in stats.items():
        totals[_kind(key)] = totals.get(_kind(key), 0.0) + tottime
    print(f"backend {args.backend}, batch {args.batch}, {args.threads} thread(s), {args.steps} steps")
    print(f"step (median, unprofiled) {step_ms:.2f} ms, GEMM floor {floor_ms:.2f} ms, ratio {step_ms / floor_ms:.2f}")
    print("profiled, ms per step (cProfile adds its own overhead to the Python parts):")
    for label, secs in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<40} {1e3 * secs / args.steps:8.3f}")


if __name__ == "__main__":
    main()
