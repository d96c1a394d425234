"""Data larger than memory: whitening and prediction on Dask, against dask-ml and in memory.

    python benches/dask_scale.py --data /tmp/fastmlp-dask          # writes the data once (4.6 GB), then runs
    python benches/dask_scale.py --data /tmp/fastmlp-dask --cases predict-dask predict-memory

Data (written by the first run into ``--data``; float32 .npy files read block by block from disk):
  whiten.npy   2,000,000 × 256 (2.0 GB): Gaussian rows with a known covariance A Aᵀ and a mean
               far from 0 (rows z·Aᵀ + μ, A with a spread of scales)
  predict.npy  10,000,000 × 64 (2.6 GB): uniform [0, 1] pixels, the digits net's input width

Cases, each in its own process (BENCH.md; stopped after 300 s with its workers), on a
``distributed.LocalCluster`` of 2 worker processes × 1 thread where the name says dask:
  whiten-dask     fastmlp ``Whitening("zca")`` fit on the dask array, workers limited to 400 MB
                  each; the peak RSS of each worker process (``ru_maxrss``) is reported
  whiten-daskml   dask-ml ``PCA(whiten=True, svd_solver="full")`` (tall-skinny QR) on the same array
                  and the same cluster (400 MB workers)
  whiten-daskml-8gb  the same with 8 GB per worker
  whiten-memory   fastmlp ``Whitening`` fit of the whole array loaded in memory, one process
  predict-dask    ``net.predict`` of the 10 M rows as a lazy dask array, computed on 2 workers
  predict-memory  ``net.predict`` of the 10 M rows loaded in memory, one process (2 BLAS threads)

Agreement: each whitening fit's eigenvalues and components are compared with an exact float64
NumPy reference (Σ x and Σ x xᵀ accumulated over the file chunk by chunk, then ``eigh``);
components as 1 − |cos| between matching eigenvectors (sign-free), the leading 32. The
population covariance A Aᵀ is a second check (statistical error ~ 1/√N). Predictions are
compared label for label between the two predict cases.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np

WHITEN_SHAPE = (2_000_000, 256)
PREDICT_SHAPE = (10_000_000, 64)
WHITEN_BLOCK = 20_000  # rows: 20.5 MB float32 per block
PREDICT_BLOCK = 250_000  # rows: 64 MB float32 per block
WORKER_LIMIT = "400MB"
TOP = 32


# ----- data on disk ---------------------------------------------------------------------------
def _mixing(d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    A = rng.normal(size=(d, d)) / np.sqrt(d) * np.geomspace(10.0, 0.1, d)
    return A, rng.normal(size=d) * 50.0


def prepare(folder: str) -> None:
    """Write the two files (once); each is generated block by block, never whole in memory."""
    os.makedirs(folder, exist_ok=True)
    whiten = os.path.join(folder, "whiten.npy")
    if not os.path.exists(whiten):
        A, mu = _mixing(WHITEN_SHAPE[1])
        out = np.lib.format.open_memmap(whiten + ".part", mode="w+", dtype=np.float32, shape=WHITEN_SHAPE)
        rng = np.random.default_rng(0)
        for start in range(0, WHITEN_SHAPE[0], 200_000):
            z = rng.standard_normal((min(200_000, WHITEN_SHAPE[0] - start), WHITEN_SHAPE[1]))
            out[start : start + z.shape[0]] = z @ A.T + mu
        out.flush()
        del out
        os.replace(whiten + ".part", whiten)
    predict = os.path.join(folder, "predict.npy")
    if not os.path.exists(predict):
        out = np.lib.format.open_memmap(predict + ".part", mode="w+", dtype=np.float32, shape=PREDICT_SHAPE)
        rng = np.random.default_rng(1)
        for start in range(0, PREDICT_SHAPE[0], 1_000_000):
            out[start : start + 1_000_000] = rng.random((1_000_000, PREDICT_SHAPE[1]), dtype=np.float32)
        out.flush()
        del out
        os.replace(predict + ".part", predict)
    net = os.path.join(folder, "digits_net.npz")
    if not os.path.exists(net):
        import fastmlp

        X, y = fastmlp.datasets.load_digits()
        model = fastmlp.MLP([64, 100, 10], seed=0)
        model.fit(X, y, epochs=20, optimizer="adam")
        model.save(net)
    reference = os.path.join(folder, "reference.npz")
    if not os.path.exists(reference):
        np.savez(reference, **_exact_moments(whiten))


def _exact_moments(path: str) -> dict[str, np.ndarray]:
    """Mean and covariance of the file in float64 (chunked Σx, Σxxᵀ about a shift), eigh."""
    X = np.load(path, mmap_mode="r")
    shift = np.asarray(X[:1000], dtype=np.float64).mean(axis=0)  # centres the sums: no cancellation
    total, cross = np.zeros(X.shape[1]), np.zeros((X.shape[1],) * 2)
    for start in range(0, X.shape[0], 100_000):
        part = np.asarray(X[start : start + 100_000], dtype=np.float64) - shift
        total += part.sum(axis=0)
        cross += part.T @ part
    n = X.shape[0]
    mean = total / n
    cov = cross / n - np.outer(mean, mean)
    S, U = np.linalg.eigh(cov)
    return {"mean": mean + shift, "cov": cov, "S": S[::-1], "U": U[:, ::-1]}


class NpyRows:
    """Reads row blocks of a C-order .npy file from disk (read, not mapped: a mapping's pages would
    count in the worker's resident memory until unmapped). Picklable: it carries the path only."""

    def __init__(self, path: str) -> None:
        header = np.load(path, mmap_mode="r")
        self.path, self.shape, self.dtype, self.offset = path, header.shape, header.dtype, header.offset
        del header

    def __call__(self, block_info=None) -> np.ndarray:
        start, stop = block_info[None]["array-location"][0]
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.shape[1] * self.dtype.itemsize)
            rows = np.fromfile(f, dtype=self.dtype, count=(stop - start) * self.shape[1])
        return rows.reshape(stop - start, self.shape[1])


def npy_as_dask(path: str, block_rows: int):
    """A .npy file as a dask array of row blocks, each read by the worker that computes it. One
    blockwise layer: Dask fuses the read into the task that uses the block, so no worker reads
    blocks ahead of the work that consumes them."""
    import dask.array as da

    rows = NpyRows(path)
    n, d = rows.shape
    chunks = ((block_rows,) * (n // block_rows) + ((n % block_rows,) if n % block_rows else ()), (d,))
    return da.map_blocks(rows, chunks=chunks, dtype=rows.dtype, meta=np.empty((0, 0), rows.dtype))


# ----- the cases, one per process ----------------------------------------------------------------
def _cluster(memory_limit: str):
    import dask
    from distributed import Client, LocalCluster

    # the limit is a hard one (a worker past 95 % of it is killed); no spilling or pausing at
    # 60-80 %: a reduction holds no data worth spilling, and a worker paused by its own imports
    # (dask, distributed, NumPy, Numba: ~250 MB resident before the first block) never resumes
    dask.config.set(
        {
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
            "distributed.worker.memory.pause": False,
        }
    )
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit=memory_limit, dashboard_address=None
    )
    return cluster, Client(cluster)


def _worker_peaks(client) -> list[float]:
    """Peak RSS of each worker process so far, MB."""
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return [round(kb / 1024, 1) for kb in peaks.values()]


def _whitening_agreement(folder: str, mean: np.ndarray, S: np.ndarray, U: np.ndarray) -> dict[str, float]:
    ref = np.load(os.path.join(folder, "reference.npz"))
    A, _ = _mixing(WHITEN_SHAPE[1])
    population = np.sort(np.linalg.eigvalsh(A @ A.T))[::-1]
    cos = np.abs(np.sum(U[:, :TOP] * ref["U"][:, :TOP], axis=0))
    return {
        "mean_err": float(np.abs(mean - ref["mean"]).max() / np.abs(ref["mean"]).max()),
        "eig_err": float(np.abs(S[:TOP] - ref["S"][:TOP]).max() / ref["S"][0]),
        "component_err": float(1.0 - cos.min()),
        "eig_vs_population": float(np.abs(S[:TOP] - population[:TOP]).max() / population[0]),
    }


def run_case(case: str, folder: str) -> dict:
    import fastmlp
    from fastmlp.preprocessing import Whitening

    result: dict = {"case": case}
    if case.startswith("whiten"):
        path = os.path.join(folder, "whiten.npy")
        if case == "whiten-memory":
            start = time.perf_counter()
            X = np.load(path)
            result["load_s"] = time.perf_counter() - start
            start = time.perf_counter()
            white = Whitening("zca").fit(X)
            result["seconds"] = time.perf_counter() - start
            result["peak_rss_mb"] = [round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)]
        else:
            cluster, client = _cluster("8GB" if case.endswith("8gb") else WORKER_LIMIT)
            try:
                X = npy_as_dask(path, WHITEN_BLOCK)
                client.run(lambda: __import__("fastmlp.preprocessing"))  # imports out of the timing
                start = time.perf_counter()
                if case == "whiten-dask":
                    white = Whitening("zca").fit(X)
                else:
                    from dask_ml.decomposition import PCA

                    pca = PCA(whiten=True, svd_solver="full").fit(X)
                result["seconds"] = time.perf_counter() - start
                result["peak_rss_mb"] = _worker_peaks(client)
            finally:
                client.close()
                cluster.close()
        if case.startswith("whiten-daskml"):
            S, U, mean = pca.explained_variance_, pca.components_.T, pca.mean_
        else:
            S, U, mean = white.explained_variance_, white.components_.T, white.mean_
        result.update(_whitening_agreement(folder, np.asarray(mean, np.float64), np.asarray(S, np.float64), U))
        return result
    net = fastmlp.load(os.path.join(folder, "digits_net.npz"))
    path = os.path.join(folder, "predict.npy")
    if case == "predict-memory":
        start = time.perf_counter()
        X = np.load(path)
        result["load_s"] = time.perf_counter() - start
        net.predict(X[:1000])  # warm-up: kernels compiled or loaded from the cache
        start = time.perf_counter()
        labels = net.predict(X)
        result["seconds"] = time.perf_counter() - start
    else:
        cluster, client = _cluster("4GB")
        try:
            client.run(lambda: __import__("fastmlp").MLP([2, 2]).predict(np.zeros((1, 2), np.float32)))
            start = time.perf_counter()
            labels = net.predict(npy_as_dask(path, PREDICT_BLOCK)).compute()
            result["seconds"] = time.perf_counter() - start
            result["peak_rss_mb"] = _worker_peaks(client)
        finally:
            client.close()
            cluster.close()
    result["rows_per_s"] = PREDICT_SHAPE[0] / result["seconds"]
    np.save(os.path.join(folder, f"labels-{case}.npy"), labels)
    return result


CASE_SECONDS = 300  # a case past this is stopped and reported (dask-ml at 400 MB restarts its workers forever)


def measure(case: str, folder: str) -> dict:
    """One case in a fresh process (its own session: a stopped case takes its workers with it)."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--data", folder, "--run", case],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = child.communicate(timeout=CASE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return {"case": case, "error": f"no result in {CASE_SECONDS} s (stopped)"}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if child.returncode or not lines:
        return {"case": case, "error": (err.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


CASES = ("whiten-dask", "whiten-daskml", "whiten-daskml-8gb", "whiten-memory", "predict-dask", "predict-memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder for the data files (written on the first run)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--run", choices=CASES, help=argparse.SUPPRESS)  # one case in this process
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_case(args.run, args.data)))
        return
    prepare(args.data)
    results = {case: measure(case, args.data) for case in args.cases}
    print("| case | seconds | peak RSS per process, MB | agreement with the float64 reference |")
    print("|---|---|---|---|")
    for case, r in results.items():
        if "error" in r:
            print(f"| {case} | failed: {r['error']} | | |")
            continue
        if case.startswith("whiten"):
            agree = (
                f"mean {r['mean_err']:.1e}, top-{TOP} eigenvalues {r['eig_err']:.1e}, components 1−|cos| "
                f"{r['component_err']:.1e} (eigenvalues vs population {r['eig_vs_population']:.1e})"
            )
        else:
            agree = f"{r['rows_per_s'] / 1e6:.2f} M rows/s"
        load = f" (+ {r['load_s']:.1f} s load)" if "load_s" in r else ""
        print(f"| {case} | {r['seconds']:.1f}{load} | {r.get('peak_rss_mb', '')} | {agree} |", flush=True)
    if all("error" not in results.get(case, {"error": 1}) for case in ("predict-dask", "predict-memory")):
        a, b = (np.load(os.path.join(args.data, f"labels-{case}.npy")) for case in ("predict-dask", "predict-memory"))
        print(f"\nlabels that differ between predict-dask and predict-memory: {int((a != b).sum())} of {a.size}")


if __name__ == "__main__":
    main()
