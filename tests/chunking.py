"""Helpers for the tests of the chunked paths: which backends chunk, which of their ops are native,
and context managers that patch the chunk threshold, the thread count and the BLAS clock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import fastmlp
from fastmlp import backends
from fastmlp.cases import CASES, Case

COMPILED = [name for name in ("numba", "cython") if backends.is_available(name)]


def native_cases(backend: str) -> list[Case]:
    """The cases whose op ``backend`` implements itself (the rest fall back to the reference and
    are reported as fallbacks by conftest.py, not tested as parity)."""
    table = backends.coverage()[backend]
    return [case for case in CASES if table[case.op] == "native"]


def _threshold_setter(backend: str):
    if backend == "numba":
        from fastmlp.kernels.numba_cpu._common import set_min_chunk
    elif backend == "cython":
        from fastmlp.kernels.cython import _set_min_chunk as set_min_chunk
    else:
        raise ValueError(f"{backend!r} has no chunked paths")
    return set_min_chunk


@contextlib.contextmanager
def small_chunks(backend: str, min_chunk: int) -> Iterator[None]:
    """Inside the block ``backend`` splits work into chunks of ``min_chunk`` elements or more."""
    set_min_chunk = _threshold_setter(backend)
    set_min_chunk(min_chunk)
    try:
        yield
    finally:
        set_min_chunk(None)


@contextlib.contextmanager
def quiet_blas_and_threads(monkeypatch, threads: int) -> Iterator[None]:
    """``threads`` threads for Numba, OpenMP and BLAS, and the BLAS clock held quiet, so chunked
    kernels hand their chunks to the thread team even right after a GEMM (kernels/_blas_clock.py)."""
    from fastmlp.kernels import _blas_clock

    monkeypatch.setattr(_blas_clock, "QUIET_S", -1.0)
    before = fastmlp.get_num_threads()
    fastmlp.set_num_threads(threads)
    try:
        yield
    finally:
        fastmlp.set_num_threads(before)
