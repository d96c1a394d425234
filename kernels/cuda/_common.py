"""Pieces the CUDA kernels share: activation device functions, bias epilogue, column sums.

The activation device functions are the rows of kernels/activation_table.py compiled for the
device: ``activate`` (f), ``derivative`` (f' from the output, rows with ``from_output``) and
``derivative_pre`` (f' from the pre-activation). Each dispatches its code through a chain of small
device functions, one link per row, each testing its code and passing the rest on; the code is
the same for every thread of a launch, so the chain never diverges. They compute in float64 and
return float64: kernels round once, on the store into the array's dtype.

Column sums are deterministic two-phase reductions (no atomics): threads own (row chunk, column)
pairs and write float64 partials, then one thread per column adds its chunks in order. The chunk
count depends on the shape only, so a sum rounds the same on every launch configuration.
"""

import math
import types

import numpy as np
from numba import cuda

from ..activation_table import ACTIVATIONS, compiled
from ._arrays import empty, flat, launch

# Threads a column reduction aims for: (row chunks x columns) >= this keeps an H100's 132 SMs busy
# (~250 threads each) while chunks stay long enough to amortise the partials' second pass.
COLUMN_PARALLELISM = 32768

_SCALARS = compiled(cuda.jit(device=True))  # name -> (f, df, df_out) device functions


def _link(v, act, alpha):  # pragma: no cover - compiled per row by _chain
    if act == ROW_CODE:  # noqa: F821 - bound per row by _chain
        return ROW_FN(v, alpha)  # noqa: F821
    return REST(v, act, alpha)  # noqa: F821


@cuda.jit(device=True)
def _unknown_code(v, act, alpha):
    """The end of every chain: unreachable, the drivers take codes from the table. NaN, not a
    silent number, if a code without a link ever got here."""
    return math.nan


def _chain(index, suffix):
    """Device function ``(v, act, alpha) -> fns[index](v, alpha)`` for the row whose code is
    ``act``, over the rows that have that function (index 0 f, 1 df, 2 df_out)."""
    rest = _unknown_code
    for row in reversed(ACTIVATIONS):  # the chain tests codes in table order
        fn = _SCALARS[row.name][index]
        if fn is not None:
            name = f"_{row.name}_{suffix}_link"
            namespace = {**_link.__globals__, "ROW_CODE": row.code, "ROW_FN": fn, "REST": rest}
            rest = cuda.jit(device=True)(types.FunctionType(_link.__code__, namespace, name))
    return rest


_f_chain = _chain(0, "f")
_df_chain = _chain(1, "df")
_df_out_chain = _chain(2, "df_out")


@cuda.jit(device=True)
def activate(v, act, alpha):
    """f(v) (float64) for activation code ``act``: the table's f."""
    return _f_chain(float(v), act, float(alpha))


@cuda.jit(device=True)
def derivative(a, act, alpha):
    """f'(z) (float64) from the output a = f(z): the table's df_out (rows with from_output)."""
    return _df_out_chain(float(a), act, float(alpha))


@cuda.jit(device=True)
def derivative_pre(z, act, alpha):
    """f'(z) (float64) from the pre-activation z: the table's df (every row)."""
    return _df_chain(float(z), act, float(alpha))


@cuda.jit
def _bias_kernel(y, b):
    """y (flat N*M) += b[column]."""
    m = b.shape[0]
    for e in range(cuda.grid(1), y.shape[0], cuda.gridsize(1)):
        y[e] += b[e % m]


def chunks(n_rows, n_cols):
    """(number of row chunks, rows per chunk) for a column reduction over an (n_rows, n_cols) array."""
    want = max(1, min(n_rows, -(-COLUMN_PARALLELISM // max(1, n_cols))))
    per = -(-n_rows // want)
    return -(-n_rows // per), per


@cuda.jit
def _colsum_partial_kernel(a, partial, per):
    """partial[c, j] = Σ a[i, j] over the rows i of chunk c (float64)."""
    n = a.shape[0]
    m = a.shape[1]
    for t in range(cuda.grid(1), partial.shape[0] * m, cuda.gridsize(1)):
        c = t // m
        j = t - c * m
        acc = 0.0
        for i in range(c * per, min(n, c * per + per)):
            acc += a[i, j]
        partial[c, j] = acc


@cuda.jit
def _colsum_final_kernel(partial, out):
    """out[j] = Σ_c partial[c, j], the chunks in order (cast to out's dtype on the store)."""
    for j in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        acc = 0.0
        for c in range(partial.shape[0]):
            acc += partial[c, j]
        out[j] = acc


def new_partials(n_rows, n_cols):
    """(float64 partials (chunks, n_cols), rows per chunk) for a column reduction."""
    nch, per = chunks(n_rows, n_cols)
    return empty((nch, n_cols), np.float64), per


def finish_columns(partial, dtype):
    """Column totals (n_cols,) of ``dtype`` from the partials."""
    out = empty(partial.shape[1], dtype)
    _colsum_final_kernel[launch(out.size)](partial, out)
    return out


def column_sums(a):
    """Σ_rows of a 2-D device array, (M,) in its dtype; float64 accumulation."""
    partial, per = new_partials(*a.shape)
    _colsum_partial_kernel[launch(partial.size)](a, partial, np.int64(per))
    return finish_columns(partial, a.dtype)


def add_bias(y, b):
    """y += b per column, in place (the affine epilogue)."""
    _bias_kernel[launch(y.size)](flat(y), b)
    return y
