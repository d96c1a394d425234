"""One rank of a data-parallel test run: ``mpiexec -n N python tests/mpi_worker.py CASE OUTDIR``.

tests/test_distributed.py launches it and compares what rank 0 writes to OUTDIR (the trained
state, the history, what each rank trained on) with a one-process fit made in the test itself.
Each rank writes its outcome to OUTDIR/rank<r>.txt: ``Type: message`` of an error (then it exits
with status 1), else ``done``.
"""

import json
import os
import sys
import time
from typing import Any

import numpy as np

from fastmlp import distributed, ops
from fastmlp.layers import BatchNorm, Dense, Dropout, ReLU
from fastmlp.model import Sequential
from fastmlp.optim import SGD

comm: Any = None  # MPI.COMM_WORLD, set by main(): importing this module does not start MPI
rank = size = 0


def build(depth: int = 1, batchnorm: bool = True, dtype=np.float64) -> Sequential:
    """The parity net: dropout fused into Dense and as its own layer, batch norm, float64."""
    rng = np.random.default_rng(3)
    layers = [Dense(10, 16, "relu", keep_prob=0.8, dtype=dtype, rng=rng)]
    if batchnorm:
        layers.append(BatchNorm(16, dtype=dtype))
    layers += [ReLU(), Dropout(0.7)]
    for _ in range(depth - 1):
        layers.append(Dense(16, 16, "tanh", keep_prob=0.9, dtype=dtype, rng=rng))
    layers.append(Dense(16, 3, dtype=dtype, rng=rng))
    return Sequential(layers, seed=7)


def data(n: int = 318, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)


FIT = {"epochs": 2, "batch_size": 32, "optimizer": "adam"}


def record_steps() -> dict[str, list]:
    """Wrap what a rank trains on (the epoch's rows) and the masks it asks for (the ops' keys)."""
    seen: dict[str, list] = {"rows": [], "masks": []}
    epoch_steps, dropout_forward = distributed.epoch_steps, ops.dropout_forward

    def rows(*args, **kwargs):
        steps = epoch_steps(*args, **kwargs)
        seen["rows"].append([steps.rows.tolist(), steps.counts.tolist()])
        return steps

    def forward(x, keep_prob, seed, stream=0, **kwargs):
        seen["masks"].append([str(seed), stream, kwargs.get("start", 0), list(x.shape)])
        return dropout_forward(x, keep_prob, seed, stream, **kwargs)

    distributed.epoch_steps, ops.dropout_forward = rows, forward
    return seen


def save_result(outdir: str, net: Sequential, history, extra: dict | None = None) -> None:
    extras = comm.gather(extra or {})
    if rank == 0:
        np.savez(os.path.join(outdir, "state.npz"), **net.get_state())
        with open(os.path.join(outdir, "result.json"), "w") as f:
            json.dump({"history": history.as_dict(), "ranks": extras, "size": size}, f)


def case_parity(outdir: str) -> None:
    seen = record_steps()
    X, y = data()
    Xv, yv = data(50, seed=1)
    net = build()
    history = net.fit(X, y, **FIT, validation_data=(Xv, yv), evaluate_train=True, comm=comm)
    save_result(outdir, net, history, seen)


def case_idle(outdir: str) -> None:
    X, y = data(609)  # the last batch has 1 row: rank 1 has none of it
    net = build(batchnorm=False)
    save_result(outdir, net, net.fit(X, y, epochs=1, batch_size=32, optimizer="momentum", comm=comm))


def case_sharded(outdir: str) -> None:
    X, y = data()
    cut = 200  # uneven shards
    part = slice(0, cut) if rank == 0 else slice(cut, None)
    net = build()
    history = net.fit(X[part], y[part], **FIT, validation_split=0.1, comm=comm, sharded=True)
    save_result(outdir, net, history)


def case_overlap(outdir: str) -> None:
    X, y = data()
    net = build(depth=3)
    sync = distributed.GradientSync(comm, overlap=True, bucket_mb=1e-3)  # a bucket per layer or so
    history = net.fit(X, y, **FIT, comm=sync)
    buckets = len(distributed.Collectives(comm, net, sync.overlap, sync.bucket_mb).buckets)
    save_result(outdir, net, history, {"buckets": buckets})


def build_regression(seed: int = 4) -> Sequential:
    """A net with a standalone ReLU (it learns its width at its first step) and 2 outputs."""
    from fastmlp.layers import BatchNorm as Norm

    rng = np.random.default_rng(seed)
    # batch norm after the ReLU: a bias straight before it would get a zero gradient (float noise)
    layers = [Dense(10, 12, dtype=np.float64, rng=rng), ReLU(), Norm(12, dtype=np.float64)]
    return Sequential([*layers, Dense(12, 2, dtype=np.float64, rng=rng)], loss="l2", seed=5)


def regression_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, _ = data(n, seed)
    return X, np.column_stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5])


def case_tiny_batches(outdir: str) -> None:
    """Global batches of 1 row on 2 ranks: rank 1 never has a row, the standalone ReLU never
    records a step there."""
    X, y = data(40)
    net = build(batchnorm=False)
    net.layers.insert(2, ReLU())  # fastmlp.model re-indexes nothing: streams stay the layers' own
    history = net.fit(X, y, epochs=2, batch_size=1, optimizer="sgd", track_dead_relu=True, comm=comm)
    save_result(outdir, net, history)


def case_empty_shard(outdir: str) -> None:
    """Rank 1 holds no rows and no validation rows, and passes validation_data=None; rank 0
    holds everything. Regression targets (a float matrix), batch norm, early stopping; a callback
    copies and pickles the model in the middle of the fit."""
    import pickle

    X, y = regression_data(150, 0)
    X_val, y_val = regression_data(40, 1)
    net = build_regression()
    copies = []

    def copy_model(epoch, history, model):
        copies.append((model.copy(), len(pickle.dumps(model))))

    if rank == 0:
        history = net.fit(X, y, epochs=4, batch_size=16, optimizer="adam", validation_data=(X_val, y_val),
                          early_stopping=2, callbacks=[copy_model], comm=comm, sharded=True)  # fmt: skip
    else:
        history = net.fit(X[:0], y[:0], epochs=4, batch_size=16, optimizer="adam", early_stopping=2,
                          callbacks=[copy_model], comm=comm, sharded=True)  # fmt: skip
    copy = copies[-1][0]
    bindings = [[getattr(layer, "mask_row0", 0), getattr(layer, "sync", None) is None] for layer in copy.layers]
    save_result(outdir, net, history, {"bindings": bindings})


def case_bad_data(outdir: str) -> None:
    X, y = data()
    if rank == 1:
        X = X.copy()
        X[5, 3] = np.nan
    build().fit(X, y, **FIT, comm=comm)


def case_different_data(outdir: str) -> None:
    X, y = data(seed=rank)
    build().fit(X, y, **FIT, comm=comm)


def case_different_lengths_split(outdir: str) -> None:
    X, y = data(318 if rank == 0 else 1)  # rank 1's validation_split would leave it no rows
    build().fit(X, y, **FIT, validation_split=0.5, comm=comm)


def at_step_4_on_rank_1(net: Sequential, action) -> None:
    """Make rank 1's fifth step run ``action`` before its forward pass."""
    if rank != 1:
        return
    train_loss = net._train_loss

    def step(*args, **kwargs):
        if net.steps == 4:
            action()
        return train_loss(*args, **kwargs)

    net._train_loss = step


def case_fail_step(outdir: str) -> None:
    X, y = data()
    net = build()

    def fail():
        raise RuntimeError("injected failure")

    at_step_4_on_rank_1(net, fail)
    net.fit(X, y, **FIT, comm=comm)


def case_crash(outdir: str) -> None:
    X, y = data()
    net = build()
    at_step_4_on_rank_1(net, lambda: os._exit(3))
    net.fit(X, y, **FIT, comm=comm)


def case_diverge(outdir: str) -> None:
    X, y = data()
    build(batchnorm=False).fit(X, y, epochs=2, batch_size=32, optimizer=SGD(lr=1e30), comm=comm)


def case_save(outdir: str) -> None:
    X, y = data()
    net = build()
    net.fit(X, y, **FIT, comm=comm)
    path = os.path.join(outdir, "model.npz")
    distributed.save(net, path, comm)
    report(outdir, f"saved {comm.gather(os.path.exists(path))}")
    if rank == 1:
        net.parameters()[0].value[0, 0] += 1e-12  # one rank's parameters drift
    distributed.save(net, os.path.join(outdir, "never.npz"), comm)


def main() -> None:
    global comm, rank, size
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    case, outdir = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    try:
        globals()[f"case_{case}"](outdir)
    except Exception as exc:
        report(outdir, f"{type(exc).__name__}: {exc}")
        sys.exit(1)
    report(outdir, f"done in {time.perf_counter() - start:.1f} s")


def report(outdir: str, line: str) -> None:
    """The rank's last word, in a file of its own (the ranks' stdout interleave)."""
    with open(os.path.join(outdir, f"rank{rank}.txt"), "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
