"""Data-parallel training over MPI: ``mpiexec -n N`` runs of tests/mpi_worker.py against a
one-process fit made here, faults, the CLI under mpiexec, and the row bookkeeping in-process.

mpi4py and the MPICH wheel come with the test extras (``pip install -e ".[test]"``): these tests
fail, never skip, where they are missing.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastmlp import distributed, load
from fastmlp.model import step_seed

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import mpi_worker  # noqa: E402  (the cases' model and data, built here too for the one-process fit)

MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
FASTMLP = shutil.which("fastmlp", path=str(Path(sys.executable).parent)) or "fastmlp"  # the console script
# one thread per rank: the ranks share this machine's cores
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def mpirun(n, *command, timeout=240):
    assert MPIEXEC, "mpiexec not found: install the test extras (mpi4py, mpich)"
    start = time.perf_counter()
    proc = subprocess.run(
        [MPIEXEC, "-n", str(n), *command], capture_output=True, text=True, timeout=timeout, env=ENV, cwd=HERE.parent
    )
    return proc, time.perf_counter() - start


def run_case(case, n, outdir, ok=True):
    proc, seconds = mpirun(n, sys.executable, str(HERE / "mpi_worker.py"), case, str(outdir))
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, seconds


def relative(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def assert_same_fit(outdir, net, history, tol=1e-10):
    state = np.load(outdir / "state.npz")
    reference = net.get_state()
    assert set(state.files) == set(reference)
    for key, value in reference.items():
        assert relative(state[key], value) < tol, key
    result = json.loads((outdir / "result.json").read_text())
    for field in ("loss", "train_accuracy", "val_loss", "val_accuracy", "dead_relu"):
        np.testing.assert_allclose(result["history"][field], getattr(history, field), rtol=tol, atol=tol, err_msg=field)
    return result


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_parity_with_one_process(tmp_path, ranks):
    """float64, 2 epochs × 10 steps of a global batch of 32, dropout (fused and a layer), batch
    norm, Adam, validation: every world size gives the one-process parameters to 1e-10, and the
    ranks' rows and mask keys tile the one-process batches."""
    run_case("parity", ranks, tmp_path)
    X, y = mpi_worker.data()
    net = mpi_worker.build()
    history = net.fit(X, y, **mpi_worker.FIT, validation_data=mpi_worker.data(50, seed=1), evaluate_train=True)
    result = assert_same_fit(tmp_path, net, history)
    assert net.steps == 20
    # batches: rank by rank, step by step, the ranks' rows are the one-process batch, in order
    order_rng = np.random.default_rng([net.seed, 0xF17])
    for epoch in range(2):
        order = order_rng.permutation(X.shape[0])
        parts = [np.array(r["rows"][epoch][0]) for r in result["ranks"]]
        counts = [np.array(r["rows"][epoch][1]) for r in result["ranks"]]
        at = [0] * ranks
        for k in range(10):
            batch = []
            for r in range(ranks):
                batch += parts[r][at[r] : at[r] + counts[r][k]].tolist()
                at[r] += counts[r][k]
            assert batch == order[32 * k : 32 * (k + 1)].tolist()
    # masks: each rank's mask of each step starts at its first global row, keyed by the step's seed
    for r, seen in enumerate(result["ranks"]):
        steps = [step_seed(net.seed, s) for s in range(20)]
        dropout_layer_calls = [m for m in seen["masks"] if m[1] == 3]  # the Dropout layer (stream 3)
        assert len(dropout_layer_calls) == 20 if (ranks == 1 or r == 0) else len(dropout_layer_calls) >= 19
        for seed, stream, start, shape in dropout_layer_calls:
            step = steps.index(int(seed))
            k = step % 10
            rows_before = sum(np.array(result["ranks"][q]["rows"][step // 10][1])[k] for q in range(r))
            assert start == rows_before * shape[1]
            assert stream == 3


def test_idle_rank_in_the_last_batch(tmp_path):
    """609 rows in batches of 32: the last batch's one row is rank 0's, rank 1 only adds zeros."""
    run_case("idle", 2, tmp_path)
    X, y = mpi_worker.data(609)
    net = mpi_worker.build(batchnorm=False)
    history = net.fit(X, y, epochs=1, batch_size=32, optimizer="momentum")
    assert_same_fit(tmp_path, net, history)


def test_sharded_data_and_validation_split(tmp_path):
    """Each rank passes its own (uneven) shard: the rows are exchanged per epoch so that the steps
    are the one-process ones; validation_split holds out the LAST rows of the global data."""
    run_case("sharded", 2, tmp_path)
    X, y = mpi_worker.data()
    net = mpi_worker.build()
    history = net.fit(X, y, **mpi_worker.FIT, validation_split=0.1)
    assert_same_fit(tmp_path, net, history)


def test_batches_of_one_row_on_two_ranks(tmp_path):
    """Rank 1 never has a row; the standalone ReLU's dead-unit record still agrees."""
    run_case("tiny_batches", 2, tmp_path)
    X, y = mpi_worker.data(40)
    net = mpi_worker.build(batchnorm=False)
    net.layers.insert(2, mpi_worker.ReLU())
    history = net.fit(X, y, epochs=2, batch_size=1, optimizer="sgd", track_dead_relu=True)
    assert_same_fit(tmp_path, net, history)


def test_an_empty_shard_and_validation_on_one_rank(tmp_path):
    """Rank 1 holds no rows and passes no validation data: the fit is rank 0's data's, with
    regression targets, batch norm and early stopping; copies made during the fit are plain."""
    run_case("empty_shard", 2, tmp_path)
    X, y = mpi_worker.regression_data(150, 0)
    net = mpi_worker.build_regression()
    validation = mpi_worker.regression_data(40, 1)
    history = net.fit(X, y, epochs=4, batch_size=16, optimizer="adam", validation_data=validation, early_stopping=2)
    result = assert_same_fit(tmp_path, net, history)
    for bindings in (r["bindings"] for r in result["ranks"]):
        assert bindings == [[0, True]] * len(net.layers)


def test_overlapped_buckets(tmp_path):
    """Non-blocking Allreduce per bucket, started during the backward pass: same result."""
    run_case("overlap", 2, tmp_path)
    X, y = mpi_worker.data()
    net = mpi_worker.build(depth=3)
    history = net.fit(X, y, **mpi_worker.FIT)
    result = assert_same_fit(tmp_path, net, history)
    assert result["ranks"][0]["buckets"] >= 3


def outcomes(outdir, ranks=2):
    """Each rank's report lines (tests/mpi_worker.py), or None for a rank that wrote none."""
    files = [outdir / f"rank{r}.txt" for r in range(ranks)]
    return [f.read_text().splitlines() if f.exists() else None for f in files]


@pytest.mark.parametrize(
    "case, expected",
    [
        ("bad_data", "ValueError: fit's data: rank 1 of 2: ValueError: X contains NaN or Inf (first at index (5, 3)"),
        ("different_data", "ValueError: the ranks passed different data"),
        ("different_lengths_split", "ValueError: the ranks passed different data"),
        ("fail_step", "DistributedError: training step 4: rank 1 of 2: RuntimeError: injected failure"),
        ("diverge", "TrainingDiverged: loss is nan at step 6: training diverged"),
    ],
)
def test_a_failure_stops_every_rank_with_the_same_error(tmp_path, case, expected):
    proc, seconds = run_case(case, 2, tmp_path, ok=False)
    assert proc.returncode != 0
    first, second = outcomes(tmp_path)
    assert first == second, proc.stdout + proc.stderr  # the same error on both ranks
    assert len(first) == 1 and first[0].startswith(expected), first
    assert seconds < 60


def test_a_rank_that_dies_takes_the_job_down_within_seconds(tmp_path):
    proc, seconds = run_case("crash", 2, tmp_path, ok=False)
    assert proc.returncode != 0
    assert outcomes(tmp_path) == [None, None]  # neither finished: rank 0 was stopped, not left waiting
    assert seconds < 60


def test_save_checks_the_ranks_agree(tmp_path):
    run_case("save", 2, tmp_path, ok=False)
    first, second = outcomes(tmp_path)
    assert first[0] == "saved [True, True]" and second[0] == "saved None", first  # rank 0 wrote, for both
    assert first[1] == second[1], (first, second)
    assert first[1].startswith("DistributedError: parameters differ across ranks at save: ranks [1] disagree")
    assert (tmp_path / "model.npz").exists() and not (tmp_path / "never.npz").exists()
    load(tmp_path / "model.npz")


def test_cli_under_mpiexec(tmp_path):
    """``fastmlp train --distributed`` on 2 ranks: one JSON line (rank 0's), one model file, and
    the parameters of the one-process command to float32 rounding."""
    args = ["train", "--epochs", "2", "--keep-prob", "0.9", "--json", "--quiet"]
    fastmlp = [FASTMLP]
    proc, _ = mpirun(2, *fastmlp, *args, "--distributed", "--save", str(tmp_path / "two.npz"))
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    summary = json.loads(lines[0])
    assert summary["ranks"] == 2 and summary["rank"] == 0 and summary["test_accuracy"] > 0.7
    single = subprocess.run(
        [*fastmlp, *args, "--save", str(tmp_path / "one.npz")], capture_output=True, text=True, env=ENV
    )
    assert single.returncode == 0, single.stderr
    one, two = load(tmp_path / "one.npz"), load(tmp_path / "two.npz")
    for a, b in zip(one.parameters(), two.parameters()):
        assert relative(b.value, a.value) < 1e-3
    assert abs(json.loads(single.stdout.splitlines()[-1])["test_accuracy"] - summary["test_accuracy"]) <= 0.01


def test_cli_distributed_failure_exits_every_rank(tmp_path):
    proc, seconds = mpirun(2, FASTMLP, "train", "--distributed", "--lr", "1e30", "--quiet")
    assert proc.returncode != 0
    assert "training diverged" in proc.stderr
    assert seconds < 60


# ----- the row bookkeeping, in-process ------------------------------------------------------------
@pytest.mark.parametrize("n, batch, size", [(318, 32, 2), (609, 32, 2), (100, 7, 3), (5, 4, 8), (64, 64, 64)])
def test_epoch_steps_tile_the_batches(n, batch, size):
    order = np.random.default_rng(0).permutation(n)
    parts = [distributed.epoch_steps(order, batch, size, r) for r in range(size)]
    at = [0] * size
    for k in range(-(-n // batch)):
        rows = []
        for r, part in enumerate(parts):
            count = int(part.counts[k])
            assert part.starts[k] == len(rows)  # a rank's first row in the batch: the rows before it
            rows += part.rows[at[r] : at[r] + count].tolist()
            at[r] += count
        assert rows == order[k * batch : (k + 1) * batch].tolist()
        counts = [int(part.counts[k]) for part in parts]
        assert max(counts) - min(counts) <= 1


def test_row_split():
    assert distributed.row_split(10, 3).tolist() == [0, 4, 7, 10]
    assert distributed.row_split(2, 4).tolist() == [0, 1, 2, 2, 2]


def test_comm_must_be_a_communicator():
    net = mpi_worker.build()
    X, y = mpi_worker.data()
    with pytest.raises(TypeError, match="mpi4py communicator"):
        net.fit(X, y, comm="world")


def test_the_readme_example_under_mpiexec(tmp_path):
    """examples/data_parallel.py (the README's): rank 0 alone prints, the model file is written
    once, and it holds the one-process fit's parameters to float32 rounding."""
    proc, _ = mpirun(2, sys.executable, "examples/data_parallel.py", str(tmp_path / "digits.npz"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [["epoch", f"{k}/10"] for k in range(1, 11)], lines
    assert lines[-1].startswith("2 ranks: test accuracy ")
    assert float(lines[-1].split()[4].rstrip(",")) > 0.9
    from fastmlp import MLP, datasets

    X, y = datasets.load_digits()
    X_train, y_train, _, _ = datasets.train_test_split(X, y, 0.2, seed=0)
    net = MLP([64, 128, 64, 10], activation="relu", keep_prob=0.9, batchnorm=True, seed=0)
    net.fit(X_train, y_train, epochs=10, batch_size=64, optimizer="adam")
    mpi_net = load(tmp_path / "digits.npz")
    for i, (layer, mpi_layer) in enumerate(zip(net.layers, mpi_net.layers)):
        before_norm = i + 1 < len(net.layers) and type(net.layers[i + 1]).__name__ == "BatchNorm"
        for a, b in zip(mpi_layer.params, layer.params):
            # a bias before batch norm has a zero gradient: Adam turns its float noise into steps
            if not (before_norm and a.name == "b"):
                assert relative(a.value, b.value) < 1e-3, (i, a.name)
