"""The ``math`` the activation table's rows see when Numba CPU compiles them: libm's, except tanh.

libm's scalar tanh is the slowest call the rows make, and ``_common``'s SIMD-friendly expm1
gives a tanh that never overflows or cancels and lets a loop around it vectorise (the tanh form
of GELU went from ~24 to ~5 ns per element). A vector exp built the same way was tried: it helps
rows whose only transcendental is exp (SiLU) and slows those that still call libm's erf or log1p
beside it (GELU, softplus, Mish), where the loop stays scalar and the polynomial costs more than
libm's exp; benches/NOTES.md change 22 has the figures.
"""

import math
import types

from numba import njit

from ._common import ERROR_MODEL, expm1_neg


@njit(error_model=ERROR_MODEL)
def tanh(x):
    """tanh x = -m / (m + 2), m = e^-2|x| - 1: no overflow, no cancellation near 0; NaN stays NaN."""
    m = expm1_neg(-(abs(x) + abs(x)))
    return math.copysign(-m / (m + 2.0), x)


MODULE = types.ModuleType(__name__ + ".as_math")
for _name in ("exp", "expm1", "log1p", "erf", "sqrt"):
    setattr(MODULE, _name, getattr(math, _name))
MODULE.tanh = tanh
