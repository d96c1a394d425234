"""Elementwise loops for every row of kernels/activation_table.py, and dispatch by code.

Each row gets three compiled loops (f, f' from the pre-activation, f' from the output where the
row has it), built from the templates below with the row's scalar functions bound in; a chain of
small dispatch functions, one link per row, turns a runtime code into a call of the right loop.
Loops are per row (not one loop with a switch inside) so each stays branch-free. Values are
taken to float64 before the scalar function and rounded once on the store, as the C side does.

Rows whose loops ``activations.py`` writes by hand (HAND_WRITTEN) are left out: compiling a
loop costs ~0.2 s the first time, and those codes never reach the chain.
"""

import functools

import numpy as np
from numba import njit

from ..activation_table import ACTIVATIONS, compiled
from . import _vector_math as vector_math
from ._common import ERROR_MODEL, variant

# activations.py has its own vectorised loops for these (its exp is SIMD-friendly, libm's is not)
HAND_WRITTEN = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
# inlined into every loop that calls them (Numba IR inlining, which LLVM's cost model cannot veto):
# an out-of-line call per element keeps a loop from vectorising
_ROW_JIT = functools.partial(njit, inline="always", error_model=ERROR_MODEL)
SCALARS = {name: fns for name, fns in compiled(_ROW_JIT, vector_math.VECTOR).items() if name not in HAND_WRITTEN}


def _forward_loop(src, out, alpha, bias=None):  # pragma: no cover - compiled per row
    dst = src if out is None else out
    for j in range(src.shape[0]):
        z = np.float64(src[j]) if bias is None else np.float64(src[j] + bias[j])
        dst[j] = ROW_FN(z, alpha)  # noqa: F821 - bound per row by _per_row


def _gradient_loop(g, v, out, alpha):  # pragma: no cover - compiled per row
    for j in range(g.shape[0]):
        out[j] = g[j] * ROW_FN(np.float64(v[j]), alpha)  # noqa: F821 - bound per row by _per_row


def _link(code, a, b, c, alpha):  # pragma: no cover - compiled per row
    if code == ROW_CODE:  # noqa: F821 - bound per row by _chain
        ROW_LOOP(a, b, c, alpha)  # noqa: F821
    else:
        REST(code, a, b, c, alpha)  # noqa: F821


def _forward_link(code, src, out, alpha, bias=None):  # pragma: no cover - compiled per row
    if code == ROW_CODE:  # noqa: F821 - bound per row by _chain
        ROW_LOOP(src, out, alpha, bias)  # noqa: F821
    else:
        REST(code, src, out, alpha, bias)  # noqa: F821


def _end_of_chain(code, a, b, c, d=None):  # pragma: no cover - compiled
    return None  # unreachable: the ops layer checks activation names against the table


def _compile(template, suffix, **bound):
    """``template`` compiled with ``bound`` as globals, named ``<template><suffix>``: Numba caches
    functions by qualified name, so every copy needs a name of its own."""
    return njit(cache=True, error_model=ERROR_MODEL)(variant(template, suffix, **bound))


def _chain(template, loops, label):
    """Dispatch ``code`` → loop: one link per row, each testing its code and passing on. ``label``
    names the chain's links apart from other chains' (their cache entries must not collide)."""
    rest = _compile(_end_of_chain, label)
    for row in reversed(ACTIVATIONS):  # the chain tests codes in table order
        loop = loops.get(row.name)
        if loop is not None:
            rest = _compile(template, f"_{row.name}{label}", ROW_CODE=row.code, ROW_LOOP=loop, REST=rest)
    return rest


def _per_row(template, index, suffix):
    return {
        name: _compile(template, f"_{name}{suffix}", ROW_FN=fns[index])
        for name, fns in SCALARS.items()
        if fns[index] is not None
    }


FORWARD_LOOPS = _per_row(_forward_loop, 0, "")
PRE_GRADIENT_LOOPS = _per_row(_gradient_loop, 1, "_from_input")
OUTPUT_GRADIENT_LOOPS = _per_row(_gradient_loop, 2, "_from_output")

# table_forward(code, src, out, alpha, bias): out (n,) <- f(src + bias) (out None: in place)
table_forward = _chain(_forward_link, FORWARD_LOOPS, "")
# table_gradient_pre(code, g, z, out, alpha): out (n,) <- g · f'(z), z the pre-activation
table_gradient_pre = _chain(_link, PRE_GRADIENT_LOOPS, "_from_input")
# table_gradient_out(code, g, a, out, alpha): out (n,) <- g · f'(z), from a = f(z)
table_gradient_out = _chain(_link, OUTPUT_GRADIENT_LOOPS, "_from_output")
