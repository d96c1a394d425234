"""The CIFAR-shaped step, the implementations timed in alternating blocks in one process.

    python benches/interleaved_step.py [--batch 256] [--rounds 15] [--threads 2]

pytest-benchmark times one implementation after another, so on a shared machine whose speed
drifts by ±15 % over a minute (this one) a ratio can move by as much. Here each round runs every
implementation for a short block (REPEATS steps, the last ones timed) after a pause long enough
for the previous one's thread pools to fall asleep (OpenBLAS's workers spin ~0.1 s after a call:
strict A B C A B C alternation measures the pools fighting, not the code). The median over rounds
of each block's median, and the issue's target ratios (``report.step_summary``, as ``fastmlp
bench`` prints them) come last.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings

import numpy as np

import fastmlp
from fastmlp import backends, optim
from fastmlp.benchmarks import report
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

REPEATS = 5  # timed steps per block
PAUSE_S = 0.3  # > OpenBLAS's ~0.1 s spin after its last call


def contenders(n: int, threads: int, only: list[str] | None = None) -> dict:
    """name -> zero-argument callable running one step (already warmed up); ``only``: a subset.
    PyTorch and scikit-learn are imported only when wanted (importing them is not free for the others)."""
    want = set(only or ["numba", "cython", "gemm-floor", "numpy-notes", "torch", "sklearn"])
    X, y = batch(n)
    out = {}
    for name in [b for b in ("numba", "cython") if b in want and backends.is_available(b)]:
        net = fastmlp.MLP(list(CIFAR_SIZES), keep_prob=KEEP, seed=0, backend=name)
        sgd = optim.SGD(LR, momentum=MU, weight_decay=L2)
        out[name] = lambda net=net, sgd=sgd: net.train_step(X, y, sgd)
    out["gemm-floor"] = GemmFloor(n).step
    if "numpy-notes" in want:
        notes = NotesMLP()
        out["numpy-notes"] = lambda: notes.step(X, y)
    if "torch" in want and importlib.util.find_spec("torch"):
        step, torch = torch_step_fn()
        torch.set_num_threads(threads)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        out["torch"] = lambda: step(Xt, yt)
    if "sklearn" in want and importlib.util.find_spec("sklearn"):
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        out["sklearn"] = sklearn_step_fn(X, y)
    for fn in out.values():
        fn()
        fn()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=fastmlp.get_num_threads())
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="a subset: numba cython gemm-floor numpy-notes torch sklearn"
    )
    args = parser.parse_args()
    fastmlp.set_num_threads(args.threads)
    fns = contenders(args.batch, args.threads, args.only)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            time.sleep(PAUSE_S)
            fn()  # wakes this implementation's pools; not timed
            block = []
            for _ in range(REPEATS):
                t = time.perf_counter()
                fn()
                block.append(time.perf_counter() - t)
            times[name].append(float(np.median(block)))
    group = f"train step B={args.batch}"
    medians = {name: float(np.median(ts)) for name, ts in times.items()}
    print(f"{group}, {args.threads} thread(s), {args.rounds} rounds of {REPEATS}-step blocks, medians:")
    for name, sec in sorted(medians.items(), key=lambda kv: kv[1]):
        print(f"  {name:<12} {1e3 * sec:9.2f} ms   {sec / medians['gemm-floor']:.2f}x the GEMM floor")
    print(report.step_summary({group: medians}))


if __name__ == "__main__":
    main()
