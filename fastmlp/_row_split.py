"""Which rank trains on which rows in data-parallel training: each global batch (the one-process
fit's) split by rows across the ranks, and, for sharded data, the exchange that brings every rank
the rows of its steps (fastmlp/distributed.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._allreduce import mpi


def row_split(n: int, size: int) -> np.ndarray:
    """Offsets splitting ``n`` rows into ``size`` parts, the first ``n % size`` one row longer.

    Parameters
    ----------
    n, size : int

    Returns
    -------
    ndarray of int64, (size + 1,)
    """
    q, rem = divmod(int(n), int(size))
    counts = np.full(size, q, np.int64)
    counts[:rem] += 1
    return np.concatenate([[0], np.cumsum(counts)])


def batch_owners(n: int, batch_size: int, size: int) -> np.ndarray:
    """For each position 0..n-1 of an epoch's order, the rank that trains on it: batch k is
    positions k·B .. k·B + b_k − 1, split by :func:`row_split` (b_k = B but for the last).

    Parameters
    ----------
    n, batch_size, size : int
        Rows, global batch size, ranks.

    Returns
    -------
    ndarray of int64, (n,)
    """
    p = np.arange(n, dtype=np.int64)
    j = p % batch_size
    b = np.minimum(batch_size, n - (p - j))
    q, rem = b // size, b % size
    first = (q + 1) * rem  # positions held by the ranks with one more row
    return np.where(j < first, j // (q + 1), rem + (j - first) // np.maximum(q, 1))


@dataclass
class _EpochSteps:
    owners: np.ndarray  # the rank that trains on each position of the epoch's order
    rows: np.ndarray  # global row ids this rank trains on, in step order
    counts: np.ndarray  # rows of this rank per step
    starts: np.ndarray  # index of this rank's first row within each global batch
    batch_rows: np.ndarray  # rows of each global batch


def epoch_steps(order: np.ndarray, batch_size: int, size: int, rank: int) -> _EpochSteps:
    """This rank's part of every step of an epoch over ``order`` (global row ids).

    Parameters
    ----------
    order : ndarray of int, (n,)
        The epoch's order of the global rows (fit's shuffle).
    batch_size, size, rank : int

    Returns
    -------
    _EpochSteps
        ``rows`` (this rank's global rows in step order), ``counts`` (its rows per step),
        ``starts`` (its first row's index within each batch), ``batch_rows`` (each batch's rows).
    """
    n = order.shape[0]
    owners = batch_owners(n, batch_size, size)
    steps = -(-n // batch_size)
    batch_rows = np.minimum(batch_size, n - np.arange(steps) * batch_size)
    mine = owners == rank
    counts = np.bincount(np.flatnonzero(mine) // batch_size, minlength=steps)
    q, rem = batch_rows // size, batch_rows % size
    starts = rank * q + np.minimum(rank, rem)
    return _EpochSteps(owners, order[mine], counts, starts, batch_rows)


class Rows:
    """A rank's training rows and how to get any global rows for an epoch: from the whole data
    (every rank holds it) or, sharded, from the ranks that hold them (one Alltoallv per epoch)."""

    def __init__(self, comm: Any, X: np.ndarray, targets: np.ndarray, sharded: bool) -> None:
        self.comm, self.X, self.targets, self.sharded = comm, X, targets, sharded
        if sharded:
            sizes = np.array(comm.allgather(X.shape[0]), np.int64)
            self.offsets = np.concatenate([[0], np.cumsum(sizes)])
            self.n = int(self.offsets[-1])
        else:
            self.n = X.shape[0]

    def take(self, order: np.ndarray, steps: _EpochSteps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, targets, ids): ``X[ids]`` are the rows of ``steps.rows`` in step order. With the
        whole data, X and targets themselves (each step gathers its own rows: an epoch-sized copy
        would be allocated and faulted in afresh every epoch); sharded, this epoch's rows as
        received from the ranks that hold them, grouped by sender."""
        if not self.sharded:
            return self.X, self.targets, steps.rows
        comm, rank, size = self.comm, self.comm.Get_rank(), self.comm.Get_size()
        owners = steps.owners
        holders = np.searchsorted(self.offsets, order, side="right") - 1  # whose shard holds it
        sent = np.flatnonzero(holders == rank)
        sent = sent[np.argsort(owners[sent], kind="stable")]
        send_counts = np.bincount(owners[sent], minlength=size)
        local = order[sent] - self.offsets[rank]
        wanted = holders[owners == rank]
        by_holder = np.argsort(wanted, kind="stable")  # received row i is this rank's row by_holder[i]
        recv_counts = np.bincount(wanted, minlength=size)
        X = _exchange(comm, self.X[local], send_counts, recv_counts)
        targets = _exchange(comm, self.targets[local], send_counts, recv_counts)
        ids = np.empty_like(by_holder)
        ids[by_holder] = np.arange(by_holder.size)
        return X, targets, ids


def _exchange(comm: Any, send: np.ndarray, send_counts: np.ndarray, recv_counts: np.ndarray) -> np.ndarray:
    """Alltoallv of whole rows: send_counts[d] rows of ``send`` (grouped by destination) to rank d."""
    MPI = mpi()
    send = np.ascontiguousarray(send)
    recv = np.empty((int(recv_counts.sum()), *send.shape[1:]), send.dtype)
    row = MPI.BYTE.Create_contiguous(max(1, send.dtype.itemsize * int(np.prod(send.shape[1:], dtype=np.int64))))
    row.Commit()
    try:
        displ = np.concatenate([[0], np.cumsum(send_counts)[:-1]])
        rdispl = np.concatenate([[0], np.cumsum(recv_counts)[:-1]])
        comm.Alltoallv([send, (send_counts, displ), row], [recv, (recv_counts, rdispl), row])
    finally:
        row.Free()
    return recv
