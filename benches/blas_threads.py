"""sgemm at 1 and 2 BLAS threads for training-step shapes (batch × fan-in @ fan-in × fan-out): where
a second OpenBLAS thread starts to pay (threads.SERIAL_BLAS_BELOW; benches/NOTES.md).

    python benches/blas_threads.py
"""

from __future__ import annotations

import timeit

import numpy as np
from threadpoolctl import threadpool_limits

SHAPES = [
    (64, 64, 256),
    (64, 256, 128),
    (64, 128, 10),
    (128, 256, 256),
    (256, 256, 256),
    (64, 512, 512),
    (256, 512, 512),
    (256, 1024, 512),
    (256, 3072, 512),
]


def best_seconds(a: np.ndarray, b: np.ndarray, c: np.ndarray, threads: int) -> float:
    """Minimum over 7 repeats of one product into ``c`` with ``threads`` BLAS threads."""
    with threadpool_limits(threads, user_api="blas"):
        number = max(1, int(1e8 / (a.shape[0] * a.shape[1] * b.shape[1])))
        return min(timeit.repeat(lambda: np.dot(a, b, out=c), number=number, repeat=7)) / number


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'m×k×n':>14} {'mult-adds':>10} {'1 thread µs':>12} {'2 threads µs':>13} {'2t speed-up':>12}")
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        one = min(best_seconds(a, b, c, 1) for _ in range(2))  # alternate, keep each side's best
        two = min(best_seconds(a, b, c, 2) for _ in range(2))
        print(f"{m}×{k}×{n:>5} {m * k * n / 1e6:>9.1f}M {one * 1e6:>12.1f} {two * 1e6:>13.1f} {one / two:>12.2f}")


if __name__ == "__main__":
    main()
