"""The ``math`` the activation table's rows see when Numba CPU compiles them.

libm's functions are calls LLVM cannot vectorise, so a loop around one runs an element at a
time. These are written so a loop around them does vectorise (plain arithmetic, selects, bit
casts; no calls), in double precision like the rows, within a few ulp of libm:

- ``exp`` and ``expm1``: ``_common``'s Cody-Waite reduction and polynomial, over the whole range;
- ``log1p``: exponent and mantissa from the bits, then log(1 + f) = 2 atanh(f / (2 + f)) as a
  series in s = f / (2 + f) (|s| <= 0.172, so eleven terms are below half an ulp), with
  1 + x's rounding error added back as c / (1 + x);
- ``tanh``: from ``expm1_neg``, with no overflow and no cancellation near 0.

There is no vector erf: a row that calls ``math.erf`` (GELU) gets libm for all of its math
(:func:`math_for`), since one libm call keeps its loop scalar and a scalar loop runs libm's exp
faster than the polynomial (benches/NOTES.md changes 22 and 23).
"""

import math
import types

import numpy as np
from llvmlite import ir
from numba import njit
from numba import types as nb_types
from numba.extending import intrinsic, overload

from ._common import ERROR_MODEL, expm1_neg, pow2, reduce_exp_f64

LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * LN2_HI is exact for |k| < 2^11
LN2_LO = 1.90821492927058770002e-10
SQRT2 = 1.4142135623730951
EXP_CEILING = 711.0  # past ln(largest double) = 709.78: 2^k e^r overflows to inf by itself
EXP_UNDERFLOW = -746.0  # e^x rounds to 0 below it
EXPM1_FLOOR = -60.0  # e^x - 1 rounds to -1 below it (and 2^k stays a normal double)


@intrinsic
def _bits(typingctx, x):  # pragma: no cover - code generation runs at compile time only
    """A float64's bits as an int64."""
    if x != nb_types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return nb_types.int64(x), codegen


@intrinsic
def _from_bits(typingctx, i):  # pragma: no cover - code generation runs at compile time only
    """The float64 whose bits are the int64 ``i``."""
    if i != nb_types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return nb_types.float64(i), codegen


@intrinsic
def _where(typingctx, c, a, b):  # pragma: no cover - code generation runs at compile time only
    """``a if c else b`` as one LLVM select: a ternary in Python becomes branches and a phi,
    which Numba's IR inliner mishandles when these functions are inlined into inlined rows."""
    if not isinstance(c, nb_types.Boolean) or a != b or not isinstance(a, nb_types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.select(args[0], args[1], args[2])

    return a(c, a, b), codegen


# ----- exp and expm1 over the whole range -------------------------------------------------------


def _exp(x):
    """libm's exp: what runs with the JIT off (coverage runs); compiled code takes the overload."""
    return math.exp(x)


@njit(inline="always", error_model=ERROR_MODEL)
def _exp_in_range(x):  # pragma: no cover - compiled
    """e^x for EXP_UNDERFLOW <= x <= EXP_CEILING (anything else gives garbage, never a trap)."""
    kf, q = reduce_exp_f64(x)
    half = np.floor(kf * 0.5)  # 2^k in two factors, each a normal double for every k in range
    return ((q + 1.0) * pow2(half)) * pow2(kf - half)


def _exp_vector(x):  # pragma: no cover - compiled
    xc = _where(x > EXP_UNDERFLOW, x, EXP_UNDERFLOW)  # NaN -> EXP_UNDERFLOW, patched back below
    e = _exp_in_range(_where(xc < EXP_CEILING, xc, EXP_CEILING))
    return _where(x != x, x, e)


@overload(_exp, inline="always")
def _ov_exp(x):  # pragma: no cover - typing runs at compile time only
    if isinstance(x, nb_types.Float):
        return _exp_vector
    return None


def _expm1(x):
    """libm's expm1 with the JIT off; compiled code takes the overload."""
    return math.expm1(x)


def _expm1_vector(x):  # pragma: no cover - compiled
    # one reduction x = k ln2 + r, q = e^r - 1: e^x - 1 = 2^k q + (2^k - 1), which is q itself near
    # 0 (k = 0) and never cancels more than a bit; near overflow 2^k alone would overflow, and
    # e^x - 1 is e^x there to the last bit
    xc = _where(x > EXPM1_FLOOR, x, EXPM1_FLOOR)  # NaN -> EXPM1_FLOOR, patched back below
    kf, q = reduce_exp_f64(_where(xc < EXP_CEILING, xc, EXP_CEILING))
    s = pow2(kf)
    half = np.floor(kf * 0.5)
    near = s * q + (s - 1.0)
    far = ((q + 1.0) * pow2(half)) * pow2(kf - half)
    e = _where(kf < 1000.0, near, far)
    return _where((x != x) | (x == 0.0), x, e)  # 0: keeps -0


@overload(_expm1, inline="always")
def _ov_expm1(x):  # pragma: no cover - typing runs at compile time only
    if isinstance(x, nb_types.Float):
        return _expm1_vector
    return None


# ----- log1p ----------------------------------------------------------------------------------


def _log1p(x):
    """libm's log1p with the JIT off; compiled code takes the overload."""
    return math.log1p(x)


def _log1p_vector(x):  # pragma: no cover - compiled
    u = 1.0 + x  # u >= 2^-53 for x > -1: never subnormal
    bits = _bits(u)
    kf = float(((bits >> 52) & 0x7FF) - 1023)
    m = _from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # u = 2^k m, m in [1, 2)
    high = m > SQRT2  # centre m on 1: m in [sqrt(1/2), sqrt(2))
    m = _where(high, m * 0.5, m)
    kf = _where(high, kf + 1.0, kf)
    f = m - 1.0  # exact
    s = f / (2.0 + f)
    z = s * s
    r = 2.0 / 23.0
    r = 2.0 / 21.0 + z * r
    r = 2.0 / 19.0 + z * r
    r = 2.0 / 17.0 + z * r
    r = 2.0 / 15.0 + z * r
    r = 2.0 / 13.0 + z * r
    r = 2.0 / 11.0 + z * r
    r = 2.0 / 9.0 + z * r
    r = 2.0 / 7.0 + z * r
    r = 2.0 / 5.0 + z * r
    r = 2.0 / 3.0 + z * r
    r = z * r  # log(1 + f) = f - hf + s (hf + r), hf = f^2 / 2
    hf = 0.5 * f * f
    c = (x - (u - 1.0)) / u  # 1 + x = u + (x - (u - 1)) exactly; log(u + d) = log u + d / u
    y = kf * LN2_HI + (f - (hf - (s * (hf + r) + (kf * LN2_LO + c))))
    special = _where(x == -1.0, -math.inf, math.nan)  # x <= -1
    y = _where(x <= -1.0, special, y)
    return _where((x != x) | (x == math.inf) | (x == 0.0), x, y)


@overload(_log1p, inline="always")
def _ov_log1p(x):  # pragma: no cover - typing runs at compile time only
    if isinstance(x, nb_types.Float):
        return _log1p_vector
    return None


@njit(inline="always", error_model=ERROR_MODEL)
def exp(x):
    """e^x, vectorisable."""
    return _exp(x)


@njit(inline="always", error_model=ERROR_MODEL)
def expm1(x):
    """e^x - 1, accurate near 0, vectorisable."""
    return _expm1(x)


@njit(inline="always", error_model=ERROR_MODEL)
def log1p(x):
    """log(1 + x), accurate near 0, vectorisable."""
    return _log1p(x)


@njit(inline="always", error_model=ERROR_MODEL)
def tanh(x):
    """tanh x = -m / (m + 2), m = e^-2|x| - 1: no overflow, no cancellation near 0; NaN stays NaN."""
    m = expm1_neg(-(abs(x) + abs(x)))
    return math.copysign(-m / (m + 2.0), x)


VECTOR = types.ModuleType(__name__ + ".vector")
VECTOR.exp, VECTOR.expm1, VECTOR.log1p, VECTOR.tanh = exp, expm1, log1p, tanh
VECTOR.erf, VECTOR.sqrt = math.erf, math.sqrt

LIBM = types.ModuleType(__name__ + ".libm")
for _name in ("exp", "expm1", "log1p", "erf", "sqrt"):
    setattr(LIBM, _name, getattr(math, _name))
LIBM.tanh = tanh  # a libm loop still gains from it: tanh is libm's slowest call here


def math_for(row):
    """The math module a row's functions compile against: libm's if they call erf, else VECTOR."""
    return LIBM if row.calls("erf") else VECTOR
