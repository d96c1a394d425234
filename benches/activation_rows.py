"""Time the activation table's rows: elementwise ops and the fused dense layer, per backend.

Each backend runs in its own process (BENCH.md), on one thread, so the figures are the loops'
own speed: ns per element for ``<row>_forward`` / ``<row>_backward`` over 20 000 elements, and
ms for ``dense_forward`` / ``dense_backward`` at 256 x 16 -> 512 with dropout 0.5 (D = 16 keeps
the GEMM negligible: the epilogue is what is timed). Minimum of many calls each.

    python benches/activation_rows.py                      # numpy, numba, cython; float32
    python benches/activation_rows.py --dtype float64 --backends numba cython

For a before/after, run it under each checkout's own environment (benches/NOTES.md change 23).
"""

import argparse
import json
import subprocess
import sys
import time

ROWS = ("sigmoid", "elu", "gelu", "gelu_tanh", "silu", "softplus", "mish")
DENSE_ROWS = ("relu", "elu", "gelu", "gelu_tanh", "silu", "softplus", "mish")


def _best(calls, fn, *args, **keys):
    """The fastest of ``calls`` calls of fn(*args, **keys), in seconds, after one warm-up call."""
    fn(*args, **keys)
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        fn(*args, **keys)
        best = min(best, time.perf_counter() - start)
    return best


def measure(backend, dtype):
    """{row: (fwd ns/element, bwd ns/element)} and {row: (dense fwd ms, dense bwd ms)}."""
    import numpy as np

    import fastmlp
    from fastmlp import ops
    from fastmlp.kernels.activation_table import BY_NAME

    fastmlp.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(20000) * 3).astype(dtype)
    dy = np.ones_like(x)
    elementwise, dense = {}, {}
    with fastmlp.use_backend(backend):
        for name in ROWS:
            forward, backward = getattr(ops, f"{name}_forward"), getattr(ops, f"{name}_backward")
            arg = forward(x) if name == "sigmoid" else x  # sigmoid's backward takes the output
            per_element = 1e9 / x.size
            elementwise[name] = (_best(300, forward, x) * per_element, _best(300, backward, dy, arg) * per_element)
        n, d, m = 256, 16, 512
        xs = rng.standard_normal((n, d)).astype(dtype)
        w = (rng.standard_normal((d, m)) * 0.5).astype(dtype)
        b = np.zeros(m, dtype)
        dout = rng.standard_normal((n, m)).astype(dtype)
        for name in DENSE_ROWS:
            keeps_z = name != "relu" and not BY_NAME[name].from_output
            pre = np.empty((n, m), dtype) if keeps_z else None
            keys = {"activation": name, "keep_prob": 0.5, "seed": 1, "pre": pre}
            out = ops.dense_forward(xs, w, b, **keys)
            dense[name] = (
                _best(100, ops.dense_forward, xs, w, b, **keys) * 1e3,
                _best(100, ops.dense_backward, dout, xs, w, out, **keys) * 1e3,
            )
    return elementwise, dense


def _table(results, rows, unit):
    head = "| backend | " + " | ".join(rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|"]
    for backend, values in results.items():
        cells = [f"{values[r][0]:.2f} / {values[r][1]:.2f}" for r in rows]
        lines.append(f"| {backend} ({unit}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["numpy", "numba", "cython"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: one backend, JSON out
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.dtype)))
        return
    elementwise, dense = {}, {}
    for backend in args.backends:
        cmd = [sys.executable, __file__, "--one", backend, "--dtype", args.dtype]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        elementwise[backend], dense[backend] = json.loads(done.stdout.splitlines()[-1])
    print(f"elementwise, {args.dtype}, one thread, ns per element, forward / backward")
    print(_table(elementwise, ROWS, "ns"))
    print(f"\nfused dense 256 x 16 -> 512, dropout 0.5, {args.dtype}, one thread, ms, forward / backward")
    print(_table(dense, DENSE_ROWS, "ms"))


if __name__ == "__main__":
    main()
