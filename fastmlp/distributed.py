"""Data-parallel training over MPI (mpi4py): the same result at any number of processes.

Every rank holds the whole model. Rank 0's parameters and seed are broadcast at the start of
``Sequential.fit(..., comm=...)``; each global batch (the batch a one-process fit would take, in
the order its seed shuffles the whole data set) is split by rows across the ranks; each rank runs
the normal kernels on its rows; the gradients, which live in one flat buffer, are summed by one
Allreduce (or, with :class:`GradientSync` ``overlap=True``, by one non-blocking Allreduce per
bucket, started as the backward pass finishes the bucket's layers); every rank then applies the
same update. Dropout masks are keyed by the example's row in the global batch (the ops' ``start``),
batch norm uses the statistics of the global batch, and the loss of a rank's rows is weighted by
their share of the global batch: a run on N processes makes exactly the batches and masks of a
one-process run, and its parameters agree up to float summation order.

Faults: every collective of a step carries a flag. A rank whose step raises sets it and goes on
through the step's remaining collectives with zeros, so nobody waits forever; then every rank
raises the same error, naming the rank and its message. Parameters are compared across ranks (a
checksum) at the end of ``fit`` and by :func:`save`.

mpi4py is imported only when a communicator is handed in: ``pip install 'fastmlp[distributed]'``.
The row bookkeeping is in fastmlp/_row_split.py, the flat buffer and the step's collectives in
fastmlp/_allreduce.py.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backends
from ._allreduce import Collectives, PeerFailed, mpi
from ._epoch import EpochRecord
from ._row_split import Rows, epoch_steps, row_split
from .layers import Dense, Layer
from .layers.norm import BatchNorm

_KNOWN_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (ValueError, TypeError, FloatingPointError, MemoryError, OverflowError)
}


class DistributedError(RuntimeError):
    """A rank failed in a way with no better exception type to re-raise on every rank, or the
    ranks disagree (parameters, data that should be the same on every rank)."""


@dataclass
class GradientSync:
    """How :meth:`Sequential.fit` sums gradients over ``comm``: pass one as ``comm=``.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
    overlap : bool, default False
        Start a non-blocking Allreduce per bucket as soon as the backward pass has finished the
        bucket's layers, instead of one blocking Allreduce after it. It pays only where the MPI
        progresses messages in the background (a network with offload, or MPICH with
        ``MPIR_CVAR_ASYNC_PROGRESS=1``); on shared memory the blocking call is as fast (README,
        "More than one machine").
    bucket_mb : float > 0, default 4
        Bucket size with ``overlap``: buckets are whole layers, closed once they reach it.
    """

    comm: Any
    overlap: bool = False
    bucket_mb: float = 4.0


def _as_sync(comm: Any) -> GradientSync:
    sync = comm if isinstance(comm, GradientSync) else GradientSync(comm)
    # anything without Allreduce is refused before mpi() starts MPI
    if not hasattr(sync.comm, "Allreduce") or not isinstance(sync.comm, mpi().Comm) or sync.comm == mpi().COMM_NULL:
        raise TypeError(f"comm must be an mpi4py communicator (e.g. MPI.COMM_WORLD), got {type(sync.comm).__name__}")
    if not (isinstance(sync.bucket_mb, (int, float)) and np.isfinite(sync.bucket_mb) and sync.bucket_mb > 0):
        raise ValueError(f"bucket_mb must be a positive number, got {sync.bucket_mb!r}")
    return sync


# ----- agreement: one error on every rank ---------------------------------------------------------
def _describe(exc: BaseException | None) -> tuple[str, str] | None:
    return None if exc is None else (type(exc).__name__, str(exc))


def raise_agreed(comm: Any, local: BaseException | None, what: str) -> None:
    """Collective: if any rank's ``local`` is an exception, every rank raises one error naming the
    first failing rank and its message (its type where it is a plain built-in one, or
    TrainingDiverged; else :class:`DistributedError`).

    Parameters
    ----------
    comm : mpi4py communicator
    local : Exception or None
        This rank's failure, if any.
    what : str
        What failed, the message's first words ("fit's data", "training step 12").
    """
    reports = comm.allgather(_describe(local))
    failed = [(rank, report) for rank, report in enumerate(reports) if report is not None]
    if not failed:
        return
    rank, (kind, message) = failed[0]
    others = f" (ranks {', '.join(str(r) for r, _ in failed)} failed)" if len(failed) > 1 else ""
    text = f"{what}: rank {rank} of {comm.Get_size()}: {kind}: {message}{others}"
    from .model import TrainingDiverged

    cls = TrainingDiverged if kind == "TrainingDiverged" else _KNOWN_ERRORS.get(kind, DistributedError)
    raise cls(text) from local


def any_rank(comm: Any, flag: bool) -> bool:
    """Collective: whether ``flag`` is True on some rank.

    Parameters
    ----------
    comm : mpi4py communicator
    flag : bool
        This rank's.

    Returns
    -------
    bool
    """
    return bool(comm.allreduce(bool(flag), op=mpi().LOR))


def agree(comm: Any, what: str, fn: Any, *args: Any) -> Any:
    """Collective: ``fn(*args)`` on every rank; if it raises on any, every rank raises the same
    error (:func:`raise_agreed`).

    Parameters
    ----------
    comm : mpi4py communicator
    what : str
        What is being done, for the message.
    fn : callable
        Makes no collective call itself (a rank that raised would leave the others in it).

    Returns
    -------
    What ``fn`` returned on this rank.
    """
    try:
        result, error = fn(*args), None
    except Exception as exc:
        result, error = None, exc
    raise_agreed(comm, error, what)
    return result


# ----- parameters across ranks -------------------------------------------------------------------
def _state_arrays(model: Any) -> list[np.ndarray]:
    return [p.value for p in model.parameters()] + [b for layer in model.layers for b in layer.buffers.values()]


def broadcast_parameters(model: Any, comm: Any, root: int = 0) -> None:
    """Collective: every rank takes ``root``'s parameters, buffers, seed and step count.

    Parameters
    ----------
    model : Sequential
    comm : mpi4py communicator
    root : int, default 0
    """
    MPI = mpi()
    model.seed, model.steps = comm.bcast((model.seed, model.steps), root=root)  # steps key the masks
    for array in _state_arrays(model):
        comm.Bcast([array, MPI.BYTE], root=root)


def _crc(array: np.ndarray, crc: int = 0) -> int:
    return zlib.crc32(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data, crc)


def checksum(model: Any) -> int:
    """CRC-32 of every parameter's and buffer's bytes, in layer order."""
    crc = 0
    for array in _state_arrays(model):
        crc = _crc(array, crc)
    return crc


def check_identical(model: Any, comm: Any, when: str = "") -> None:
    """Collective: raise :class:`DistributedError` on every rank if the ranks' parameters differ.

    Parameters
    ----------
    model : Sequential
    comm : mpi4py communicator
    when : str
        Said in the message ("at save").
    """
    sums = comm.allgather(checksum(model))
    if len(set(sums)) > 1:
        differ = [rank for rank, value in enumerate(sums) if value != sums[0]]
        raise DistributedError(
            f"parameters differ across ranks{' ' + when if when else ''}: ranks {differ} disagree with rank 0 "
            "(checksums " + ", ".join(f"{value:08x}" for value in sums) + ")"
        )


def save(model: Any, path: Any, comm: Any, root: int = 0) -> None:
    """Collective: check the ranks hold the same parameters, then ``root`` writes ``path``; every
    rank raises the same error if the check or the write fails.

    Parameters
    ----------
    model : Sequential
    path : str or path
    comm : mpi4py communicator
    root : int, default 0
        The rank that writes.
    """
    check_identical(model, comm, "at save")
    agree(comm, "save", lambda: model.save(path) if comm.Get_rank() == root else None)


# ----- the trainer ---------------------------------------------------------------------------------
class DataParallel:
    """One model's data-parallel training over ``comm`` (built and used by ``Sequential.fit``)."""

    def __init__(self, model: Any, sync: GradientSync, optimizer: Any) -> None:
        self.model, self.comm, self.optimizer = model, sync.comm, optimizer
        self.rank, self.size = sync.comm.Get_rank(), sync.comm.Get_size()
        self.backend = model.backend or backends.get_backend()
        self.collectives = Collectives(sync.comm, model, sync.overlap, sync.bucket_mb)
        self.index_of = {id(layer): i for i, layer in enumerate(model.layers)}

    def __enter__(self) -> DataParallel:
        """Bind the layers to this run: gradients into the flat buffer, batch norm's statistics
        summed over the ranks."""
        views = self.collectives.views
        for p, view in views.items():  # a rank without rows in a step updates from the sum too
            p.grad = view
        for layer in self.model.layers:
            if isinstance(layer, Dense):
                layer.bind_grads({p.name: views[p] for p in layer.params})
            if isinstance(layer, BatchNorm):
                layer.sync = self.collectives.reduce_stats
        return self

    def __exit__(self, *exc: Any) -> None:
        for layer in self.model.layers:
            if isinstance(layer, Dense):
                layer.bind_grads(None)
            if isinstance(layer, BatchNorm):
                layer.sync = None
            layer.mask_row0 = 0

    def step(self, X: np.ndarray, targets: np.ndarray, row0: int, batch_rows: int, record: Any) -> float:
        """One global step: this rank's rows (global rows ``row0 ..`` of a batch of ``batch_rows``),
        then the sum over the ranks, then the update. Returns the batch's loss + penalty."""
        model, coll = self.model, self.collectives
        coll.begin()
        error: Exception | None = None
        try:
            if X.shape[0]:
                self._local_gradients(X, targets, row0, batch_rows, record)
            else:  # no rows of this batch here: the others' statistics and gradients only
                for layer in model.layers:
                    if isinstance(layer, BatchNorm):
                        layer.idle_forward()
                coll.abandon(False)
        except PeerFailed:
            coll.abandon(False)
        except Exception as exc:
            error = exc
            coll.abandon(True)
        if coll.finish() or error is not None:
            raise_agreed(self.comm, error, f"training step {model.steps}")
        loss = float(coll.flat[coll.loss_slot])
        if not np.isfinite(loss):
            from .model import TrainingDiverged

            raise TrainingDiverged(model._diverged_message(f"loss is {loss} at step {model.steps}", self.optimizer))
        penalty = model.regularization(self.optimizer.weight_decay, add_grads=True)
        self.optimizer._train_step(model.parameters(), self.backend)
        model.steps += 1
        return loss + penalty

    def _local_gradients(self, X: np.ndarray, targets: np.ndarray, row0: int, batch_rows: int, record: Any) -> None:
        from .model import step_seed

        model, coll = self.model, self.collectives
        for layer in model.layers:
            layer.mask_row0 = row0
        with np.errstate(over="ignore", invalid="ignore"):
            scores, data_loss, dscores = model._train_loss(X, targets, step_seed(model.seed, model.steps), self.backend)
        share = X.shape[0] / batch_rows  # this rank's rows' part of the global batch's mean
        if share != 1.0:
            dscores *= dscores.dtype.type(share)
        coll.flat[coll.loss_slot] = data_loss * share
        if record is not None:
            record.record(scores, targets)
        model._backprop(dscores, False, self._backward_layer)

    def _backward_layer(self, layer: Layer, grad: Any, need_dx: bool) -> Any:
        dx = layer._train_backward(grad, need_dx, self.backend)
        views = self.collectives.views
        for p in layer.params:
            view = views[p]
            if p.grad is not view:  # layers that do not write into the flat buffer themselves
                assert p.grad is not None
                np.copyto(view, p.grad)
                p.grad = view
        self.collectives.layer_done(self.index_of[id(layer)])
        return dx

    def merge_record(self, record: EpochRecord) -> None:
        """Sum the epoch's statistics over the ranks (accuracy, fired ReLU units)."""
        MPI = mpi()
        sums = np.concatenate([record.stats, record.target_sum, record.target_squares])
        self.comm.Allreduce(MPI.IN_PLACE, sums, op=MPI.SUM)
        a, b = record.stats.size, record.stats.size + record.target_sum.size
        record.stats[:], record.target_sum[:], record.target_squares[:] = sums[:a], sums[a:b], sums[b:]
        relu = list(record.fired)  # a ReLU layer learns its width at its first step: agree on it
        if not relu:
            return
        widths = np.array([record.fired[i].size for i in relu], np.int64)
        self.comm.Allreduce(MPI.IN_PLACE, widths, op=MPI.MAX)
        for i, width in zip(relu, widths):
            if record.fired[i].size != width:  # no step of this rank's recorded the layer
                record.fired[i] = np.zeros(int(width), dtype=bool)
        flags = np.concatenate([record.fired[i] for i in relu]).astype(np.uint8)
        self.comm.Allreduce(MPI.IN_PLACE, flags, op=MPI.MAX)
        for i, part in zip(relu, np.split(flags, np.cumsum(widths)[:-1])):
            record.fired[i][:] = part.astype(bool)

    def evaluate(self, X: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """:meth:`Sequential.evaluate` of the union of the ranks' rows (each rank its own)."""
        model = self.model
        tally = EpochRecord(model, track_dead_relu=False)
        total = np.zeros(1)

        def local() -> None:
            if X.shape[0]:
                scores = model._scores(X)
                total[0] = model.loss(scores, targets, model.backend)[0] * X.shape[0]
                tally.record(scores, targets)

        agree(self.comm, "evaluation", local)
        MPI = mpi()
        self.comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
        self.merge_record(tally)
        metric = "accuracy" if model.loss.kind != "regression" else "r2"
        return {"loss": float(total[0] / tally.stats[0]), metric: tally.accuracy()}


class Epochs:
    """``Sequential.fit``'s epochs across the ranks of ``comm`` (its ``comm=`` path): the data
    checked on every rank, rank 0's parameters and seed broadcast, then per epoch the global order,
    this rank's rows of every step, and the epoch's statistics and validation summed over ranks."""

    def __init__(self, model: Any, data: tuple, comm: Any, options: tuple, optimizer: Any) -> None:
        sync = _as_sync(comm)
        self.model, self.comm, self.optimizer = model, sync.comm, optimizer
        self.batch_size, self.shuffle, self.evaluate_train = options
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.prints = self.rank == 0
        broadcast_parameters(model, self.comm)
        optimizer.steps = self.comm.bcast(optimizer.steps)  # Adam's bias correction counts them
        X, y, validation_data, split, sharded = data
        self.sharded = bool(sharded)
        train, validation = agree(self.comm, "fit's data", self._data, X, y, validation_data, split)
        if not self.sharded:  # before anything a rank could raise alone
            self._check_same_data(train, validation)
        if any_rank(self.comm, validation is not None):
            validation = self._empty_part() if validation is None else validation  # sharded: a rank without
        elif split:  # the last rows of the global data (in sharded mode this takes a collective)
            keep = self._training_rows(train[0].shape[0], float(split))
            X, targets = train
            train, validation = (X[:keep], targets[:keep]), (X[keep:], targets[keep:])
        self.validation, self.validates = validation, validation is not None
        self.rows = Rows(self.comm, train[0], train[1], self.sharded)
        self.n_rows = self.rows.n
        if self.n_rows == 0:
            raise ValueError("the ranks hold no training rows")
        self.own = train if self.sharded else self._own_part(*train)
        if self.validation is not None and not self.sharded:
            self.validation = self._own_part(*self.validation)
        self.rng = np.random.default_rng([model.seed, 0xF17])
        self.trainer = DataParallel(model, sync, optimizer)

    def _data(self, X: Any, y: Any, validation_data: Any, split: Any) -> tuple:
        """This rank's (X, targets) and validation pair, validated as fit validates them."""
        from . import _stream, losses
        from .layers.dense import is_sparse

        model = self.model
        if is_sparse(X) or (_stream.is_out_of_core(X) and not isinstance(X, np.ndarray)):
            raise TypeError("fit(comm=...) trains on in-memory dense NumPy arrays")
        if (model.backend or backends.get_backend()) == "cuda":
            raise ValueError("fit(comm=...) trains on the CPU backends (numpy, numba, cython), not cuda")
        if isinstance(model.loss, losses.SampleWeighted):
            raise ValueError("fit(comm=...) does not take sample weights (the batch's weight sum is not split)")
        split = float(split)
        if not 0.0 <= split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {split}")
        if self.sharded and len(X) == 0:  # a rank may hold no rows of a sharded data set
            train = self._empty_part()
        else:
            X = model._inputs(np.asarray(X))
            train = (X, model._targets(y, X.shape[0]))
        validation = None
        if validation_data is not None:
            pair = isinstance(validation_data, tuple | list) and len(validation_data) == 2
            if self.sharded and pair and len(validation_data[0]) == 0:
                return train, self._empty_part()
            validation = model._validation_pair(validation_data, 65536)
            if isinstance(validation[0], _stream.RowChunks):
                raise TypeError("fit(comm=...) takes in-memory validation data")
        return train, validation

    def _empty_part(self) -> tuple[np.ndarray, np.ndarray]:
        """No rows: X and targets of the shapes and dtypes the others' have (labels, or a
        target matrix in the model's dtype)."""
        model = self.model
        X = np.empty((0, model.n_inputs), model.dtype)
        if model.loss.kind == "classification":
            return X, np.empty(0, np.int64)
        return X, np.empty((0, model.n_outputs), model.dtype)

    def _training_rows(self, n_local: int, split: float) -> int:
        """Rows of this rank's data before the held-out LAST ``split`` of the global data."""
        from .model import held_out_rows

        if not self.sharded:
            return n_local - held_out_rows(n_local, split)
        sizes = self.comm.allgather(n_local)
        total, offset = sum(sizes), sum(sizes[: self.rank])
        return int(min(n_local, max(0, total - held_out_rows(total, split) - offset)))

    def _check_same_data(self, train: tuple, validation: tuple | None) -> None:
        """Without ``sharded``, every rank must hold the same data: compared by checksum."""
        arrays = [*train, *(validation or ())]
        mine = [(a.shape, _crc(a)) for a in arrays]
        if any(other != mine for other in self.comm.allgather(mine)):
            raise ValueError(
                "the ranks passed different data to fit(comm=...): pass the same X, y (and validation data) "
                "on every rank, or sharded=True when each rank passes its own rows"
            )

    def _own_part(self, X: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This rank's contiguous part of data every rank holds (for evaluations)."""
        lo, hi = row_split(X.shape[0], self.size)[self.rank : self.rank + 2]
        return X[lo:hi], targets[lo:hi]

    def __enter__(self) -> Epochs:
        self.trainer.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.trainer.__exit__(*exc)

    def train_epoch(self, optimizer: Any, record: EpochRecord) -> float:
        """One epoch of global steps; the mean loss over the global rows."""
        n, batch = self.n_rows, self.batch_size
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        steps = epoch_steps(order, batch, self.size, self.rank)
        X, targets, ids = self.rows.take(order, steps)
        record.reset()
        total, at = 0.0, 0
        for k in range(steps.counts.size):
            rows, batch_rows = int(steps.counts[k]), int(steps.batch_rows[k])
            part = ids[at : at + rows]
            total += self.trainer.step(X[part], targets[part], int(steps.starts[k]), batch_rows, record) * batch_rows
            at += rows
        self.trainer.merge_record(record)
        return total / n

    def train_accuracy(self, epoch: int, optimizer: Any, record: EpochRecord) -> float:
        """The steps' running accuracy over all ranks, or measured on all training rows."""
        if not self.evaluate_train:
            return record.accuracy()
        with np.errstate(over="ignore", invalid="ignore"):
            result = self.trainer.evaluate(*self.own)
        return self.model._training_accuracy(result, epoch, optimizer)

    def validate(self) -> dict[str, float] | None:
        """Loss and accuracy on the validation rows of all ranks."""
        return None if self.validation is None else self.trainer.evaluate(*self.validation)

    def callbacks_stop(self, callbacks: Any, epoch: int, history: Any) -> bool:
        """Callbacks run on every rank; training stops if one asks on any rank."""
        asked = agree(self.comm, "callback", lambda: any(bool(cb(epoch, history, self.model)) for cb in callbacks))
        return any_rank(self.comm, bool(asked))

    def finish(self) -> None:
        """The ranks' parameters must be identical after fit."""
        check_identical(self.model, self.comm, "at the end of fit")
