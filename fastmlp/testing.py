"""Parity checks against the NumPy reference, for fastmlp's tests, its benchmarks and backends
that other packages register: relayout inputs, run an op on both sides, compare within the
dtype's tolerance (bitwise where the case is exact)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from fastmlp import ops
from fastmlp.cases import Case, inputs
from fastmlp.config import TOLERANCES
from fastmlp.kernels import reference as ref

LAYOUTS = ("C", "F", "strided", "readonly")


def relayout(a: Any, layout: str) -> Any:
    """The same values as ``a`` in another memory layout, or read-only.

    Parameters
    ----------
    a : any
        An op argument; anything but an ndarray of rank >= 1 is returned as it is.
    layout : {"C", "F", "strided", "readonly"}
        Fortran order, a view with a stride of 2 in the last axis, or a read-only copy (an input
        the caller cannot have written: a memory map, a broadcast, a frozen array).

    Returns
    -------
    ndarray or the argument unchanged
    """
    if not isinstance(a, np.ndarray) or a.ndim == 0 or layout == "C":
        return a
    if layout == "readonly":
        frozen = a.copy()
        frozen.setflags(write=False)
        return frozen
    if layout == "F":
        return np.asfortranarray(a)
    wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
    view = wide[..., ::2]
    view[...] = a
    return view


def assert_same(got: Any, want: Any, exact: bool, where: str = "output", dtype: Any = np.float32) -> None:
    """Assert an op's result equals the reference's, recursively through tuples.

    Parameters
    ----------
    got, want : ndarray, float, tuple of them, or None
        The backend's and the reference's results.
    exact : bool
        Compare float arrays bit for bit (masks, random bits); non-float arrays always are.
    where : str
        Names the compared value in the failure message.
    dtype : dtype
        The inputs' dtype: Python floats (losses) are compared with its ``loss_rtol``, float
        arrays with their own dtype's tolerance (``fastmlp.config.TOLERANCES``).

    Raises
    ------
    AssertionError
        Shapes, dtypes, types or values differ.
    """
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{where}: {type(got)} vs {len(want)}-tuple"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, exact, f"{where}[{i}]", dtype)
        return
    if want is None:
        assert got is None, f"{where}: expected None, got {type(got).__name__}"
        return
    if isinstance(want, float):
        assert isinstance(got, float), f"{where}: expected a Python float, got {type(got).__name__}"
        rtol = TOLERANCES[np.dtype(dtype)]["loss_rtol"]
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3, err_msg=where)
        return
    got = np.asarray(got)
    assert got.shape == want.shape, f"{where}: shape {got.shape} vs {want.shape}"
    assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} vs {want.dtype}"
    if exact or want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=where)
        return
    tol = TOLERANCES[want.dtype]
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=where)


def check_case(case: Case, backend: str, rows: int, cols: int, dtype: Any, layout: str = "C") -> None:
    """Run a case of ``fastmlp.cases`` through ``fastmlp.ops`` on a backend and directly on the
    NumPy reference, and compare results, in-place updates and untouched inputs.

    Parameters
    ----------
    case : fastmlp.cases.Case
    backend : str
        A registered backend (``fastmlp.backends.available()``).
    rows, cols : int
        The case's size.
    dtype : dtype
        float32 or float64.
    layout : {"C", "F", "strided", "readonly"}
        Memory layout of the backend's inputs (see :func:`relayout`).

    Raises
    ------
    AssertionError
        The backend differs from the reference, or modified an input it does not update.
    """
    args, kwargs = inputs(case, rows, cols, dtype)
    want_args = copy.deepcopy(args)
    want = getattr(ref, case.op)(*want_args, **kwargs)
    got_args = tuple(
        a if layout == "readonly" and pos in case.inplace else relayout(a, layout)
        for pos, a in enumerate(copy.deepcopy(args))
    )
    got = getattr(ops, case.op)(*got_args, backend=backend, **kwargs)
    assert_same(got, want, case.exact, dtype=dtype)
    for pos in case.inplace:
        assert_same(got_args[pos], want_args[pos], case.exact, f"argument {pos} (updated in place)", dtype)
    # inputs that are not updated in place must be left untouched
    for pos, (a, b) in enumerate(zip(got_args, args)):
        if pos not in case.inplace and isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f"argument {pos} was modified")
