"""The flat gradient buffer of data-parallel training and the collectives of one step, in the
fixed order every rank makes them (fastmlp/distributed.py trains with them).

Every collective carries a failure flag: a rank that fails mid-step goes through the rest of the
plan with zeros (:meth:`Collectives.abandon`), so no rank waits forever for one that has stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .layers import Layer, Param
from .layers.norm import BatchNorm


class PeerFailed(Exception):
    """Another rank flagged a failure in a collective of this step (internal)."""


def mpi() -> Any:
    """The ``mpi4py.MPI`` module, or an ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "comm= needs mpi4py and an MPI library: pip install 'fastmlp[distributed]' "
            "(or mpi4py built against your cluster's MPI)"
        ) from exc
    return MPI


@dataclass
class _Bucket:
    start: int
    stop: int  # the last two slots are the loss and the failure flag
    lowest_layer: int  # ready once the backward pass has done this layer


class Collectives:
    """The flat gradient buffer (buckets in backward order, each ``[gradients..., loss, flag]``;
    every parameter's ``grad`` a view of it) and the step's collectives in their fixed order:
    batch-norm statistics (forward, then backward) and the buckets."""

    def __init__(self, comm: Any, model: Any, overlap: bool, bucket_mb: float) -> None:
        self.comm, self.overlap = comm, overlap
        self.MPI = mpi()
        dtype = model.dtype
        bucket_bytes = bucket_mb * 2**20 if overlap else np.inf
        with_params = [(i, layer) for i, layer in enumerate(model.layers) if layer.params]
        groups: list[list[tuple[int, Layer]]] = [[]]
        filled = 0
        for i, layer in reversed(with_params):
            if filled >= bucket_bytes:
                groups.append([])
                filled = 0
            groups[-1].append((i, layer))
            filled += sum(p.value.nbytes for p in layer.params)
        total = sum(sum(p.value.size for _, layer in group for p in layer.params) + 2 for group in groups)
        self.flat = np.zeros(total, dtype)
        self.views: dict[Param, np.ndarray] = {}
        self.buckets: list[_Bucket] = []
        at = 0
        for group in groups:
            start = at
            for _, layer in group:
                for p in layer.params:
                    self.views[p] = self.flat[at : at + p.value.size].reshape(p.value.shape)
                    at += p.value.size
            at += 2
            self.buckets.append(_Bucket(start, at, min(i for i, _ in group)))
        self.loss_slot = self.buckets[-1].stop - 2
        self.plan = self._plan(model)
        self.scratch = {size: np.zeros(size) for kind, size in self.plan if kind == "stats"}
        self.at = 0  # the next collective of the plan
        self.requests: list[Any] = []  # the buckets in flight

    def _plan(self, model: Any) -> list[tuple[str, int]]:
        """The step's collectives in call order: ("stats", size) or ("bucket", index)."""
        plan: list[tuple[str, int]] = []
        for layer in model.layers:
            if isinstance(layer, BatchNorm):
                plan += [("stats", layer.n + 2), ("stats", layer.n + 1)]
        first = min(i for i, layer in enumerate(model.layers) if layer.params)
        posted = 0
        for i in range(len(model.layers) - 1, first - 1, -1):
            if isinstance(model.layers[i], BatchNorm):
                plan.append(("stats", 2 * model.layers[i].n + 1))
            while posted < len(self.buckets) and self.buckets[posted].lowest_layer >= i:
                plan.append(("bucket", posted))
                posted += 1
        return plan

    def begin(self) -> None:
        self.at, self.requests = 0, []

    def reduce_stats(self, values: np.ndarray) -> None:
        """Sum ``values`` (float64, 1-D) over the ranks, in place (batch norm's statistics)."""
        kind, size = self.plan[self.at]
        assert kind == "stats" and size == values.size + 1, "batch-norm collectives out of their planned order"
        buf = self._stats(values, 0.0)
        values[:] = buf[:-1]
        if buf[-1]:
            raise PeerFailed

    def _stats(self, values: Any, flag: float) -> np.ndarray:
        """The plan's next collective, batch-norm statistics: ``[values..., flag]`` summed."""
        buf = self.scratch[self.plan[self.at][1]]
        self.at += 1
        buf[:-1], buf[-1] = values, flag
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        return buf

    def layer_done(self, index: int) -> None:
        """The backward pass finished layer ``index``: start the buckets it completes."""
        while self.at < len(self.plan) and self.plan[self.at][0] == "bucket":
            k = self.plan[self.at][1]
            if self.buckets[k].lowest_layer < index:
                return
            self._post(k, 0.0)

    def _post(self, k: int, flag: float) -> None:
        self.at += 1
        bucket = self.flat[self.buckets[k].start : self.buckets[k].stop]
        bucket[-1] = flag
        if self.overlap:
            self.requests.append(self.comm.Iallreduce(self.MPI.IN_PLACE, bucket, op=self.MPI.SUM))
        else:
            self.comm.Allreduce(self.MPI.IN_PLACE, bucket, op=self.MPI.SUM)

    def abandon(self, failed: bool) -> None:
        """The rest of the step's collectives with nothing of this rank's in them (an idle rank:
        no rows in this batch; or a failure here or elsewhere: ``failed`` flags it); the caller
        then waits for them with :meth:`finish`, as after a normal step."""
        flag = 1.0 if failed else 0.0
        while self.at < len(self.plan):
            kind, arg = self.plan[self.at]
            if kind == "stats":
                self._stats(0.0, flag)
            else:
                self.flat[self.buckets[arg].start : self.buckets[arg].stop] = 0
                self._post(arg, flag)

    def finish(self) -> bool:
        """Wait for the buckets; True if any rank flagged a failure."""
        if self.requests:
            self.MPI.Request.Waitall(self.requests)
            self.requests = []
        assert self.at == len(self.plan), "a collective of the step was not made"
        return any(self.flat[b.stop - 1] != 0 for b in self.buckets)
