"""Data-parallel training over MPI on this machine, the Allreduce's cost against message size, and
the ring cost model's prediction for N machines.

    python benches/mpi_scale.py                         # every case, 3 rounds, ~10 minutes on 2 cores
    python benches/mpi_scale.py --cases allreduce mpi-2x1 --batches 512

Cases, each in its own process (or mpiexec job): BENCH.md, one contender per process.
  single-2t        1 process × 2 threads: ``net.fit`` of the CIFAR-shaped net (3072-512-512-10,
                   ReLU, inverted dropout 0.5, softmax, SGD momentum 0.9, L2 1e-4, float32)
  single-1t-half   1 process × 1 thread, half the global batch: one rank's share of the
                   compute in the 2-rank cases, alone on the machine
  mpi-1x2          ``mpiexec -n 1``, 2 threads: the same fit with ``comm=COMM_WORLD`` (the
                   data-parallel step's own cost, without a second rank)
  mpi-2x1          ``mpiexec -n 2``, 1 thread per rank: ``comm=COMM_WORLD``, one blocking
                   Allreduce of the whole gradient per step
  mpi-2x1-overlap  the same with ``GradientSync(overlap=True, bucket_mb=4)``: a non-blocking
                   Allreduce per bucket started during the backward pass
  mpi-2x1-overlap-async  the same with MPICH's progress thread (MPIR_CVAR_ASYNC_PROGRESS=1), which
                   moves the buckets while the backward pass computes
  allreduce        ``mpiexec -n 2``: in-place float32 Allreduce of 1 KB … 64 MB and of the
                   gradient's size, median of repeats

Each training case runs one untimed epoch (compilation, first touches), then times ``EPOCHS``
epochs of ``STEPS`` global batches; ms/step is the timed epochs' mean. The Allreduce column is
rank 0's time in the step's gradient collectives (the blocking call, or the wait for the
non-blocking ones), over the step time: it includes waiting for the other rank to arrive.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = (3072, 512, 512, 10)
STEPS, EPOCHS = 8, 2
BATCHES = (512, 4096)
# the CIFAR-shaped net's gradient, float32: the message one data-parallel step sums
GRADIENT_BYTES = 4 * sum(a * b + b for a, b in itertools.pairwise(SIZES))
MESSAGE_BYTES = sorted([2**k for k in range(10, 27, 2)] + [GRADIENT_BYTES])  # 1 KB .. 64 MB
GBIT = 1e9 / 8  # bytes per second in one Gbit/s
LINK_LATENCY = 20e-6  # s per ring hop: a TCP message over 10/100 GbE (assumed, not measured here)


def build(seed: int = 0):
    from fastmlp import MLP

    return MLP(list(SIZES), activation="relu", keep_prob=0.5, seed=seed)


def training_case(batch: int, comm_kind: str | None) -> dict:
    """One fit's timing in this process (under mpiexec when ``comm_kind`` is set)."""
    from fastmlp import optim
    from fastmlp.benchmarks.workloads import batch as make_batch

    X, y = make_batch(batch * STEPS)
    net = build()
    comm, rank, spent = None, 0, [0.0]
    if comm_kind is not None:
        from mpi4py import MPI

        from fastmlp import distributed

        rank = MPI.COMM_WORLD.Get_rank()
        comm = MPI.COMM_WORLD
        if comm_kind == "overlap":
            comm = distributed.GradientSync(MPI.COMM_WORLD, overlap=True, bucket_mb=4)
        post, finish = distributed.Collectives._post, distributed.Collectives.finish

        def timed(fn):
            def wrapper(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    spent[0] += time.perf_counter() - start

            return wrapper

        distributed.Collectives._post, distributed.Collectives.finish = timed(post), timed(finish)
    optimizer = optim.SGD(lr=1e-2, momentum=0.9, weight_decay=1e-4)
    net.fit(X, y, epochs=1, batch_size=batch, optimizer=optimizer, comm=comm, track_dead_relu=False)
    spent[0] = 0.0
    start = time.perf_counter()
    net.fit(X, y, epochs=EPOCHS, batch_size=batch, optimizer=optimizer, comm=comm, track_dead_relu=False)
    seconds = time.perf_counter() - start
    steps = STEPS * EPOCHS
    result = {"ms_per_step": 1e3 * seconds / steps, "rows_per_s": batch * steps / seconds}
    result["allreduce_ms"] = 1e3 * spent[0] / steps
    result["gradient_mb"] = sum(p.value.nbytes for p in net.parameters()) / 2**20
    return result if rank == 0 else {}


def allreduce_case() -> dict:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    times = {}
    for nbytes in MESSAGE_BYTES:
        buf = np.ones(nbytes // 4, np.float32)
        repeats = max(5, min(200, int(2e8 // nbytes)))
        samples = []
        for _ in range(repeats + 2):
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            samples.append(time.perf_counter() - start)
        times[nbytes] = float(np.median(samples[2:]))
    return {"seconds": times} if comm.Get_rank() == 0 else {}


# ----- the driver: each case in its own process ------------------------------------------------
CASES = {  # name: (ranks or None for no mpiexec, threads per process, gradient sync, extra environment)
    "single-2t": (None, 2, None, {}),
    "single-1t-half": (None, 1, None, {}),
    "mpi-1x2": (1, 2, "plain", {}),
    "mpi-2x1": (2, 1, "plain", {}),
    "mpi-2x1-overlap": (2, 1, "overlap", {}),
    "mpi-2x1-overlap-async": (2, 1, "overlap", {"MPIR_CVAR_ASYNC_PROGRESS": "1"}),
}


def launch(case: str, batch: int, out: Path) -> dict:
    ranks, threads, _, extra = CASES.get(case, (2, 1, None, {}))
    env = {
        **os.environ,
        **dict.fromkeys(["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"], str(threads)),
    }
    env.update(extra)
    rows = batch // 2 if case.endswith("-half") else batch
    command = [sys.executable, __file__, "--worker", case, "--batch", str(rows), "--out", str(out)]
    if ranks is not None:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        command = [str(mpiexec if mpiexec.exists() else "mpiexec"), "-n", str(ranks), *command]
    subprocess.run(command, check=True, env=env, timeout=900)
    return json.loads(out.read_text())


def worker(case: str, batch: int, out: Path) -> None:
    result = allreduce_case() if case == "allreduce" else training_case(batch, CASES[case][2])
    if result:
        out.write_text(json.dumps(result))


def cost_model(single_ms: float, gradient_bytes: float) -> list[tuple[int, float, float]]:
    """(machines, efficiency at 10 Gbit/s, at 100 Gbit/s): T_N = T_1/N + 2(N−1)/N · S/BW + 2(N−1)α,
    efficiency T_1 / (N · T_N); T_1 the one-machine step (this machine, 2 threads)."""
    rows = []
    t1 = single_ms / 1e3
    for n in (2, 8, 64):
        eff = []
        for gbit in (10, 100):
            comm = 2 * (n - 1) / n * gradient_bytes / (gbit * GBIT) + 2 * (n - 1) * LINK_LATENCY
            eff.append(t1 / (n * (t1 / n + comm)))
        rows.append((n, *eff))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=[*CASES, "allreduce"])
    parser.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the tables show medians (and ranges)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=512, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.batch, args.out)
        return
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"fastmlp-mpi-bench-{os.getpid()}.json"
    runs: dict[str, list[dict]] = {}
    for round_ in range(args.rounds):  # alternate the contenders round by round (BENCH.md)
        for batch in args.batches:
            for case in (c for c in args.cases if c in CASES):
                result = launch(case, batch, scratch)
                runs.setdefault(f"{case}@{batch}", []).append(result)
                print(f"round {round_ + 1} {case:21s} batch {batch:5d}: {json.dumps(result)}", flush=True)
        if "allreduce" in args.cases:
            runs.setdefault("allreduce", []).append(launch("allreduce", 0, scratch))
    scratch.unlink(missing_ok=True)
    report(runs, args.batches)


def _median(runs: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def report(runs: dict[str, list[dict]], batches: list[int]) -> None:
    """Markdown tables of the medians over the rounds (ms/step with its range)."""
    columns = ["case", "global batch", "ms / step, median (range)", "rows / s", "vs 1 process × 2 threads"]
    print("\n| " + " | ".join([*columns, "Allreduce ms (share)"]) + " |")
    print("|---|---|---|---|---|---|")
    for batch in batches:
        base = runs.get(f"single-2t@{batch}")
        for case in CASES:
            r = runs.get(f"{case}@{batch}")
            if not r:
                continue
            ms = _median(r, "ms_per_step")
            spread = f"{min(x['ms_per_step'] for x in r):.1f}–{max(x['ms_per_step'] for x in r):.1f}"
            half = case.endswith("-half")  # half a batch: its time is one rank's share, not a contender
            ratio = f"{_median(base, 'ms_per_step') / ms:.2f}×" if base and not half else "—"
            rows = "—" if half else f"{_median(r, 'rows_per_s'):.0f}"
            share = "—"
            if case.startswith("mpi"):
                reduce_ms = _median(r, "allreduce_ms")
                share = f"{reduce_ms:.1f} ({reduce_ms / ms:.0%})"
            label = f"{batch // 2} (half)" if half else str(batch)
            print(f"| {case} | {label} | {ms:.1f} ({spread}) | {rows} | {ratio} | {share} |")
    if "allreduce" in runs:
        print("\n| message | Allreduce, 2 ranks, this machine (median of rounds) | GB/s (bytes / time) |")
        print("|---|---|---|")
        for nbytes in runs["allreduce"][0]["seconds"]:
            seconds = float(np.median([r["seconds"][nbytes] for r in runs["allreduce"]]))
            size = int(nbytes)
            label = f"{size / 2**20:.4g} MB" if size >= 2**20 else f"{size / 2**10:g} KB"
            label += " (the gradient)" if size == GRADIENT_BYTES else ""
            print(f"| {label} | {seconds * 1e6:.1f} µs | {size / seconds / 1e9:.2f} |")
    grads = next((r[0]["gradient_mb"] for k, r in runs.items() if k != "allreduce" and r[0].get("gradient_mb")), None)
    if grads is None:
        return
    print(f"\nRing cost model, gradient {grads:.2f} MB, link latency {LINK_LATENCY * 1e6:.0f} µs per hop (assumed):")
    print("| global batch | one machine ms / step | N | efficiency at 10 Gbit/s | at 100 Gbit/s |")
    print("|---|---|---|---|---|")
    for batch in batches:
        base = runs.get(f"single-2t@{batch}")
        if base:
            one = _median(base, "ms_per_step")
            for n, e10, e100 in cost_model(one, grads * 2**20):
                print(f"| {batch} | {one:.1f} | {n} | {e10:.0%} | {e100:.0%} |")


if __name__ == "__main__":
    main()
