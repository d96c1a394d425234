"""The ``math`` the activation table's rows see when Numba CPU compiles them.

libm's functions are calls LLVM cannot vectorise, so a loop around one runs an element at a
time. These are written so a loop around them does vectorise (plain arithmetic, selects, bit
casts; no calls), in double precision like the rows, within 4 ulp of NumPy's and SciPy's:

- ``exp`` and ``expm1``: ``_common``'s Cody-Waite reduction and polynomial, over the whole range;
- ``log1p``: exponent and mantissa from the bits, then log(1 + f) = 2 atanh(f / (2 + f)) as a
  series in s = f / (2 + f) (|s| <= 0.172, so eleven terms are below half an ulp), with
  1 + x's rounding error added back as c / (1 + x);
- ``tanh``: from ``expm1_neg``, with no overflow and no cancellation near 0;
- ``erf``: a Taylor polynomial up to |x| = 1, then 1 - e^(-x^2) erfcx(|x|) with erfcx from a
  polynomial fitted in 1/|x| (below).

Selects go through ``_where`` (one LLVM select), not Python ternaries: these functions are
inlined into rows that are themselves inlined into loops, and Numba's IR inliner mishandles the
phi nodes of inlined ternaries there. benches/NOTES.md changes 22 and 23 have the measurements.
"""

import math
import types

import numpy as np
from llvmlite import ir
from numba import njit
from numba import types as nb_types
from numba.extending import intrinsic, overload

from ._common import ERROR_MODEL, EXP_UNDERFLOW, expm1_neg, pow2, reduce_exp_f64

LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * LN2_HI is exact for |k| < 2^11
LN2_LO = 1.90821492927058770002e-10
SQRT2 = 1.4142135623730951
EXP_CEILING = 711.0  # past ln(largest double) = 709.78: 2^k e^r overflows to inf by itself
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


def exp(x):
    """e^x: the vectorisable form below in compiled code, libm's with the JIT off (coverage runs)."""
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


@overload(exp, inline="always")
def _ov_exp(x):  # pragma: no cover - typing runs at compile time only
    if isinstance(x, nb_types.Float):
        return _exp_vector
    return None


def expm1(x):
    """e^x - 1, accurate near 0: the vectorisable form below in compiled code, libm's with the JIT off."""
    return math.expm1(x)


def _expm1_vector(x):  # pragma: no cover - compiled
    # one reduction x = k ln2 + r, q = e^r - 1: e^x - 1 = 2^k q + (2^k - 1), which is q itself near
    # 0 (k = 0) and never cancels more than a bit; near overflow 2^k alone would overflow, and
    # e^x - 1 is e^x there to the last bit
    xc = _where(x > EXPM1_FLOOR, x, EXPM1_FLOOR)  # NaN -> EXPM1_FLOOR, patched back below
    xc = _where(xc < EXP_CEILING, xc, EXP_CEILING)
    kf, q = reduce_exp_f64(xc)
    s = pow2(kf)  # garbage past k = 1023, where far is taken
    e = _where(kf < 1000.0, s * q + (s - 1.0), _exp_in_range(xc))
    return _where((x != x) | (x == 0.0), x, e)  # 0: keeps -0


@overload(expm1, inline="always")
def _ov_expm1(x):  # pragma: no cover - typing runs at compile time only
    if isinstance(x, nb_types.Float):
        return _expm1_vector
    return None


# ----- log1p ----------------------------------------------------------------------------------


def log1p(x):
    """log(1 + x), accurate near 0: the vectorisable form below in compiled code, libm's with the JIT off."""
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


@overload(log1p, inline="always")
def _ov_log1p(x):  # pragma: no cover - typing runs at compile time only
    if isinstance(x, nb_types.Float):
        return _log1p_vector
    return None


# ----- erf -------------------------------------------------------------------------------------
# |x| <= 1: x P(x^2), P the Taylor series to n = 18. 1 < |x| < 6: 1 - e^(-x^2) erfcx(|x|), with
# erfcx(a) = s h(s), s = 1/a, h a degree-25 polynomial in t = (2s - 7/6) / (5/6) on [1/6, 1]. Past 6,
# erfc < 2e-17 and erf rounds to +-1; s is held at 1/6 there so h never extrapolates. h is its
# Chebyshev interpolant written as a polynomial in t (well conditioned: benches/erf_coefficients.py,
# which regenerates the coefficients from mpmath).

ERF_TAYLOR = (
    1.1283791670955126,
    -0.37612638903183754,
    0.11283791670955126,
    -0.026866170645131252,
    0.005223977625442188,
    -0.0008548327023450853,
    0.00012055332981789664,
    -1.492565035840625e-05,
    1.6462114365889248e-06,
    -1.6365844691234924e-07,
    1.4807192815879218e-08,
    -1.2290555301717928e-09,
    9.422759064650411e-11,
    -6.7113668551641105e-12,
    4.4632242632864775e-13,
    -2.7835162072109215e-14,
    1.6342614095367152e-15,
    -9.063970842808673e-17,
    4.763348040515068e-18,
)
ERFCX_POLY = (
    0.49666648512593864,
    -0.07128287792547403,
    -0.0019368880676844983,
    0.006219717587555677,
    -0.0026693430316646794,
    0.0006408677496401579,
    -2.4390209255312805e-06,
    -9.303470408872973e-05,
    5.9516327928618746e-05,
    -2.3855598012055373e-05,
    5.899924133391359e-06,
    2.135510239174228e-07,
    -1.2890308100779914e-06,
    9.239274759947809e-07,
    -4.44913847460289e-07,
    1.5479950928789475e-07,
    -2.7281195358951914e-08,
    -1.3430968720283901e-08,
    1.6691394124927222e-08,
    -8.92926098791508e-09,
    4.048495986060335e-09,
    -2.949309297479054e-09,
    1.3357064889852004e-09,
    4.3596290884308524e-10,
    -6.279510950201295e-10,
    1.622343047346226e-10,
)
ERFCX_S_LO = 1.0 / 6.0


def erf(x):
    """The error function: the vectorisable form below in compiled code, libm's with the JIT off."""
    return math.erf(x)


def _erf_vector(x):  # pragma: no cover - compiled
    a = abs(x)
    z = x * x
    # four interleaved Horner chains in z^4 (and t^4 below): a quarter of one chain's latency
    z2 = z * z
    z4 = z2 * z2
    p0 = ERF_TAYLOR[16]
    p0 = ERF_TAYLOR[12] + z4 * p0
    p0 = ERF_TAYLOR[8] + z4 * p0
    p0 = ERF_TAYLOR[4] + z4 * p0
    p0 = ERF_TAYLOR[0] + z4 * p0
    p1 = ERF_TAYLOR[17]
    p1 = ERF_TAYLOR[13] + z4 * p1
    p1 = ERF_TAYLOR[9] + z4 * p1
    p1 = ERF_TAYLOR[5] + z4 * p1
    p1 = ERF_TAYLOR[1] + z4 * p1
    p2 = ERF_TAYLOR[18]
    p2 = ERF_TAYLOR[14] + z4 * p2
    p2 = ERF_TAYLOR[10] + z4 * p2
    p2 = ERF_TAYLOR[6] + z4 * p2
    p2 = ERF_TAYLOR[2] + z4 * p2
    p3 = ERF_TAYLOR[15]
    p3 = ERF_TAYLOR[11] + z4 * p3
    p3 = ERF_TAYLOR[7] + z4 * p3
    p3 = ERF_TAYLOR[3] + z4 * p3
    p = (p0 + z * p1) + z2 * (p2 + z * p3)
    near = x * p
    s = 1.0 / _where(a < 6.0, a, 6.0)  # NaN -> 6; +-inf -> 6 (e^-a^2 is 0 there)
    t = (2.0 * s - (1.0 + ERFCX_S_LO)) * (1.0 / (1.0 - ERFCX_S_LO))  # [1/6, 1] -> [-1, 1]
    t2 = t * t
    t4 = t2 * t2
    h0 = ERFCX_POLY[24]
    h0 = ERFCX_POLY[20] + t4 * h0
    h0 = ERFCX_POLY[16] + t4 * h0
    h0 = ERFCX_POLY[12] + t4 * h0
    h0 = ERFCX_POLY[8] + t4 * h0
    h0 = ERFCX_POLY[4] + t4 * h0
    h0 = ERFCX_POLY[0] + t4 * h0
    h1 = ERFCX_POLY[25]
    h1 = ERFCX_POLY[21] + t4 * h1
    h1 = ERFCX_POLY[17] + t4 * h1
    h1 = ERFCX_POLY[13] + t4 * h1
    h1 = ERFCX_POLY[9] + t4 * h1
    h1 = ERFCX_POLY[5] + t4 * h1
    h1 = ERFCX_POLY[1] + t4 * h1
    h2 = ERFCX_POLY[22]
    h2 = ERFCX_POLY[18] + t4 * h2
    h2 = ERFCX_POLY[14] + t4 * h2
    h2 = ERFCX_POLY[10] + t4 * h2
    h2 = ERFCX_POLY[6] + t4 * h2
    h2 = ERFCX_POLY[2] + t4 * h2
    h3 = ERFCX_POLY[23]
    h3 = ERFCX_POLY[19] + t4 * h3
    h3 = ERFCX_POLY[15] + t4 * h3
    h3 = ERFCX_POLY[11] + t4 * h3
    h3 = ERFCX_POLY[7] + t4 * h3
    h3 = ERFCX_POLY[3] + t4 * h3
    h = (h0 + t * h1) + t2 * (h2 + t * h3)
    far = math.copysign(1.0 - exp(-(a * a)) * (s * h), x)
    return _where(a <= 1.0, near, far)


@overload(erf, inline="always")
def _ov_erf(x):  # pragma: no cover - typing runs at compile time only
    if isinstance(x, nb_types.Float):
        return _erf_vector
    return None


@njit(inline="always", error_model=ERROR_MODEL)
def tanh(x):
    """tanh x = -m / (m + 2), m = e^-2|x| - 1: no overflow, no cancellation near 0; NaN stays NaN."""
    m = expm1_neg(-(abs(x) + abs(x)))
    return math.copysign(-m / (m + 2.0), x)


VECTOR = types.ModuleType(__name__ + ".vector")
VECTOR.exp, VECTOR.expm1, VECTOR.log1p, VECTOR.tanh, VECTOR.erf = exp, expm1, log1p, tanh, erf
VECTOR.sqrt = math.sqrt  # an instruction already
