"""One script for a real GPU: every cuda op against the reference, then the CIFAR-shaped step timed.

    pip install --no-build-isolation --no-deps -e . && python benches/gpu_check.py
    python benches/gpu_check.py --sim      # CPU only: Numba's simulator, tiny sizes, no torch

(a) each op on fresh float32 inputs at real sizes, as CuPy arrays (the zero-copy path; NumPy,
torch and the Numba-GEMM fallback on a few ops), against the NumPy reference: relative error
max|got − want| / max|want| under a per-op bound, masks and indices bit-exact.
(b) BENCH.md's step (3072 → 512 → 512 → 10, ReLU, dropout keep 0.5 twice, softmax CE, SGD momentum
0.9, L2 1e-4) at batch 256 and 4096: fastmlp.ops on CuPy arrays (parameters stay on the device)
against torch.nn + torch.optim.SGD on CUDA (TF32 off and on), CUDA events, median of 30 after
warm-up, plus the GEMM floor (the step's 9 GEMMs alone in cuBLAS).
(c) the table, printed last. Each section is guarded: one failure still prints the rest.
Everything printed also goes to $OUT/gpu_check.log when $OUT is set.
"""

import os
import sys
import time
import traceback
from itertools import pairwise

SIM = "--sim" in sys.argv
if SIM:  # before anything imports numba.cuda
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")  # tiny grids are deliberate here

import numpy as np  # noqa: E402

from fastmlp import ops  # noqa: E402
from fastmlp.cases import CASES, inputs  # noqa: E402
from fastmlp.kernels import reference as ref  # noqa: E402

START = time.perf_counter()
LOG_PATH = os.path.join(os.environ["OUT"], "gpu_check.log") if os.environ.get("OUT") else None
TABLE = []  # (section, name, value) rows for the final table


def log(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    if LOG_PATH:
        with open(LOG_PATH, "a") as fh:
            fh.write(line + "\n")


try:
    import cupy as cp
except Exception:  # not installed (or the simulator run)
    cp = None
if SIM:
    cp = None
    from fastmlp.kernels.cuda import _launch

    _launch.CUDA_THREADS_PER_BLOCK, _launch.CUDA_MAX_BLOCKS, _launch.CUDA_GEMM_TILE = 32, 4, 4
from numba import cuda  # noqa: E402

# ------------------------------------------------------------------------------------------------
# (a) op checks
# ------------------------------------------------------------------------------------------------

SIZES = {
    "default": ((256, 512), (4096, 1024)),
    "loss": ((256, 10), (4096, 1000)),
    "covariance": ((4096, 1024),),
    "whitening": ((12, 12), (20, 20)),
}
SIM_SIZES = {"default": ((2, 3), (5, 7)), "loss": ((5, 7),), "covariance": ((5, 7),), "whitening": ((5, 5),)}
LOSSES = {"softmax_cross_entropy", "svm_loss", "sigmoid_cross_entropy", "attribute_hinge_loss", "l1_loss", "l2_loss"}
# relative-error bounds (float32): fused kernels and cuBLAS reorder sums; the batch-norm backward
# subtracts nearly equal sums; eigenvectors are only as good as eigenvalue gaps allow (the
# cases' spectrum 4·0.7^k + 0.05 clusters past ~20 dimensions, so whitening is checked below that)
BOUND = {"default": 1e-4, "batchnorm_backward": 2e-3, "whitening_matrix": 2e-3, "covariance": 2e-4}


def sizes_for(case):
    table = SIM_SIZES if SIM else SIZES
    group = (
        "loss"
        if case.op in LOSSES
        else case.op
        if case.op in ("covariance",)
        else "whitening"
        if case.op == "whitening_matrix"
        else "default"
    )
    return table.get(group, table["default"])


def device(a, kind):
    """Host array a as the given array kind (others pass through)."""
    if not isinstance(a, np.ndarray):
        return a
    if kind == "cupy":
        return cp.asarray(a)
    if kind == "torch":
        import torch

        return torch.as_tensor(a, device="cuda")
    if kind == "numba":
        return cuda.to_device(a)
    return a


def host(a):
    if isinstance(a, tuple):
        return tuple(host(x) for x in a)
    if isinstance(a, (float, np.ndarray)) or a is None:
        return a
    if cp is not None and isinstance(a, cp.ndarray):
        return cp.asnumpy(a)
    if type(a).__module__.startswith("torch"):
        return a.cpu().numpy()
    return a.copy_to_host()


def rel_error(got, want):
    """Largest relative error over (nested) outputs; exactness is checked separately."""
    if isinstance(want, tuple):
        return max((rel_error(g, w) for g, w in zip(got, want)), default=0.0)
    if isinstance(want, float):
        return abs(got - want) / max(1.0, abs(want))
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return float("inf")
    if want.size == 0:
        return 0.0
    if want.dtype.kind != "f":
        return 0.0 if np.array_equal(got, want) else float("inf")
    return float(np.abs(got.astype(np.float64) - want).max() / max(float(np.abs(want).max()), 1e-30))


def exact_equal(got, want):
    if isinstance(want, tuple):
        return all(exact_equal(g, w) for g, w in zip(got, want))
    return np.array_equal(np.asarray(got), np.asarray(want))


def check(case, rows, cols, kind):
    """Run one case; returns (passed, relative error, seconds)."""
    args, kwargs = inputs(case, rows, cols, np.float32, seed=int(time.time_ns() % 2**31))
    want_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want = getattr(ref, case.op)(*want_args, **kwargs)
    got_args = [device(a, kind) for a in args]
    t0 = time.perf_counter()
    got = getattr(ops, case.op)(*got_args, backend="cuda", **kwargs)
    if cp is not None:
        cp.cuda.runtime.deviceSynchronize()
    seconds = time.perf_counter() - t0
    got = host(got)
    err = rel_error(got, want)
    for pos in case.inplace:
        err = max(err, rel_error(host(got_args[pos]), want_args[pos]))
    ok = err <= BOUND.get(case.op, BOUND["default"])
    if case.exact:
        ok = ok and exact_equal(got, want)
    return ok, err, seconds


def op_checks():
    kinds = ["cupy" if cp is not None else "numba"]
    passed = failed = 0
    for case in CASES:
        for rows, cols in sizes_for(case):
            try:
                ok, err, sec = check(case, rows, cols, kinds[0])
            except Exception as exc:
                ok, err, sec = False, float("nan"), 0.0
                log(f"  error in {case.name} {rows}x{cols}: {type(exc).__name__}: {exc}")
                log(traceback.format_exc(limit=4))
            passed, failed = passed + ok, failed + (not ok)
            log(
                f"{'PASS' if ok else 'FAIL'} {case.name:32s} {rows}x{cols:<5d} {kinds[0]:6s} "
                f"rel.err {err:.2e}  first call {sec * 1e3:8.1f} ms"
            )
    # the other array kinds and the tiled Numba GEMM (what runs without CuPy) on a few ops
    extra = [
        ("numpy", "affine_backward"),
        ("numpy", "softmax_cross_entropy"),
        ("numpy", "momentum_update"),
        ("torch", "dense_forward[relu,p=0.6]"),
        ("torch", "adam_update"),
        ("numba", "affine_forward"),
        ("numba-gemm", "affine_backward"),
        ("numba-gemm", "dense_backward[relu,p=0.6]"),
        ("numba-gemm", "covariance"),
        ("numba-gemm", "whitening_matrix[zca]"),
    ]
    from fastmlp.kernels.cuda import _arrays

    by_name = {c.name: c for c in CASES}
    for kind, name in extra:
        if SIM and kind in ("torch", "numba-gemm"):
            continue
        if kind == "torch" and not _has_torch_cuda():
            continue
        case = by_name[name]
        rows, cols = sizes_for(case)[0]
        saved = list(_arrays._cupy_module)
        try:
            if kind == "numba-gemm":
                _arrays._cupy_module[:] = [None]
            ok, err, sec = check(case, rows, cols, "numba" if kind == "numba-gemm" else kind)
        except Exception as exc:
            ok, err, sec = False, float("nan"), 0.0
            log(f"  error in {name} ({kind}): {type(exc).__name__}: {exc}")
            log(traceback.format_exc(limit=4))
        finally:
            _arrays._cupy_module[:] = saved
        passed, failed = passed + ok, failed + (not ok)
        log(f"{'PASS' if ok else 'FAIL'} {name:32s} {rows}x{cols:<5d} {kind:10s} rel.err {err:.2e}")
    TABLE.append(("op checks", "passed / total", f"{passed} / {passed + failed}"))


def _has_torch_cuda():
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


# ------------------------------------------------------------------------------------------------
# (b) the CIFAR-shaped training step
# ------------------------------------------------------------------------------------------------

DIMS = (12, 8, 8, 3) if SIM else (3072, 512, 512, 10)
BATCHES = (4,) if SIM else (256, 4096)
KEEP, LR, MU, L2, SEED = 0.5, 1e-2, 0.9, 1e-4, 1234
REPEATS, WARMUP = (3, 1) if SIM else (30, 5)


def make_problem(batch, xp_to):
    rng = np.random.default_rng(batch)
    X = rng.standard_normal((batch, DIMS[0])).astype(np.float32)
    y = rng.integers(0, DIMS[-1], batch)
    params = []
    for d_in, d_out in pairwise(DIMS):
        params.append((rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in)).astype(np.float32))
        params.append(np.zeros(d_out, dtype=np.float32))
    return xp_to(X), xp_to(y), [xp_to(p) for p in params], [xp_to(np.zeros_like(p)) for p in params]


def ours_step(X, y, P, V, t):
    """Forward, backward and update with fastmlp.ops; returns the loss (a Python float)."""
    W1, b1, W2, b2, W3, b3 = P
    s1, s2 = 2 * t, 2 * t + 1  # a fresh dropout stream per layer and step
    h1 = ops.dense_forward(X, W1, b1, "relu", KEEP, SEED, s1, backend="cuda")
    h2 = ops.dense_forward(h1, W2, b2, "relu", KEEP, SEED, s2, backend="cuda")
    scores = ops.affine_forward(h2, W3, b3, backend="cuda")
    loss, dscores = ops.softmax_cross_entropy(scores, y, backend="cuda")
    dh2, dW3, db3 = ops.affine_backward(dscores, h2, W3, backend="cuda")
    dh1, dW2, db2 = ops.dense_backward(dh2, h1, W2, h2, "relu", KEEP, SEED, s2, backend="cuda")
    _, dW1, db1 = ops.dense_backward(dh1, X, W1, h1, "relu", KEEP, SEED, s1, backend="cuda")
    for p, g, v in zip(P, (dW1, db1, dW2, db2, dW3, db3), V):
        ops.momentum_update(p, g, v, LR, MU, L2, backend="cuda")
    return loss


def reference_step_loss(X, y, P):
    """The same first-step loss from the NumPy reference, as an end-to-end check."""
    W1, b1, W2, b2, W3, b3 = P
    h1 = ref.dense_forward(X, W1, b1, "relu", KEEP, SEED, 0)
    h2 = ref.dense_forward(h1, W2, b2, "relu", KEEP, SEED, 1)
    return ref.softmax_cross_entropy(ref.affine_forward(h2, W3, b3), y)[0]


def timed(fn, sync):
    times = []
    for i in range(WARMUP + REPEATS):
        sync()
        t0 = time.perf_counter()
        fn(i)
        sync()
        if i >= WARMUP:
            times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def bench_ours(batch):
    to = (lambda a: cp.asarray(a)) if cp is not None else (lambda a: cuda.to_device(a))
    X, y, P, V = make_problem(batch, to)
    want = reference_step_loss(host(X), host(y), [host(p) for p in P])
    t0 = time.perf_counter()
    first = ours_step(X, y, P, V, 0)
    log(
        f"ours batch {batch}: first step {1e3 * (time.perf_counter() - t0):.1f} ms, loss {first:.6f} "
        f"(reference {want:.6f})"
    )
    if abs(first - want) > 1e-4 * max(1.0, abs(want)):
        log(f"FAIL step loss differs from the reference: {first} vs {want}")
    sync = cp.cuda.runtime.deviceSynchronize if cp is not None else (lambda: None)
    ms = timed(lambda i: ours_step(X, y, P, V, i + 1), sync)
    kind = "CuPy" if cp is not None else "Numba"
    TABLE.append(("step ms", f"fastmlp cuda ({kind} arrays) batch {batch}", f"{ms:.3f}"))
    return ms


def bench_gemm_floor(batch):
    """The step's GEMMs alone in cuBLAS: 3 forward, 2 per layer backward + dx of layers 2, 3 (and 1)."""
    a = {d: cp.ones((batch, d), dtype=cp.float32) for d in DIMS}
    w = [cp.ones((i, o), dtype=cp.float32) for i, o in pairwise(DIMS)]

    def gemms(_):
        for k, wk in enumerate(w):
            a[DIMS[k]] @ wk  # forward
            a[DIMS[k]].T @ a[DIMS[k + 1]]  # dW
            a[DIMS[k + 1]] @ wk.T  # dx (fastmlp's dense_backward computes it for layer 1 too)

    ms = timed(gemms, cp.cuda.runtime.deviceSynchronize)
    TABLE.append(("step ms", f"GEMM floor (9 cuBLAS GEMMs) batch {batch}", f"{ms:.3f}"))
    return ms


def bench_torch(batch, tf32):
    import torch
    from torch import nn

    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.manual_seed(0)
    d = DIMS
    model = nn.Sequential(
        nn.Linear(d[0], d[1]),
        nn.ReLU(),
        nn.Dropout(1 - KEEP),
        nn.Linear(d[1], d[2]),
        nn.ReLU(),
        nn.Dropout(1 - KEEP),
        nn.Linear(d[2], d[3]),
    ).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MU, weight_decay=L2)
    X = torch.randn(batch, d[0], device="cuda")
    y = torch.randint(0, d[3], (batch,), device="cuda")

    def step(_):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return loss.item()  # fastmlp's step returns the loss as a float too

    ms = timed(step, torch.cuda.synchronize)
    TABLE.append(("step ms", f"PyTorch CUDA {'TF32' if tf32 else 'fp32'} batch {batch}", f"{ms:.3f}"))
    torch.set_float32_matmul_precision("highest")
    return ms


def step_benchmarks():
    ratios = []
    for batch in BATCHES:
        row = {}
        for label, fn in (
            ("ours", lambda b=batch: bench_ours(b)),
            ("floor", lambda b=batch: bench_gemm_floor(b)),
            ("torch", lambda b=batch: bench_torch(b, False)),
            ("torch_tf32", lambda b=batch: bench_torch(b, True)),
        ):
            if label != "ours" and (SIM or (cp is None and label == "floor")):
                continue
            if label.startswith("torch") and not _has_torch_cuda():
                continue
            try:
                row[label] = fn()
            except Exception as exc:
                log(f"{label} batch {batch} failed: {type(exc).__name__}: {exc}")
                log(traceback.format_exc(limit=6))
        for other in ("torch", "torch_tf32", "floor"):
            if "ours" in row and other in row:
                ratios.append((f"{other} ms / fastmlp ms, batch {batch}", f"{row[other] / row['ours']:.2f}"))
    for name, value in ratios:
        TABLE.append(("speed ratio (>1: fastmlp faster)", name, value))


def card_name():
    if SIM:
        return "Numba CUDA simulator (CPU)"
    try:
        import torch

        return torch.cuda.get_device_name()
    except Exception:
        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)


def main():
    log(f"gpu_check: card {card_name()}, CuPy {'yes' if cp is not None else 'no'}, sim={SIM}")
    for title, section in (("(a) op checks", op_checks), ("(b) training step", step_benchmarks)):
        log(f"=== {title} ({time.perf_counter() - START:.0f} s elapsed)")
        try:
            section()
        except Exception as exc:
            log(f"section {title} failed: {type(exc).__name__}: {exc}")
            log(traceback.format_exc())
    log(f"=== (c) summary: {card_name()}, float32, {time.perf_counter() - START:.0f} s in all")
    width = max((len(name) for _, name, _ in TABLE), default=10)
    for section, name, value in TABLE:
        log(f"| {section:32s} | {name:{width}s} | {value:>12s} |")


if __name__ == "__main__":
    main()
