"""The activation table: every elementwise activation declared once, as one row.

A row holds scalar functions of one float — ``f(z, alpha)``, ``f'(z, alpha)`` from the
pre-activation z, and, where it is exact, ``f'`` from the output ``a = f(z)`` — written in the
small subset of Python that all three compilers take:

- Numba CPU compiles them into the generic elementwise loops (``numba_cpu/activations.py``);
- Numba CUDA compiles them as device functions (``cuda/_common.py``);
- ``kernels/cython/_ctable.py`` translates them to C inline functions at build time
  (``_activations.h``), so the Cython kernels run the same formulas.

The subset: arguments ``(z, alpha)`` (or ``(a, alpha)``), local assignments, one ``return``;
``+ - * /``, unary minus, comparisons, ``x if c else y``, float literals, the module's constants,
``abs`` and ``math.{exp, expm1, log1p, tanh, erf, sqrt}``, and calls to this module's helpers
(functions whose names start with ``_``). Every compiler computes in double precision and rounds
once on the store, so float32 results are within one rounding of the exact value.

The NumPy reference (``reference/activations.py``) is written independently, vectorised, and is
the oracle all of these are tested against. ``from_output`` says whether the fused dense backward
may recover f' from the layer's output (monotone activations, where it is exact); the others make
the dense layer keep its pre-activation. Codes are positions in ``ACTIVATIONS``: they are what
compiled kernels switch on.
"""

import math
import types
from dataclasses import dataclass

SQRT1_2 = 0.7071067811865476  # 1/sqrt(2): erf's argument scale in GELU
INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2 pi): the standard normal density's factor
SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi): the tanh-approximated GELU's scale
GELU_CUBIC = 0.044715  # Hendrycks & Gimpel's cubic coefficient
GELU_CUBIC3 = 0.134145  # 3 * GELU_CUBIC, for the derivative


# ----- helpers (shared by several rows) ---------------------------------------------------------

_HELPERS = {}


def _helper(fn):
    """Mark a scalar function rows may call (compilers compile it first; see :func:`helpers`)."""
    _HELPERS[fn.__name__] = fn
    return fn


@_helper
def _sigmoid(z):
    """1 / (1 + e^-z) through e^-|z| in (0, 1]: never overflows."""
    e = math.exp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)


@_helper
def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows (NaN stays NaN)."""
    return (z if z > 0.0 else 0.0) + math.log1p(math.exp(-abs(z)))


# ----- rows -----------------------------------------------------------------------------------


def identity_f(z, alpha):
    return z


def identity_df(z, alpha):
    return 1.0


def relu_f(z, alpha):
    return 0.0 if z < 0.0 else z  # NaN passes through, as with np.maximum


def relu_df(z, alpha):
    return 1.0 if z > 0.0 else 0.0


def leaky_relu_f(z, alpha):
    return z if z >= 0.0 else alpha * z


def leaky_relu_df(z, alpha):
    return 1.0 if z >= 0.0 else alpha


def sigmoid_f(z, alpha):
    return _sigmoid(z)


def sigmoid_df(z, alpha):
    s = _sigmoid(z)
    return s * (1.0 - s)


def sigmoid_df_out(a, alpha):
    return a * (1.0 - a)


def tanh_f(z, alpha):
    return math.tanh(z)


def tanh_df(z, alpha):
    t = math.tanh(z)
    return 1.0 - t * t


def tanh_df_out(a, alpha):
    return 1.0 - a * a


def elu_f(z, alpha):
    return z if z > 0.0 else alpha * math.expm1(z)


def elu_df(z, alpha):
    return 1.0 if z > 0.0 else alpha * math.exp(z)


def elu_df_out(a, alpha):
    return 1.0 if a > 0.0 else a + alpha  # alpha e^z = alpha (e^z - 1) + alpha; alpha > 0 keeps signs


def gelu_f(z, alpha):
    return 0.5 * z * (1.0 + math.erf(z * SQRT1_2))


def gelu_df(z, alpha):
    return 0.5 * (1.0 + math.erf(z * SQRT1_2)) + z * INV_SQRT_2PI * math.exp(-0.5 * z * z)


def gelu_tanh_f(z, alpha):
    t = math.tanh(SQRT_2_OVER_PI * (z + GELU_CUBIC * z * z * z))
    return 0.5 * z * (1.0 + t)


def gelu_tanh_df(z, alpha):
    t = math.tanh(SQRT_2_OVER_PI * (z + GELU_CUBIC * z * z * z))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + GELU_CUBIC3 * z * z)


def silu_f(z, alpha):
    return z * _sigmoid(z)


def silu_df(z, alpha):
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def softplus_f(z, alpha):
    return _softplus(z)


def softplus_df(z, alpha):
    return _sigmoid(z)


# Mish through one exponential: tanh(softplus(z)) = ((1 + e^z)^2 - 1) / ((1 + e^z)^2 + 1), in
# t = e^-|z| so nothing overflows: (t^2 + 2t) / (t^2 + 2t + 2) for z <= 0, (1 + 2t) / (1 + 2t + 2t^2)
# for z > 0 (the same fraction times t^2 / t^2). No log1p and tanh after exp: fewer roundings and
# about a third of the work.


@_helper
def _mish_num(z):
    t = math.exp(-abs(z))
    return t * (t + 2.0) if z <= 0.0 else 1.0 + 2.0 * t


@_helper
def _mish_den(z):
    t = math.exp(-abs(z))
    return t * (t + 2.0) + 2.0 if z <= 0.0 else 1.0 + 2.0 * t + 2.0 * t * t


@_helper
def _mish_gap(z):
    """den - num, exactly (subtracting would cancel for large z)."""
    t = math.exp(-abs(z))
    return 2.0 if z <= 0.0 else 2.0 * t * t


def mish_f(z, alpha):
    return z * (_mish_num(z) / _mish_den(z))


def mish_df(z, alpha):
    # f' = T + z sigmoid(z) (1 - T^2), T = num / den, 1 - T^2 = (den - num)(den + num) / den^2
    num = _mish_num(z)
    den = _mish_den(z)
    return num / den + z * _sigmoid(z) * (_mish_gap(z) * (den + num) / (den * den))


@dataclass(frozen=True)
class Activation:
    """One row of the table. ``df_out`` is f' from the output (None: needs the pre-activation);
    ``alpha`` the parameter's default (None: takes none); ``init`` the weight scheme it trains
    best with (``fastmlp.init``); ``thinc`` the thinc ``Ops`` method computing it, if any."""

    name: str
    f: object
    df: object
    df_out: object = None
    alpha: float | None = None
    init: str = "he"
    thinc: str | None = None
    doc: str = ""

    @property
    def from_output(self):
        """Whether f' is exactly recoverable from f's output."""
        return self.df_out is not None

    @property
    def code(self):
        """The integer compiled kernels switch on."""
        return CODES[self.name]


ACTIVATIONS = (
    Activation("identity", identity_f, identity_df, identity_df, doc="z"),
    Activation("relu", relu_f, relu_df, relu_df, doc="max(0, z)"),
    Activation("leaky_relu", leaky_relu_f, leaky_relu_df, leaky_relu_df, alpha=0.01, doc="z if z >= 0 else alpha z"),
    Activation("sigmoid", sigmoid_f, sigmoid_df, sigmoid_df_out, init="xavier", doc="1 / (1 + e^-z)"),
    Activation("tanh", tanh_f, tanh_df, tanh_df_out, init="xavier", doc="tanh z"),
    Activation("elu", elu_f, elu_df, elu_df_out, alpha=1.0, doc="z if z > 0 else alpha (e^z - 1)"),
    Activation("gelu", gelu_f, gelu_df, thinc="gelu", doc="z Phi(z), Phi the standard normal CDF (erf form)"),
    Activation(
        "gelu_tanh",
        gelu_tanh_f,
        gelu_tanh_df,
        thinc="gelu_approx",
        doc="0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))",
    ),
    Activation("silu", silu_f, silu_df, thinc="swish", doc="z sigmoid(z) (swish)"),
    Activation("softplus", softplus_f, softplus_df, doc="log(1 + e^z)"),
    Activation("mish", mish_f, mish_df, thinc="mish", doc="z tanh(softplus(z))"),
)

CODES = {row.name: code for code, row in enumerate(ACTIVATIONS)}
BY_NAME = {row.name: row for row in ACTIVATIONS}
NAMES = tuple(CODES)


def helpers():
    """The shared helper functions rows may call, by name (compilers compile these first)."""
    return dict(_HELPERS)


def compiled(jit, math_module=None):
    """Every row's ``(f, df, df_out)`` compiled by ``jit`` (``numba.njit`` or ``cuda.jit(device=True)``),
    their helper calls bound to compiled helpers; df_out is None where the output does not give f'.
    ``math_module``, if given, is what the rows' ``math.`` resolves to (a backend's own exp, ...).

    Numba resolves a function's globals when it compiles it, so each scalar function is rebuilt
    over a namespace whose helper names point at the compiled helpers (the plain ones stay here
    for the reference tests and the C translator)."""
    namespace = dict(globals())
    if math_module is not None:
        namespace["math"] = math_module
    for name, fn in helpers().items():
        namespace[name] = jit(_rebound(fn, namespace))

    def one(fn):
        return None if fn is None else jit(_rebound(fn, namespace))

    return {row.name: (one(row.f), one(row.df), one(row.df_out)) for row in ACTIVATIONS}


def _rebound(fn, namespace):
    rebuilt = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    rebuilt.__qualname__, rebuilt.__module__ = fn.__qualname__, fn.__module__
    return rebuilt


def elementwise_ops(module, forward, backward, skip=()):
    """A backend's elementwise ops for every row but identity and ``skip``, by op name:
    ``<name>_forward(x[, alpha])`` calling ``forward(code, x, alpha)`` and ``<name>_backward(dy, x[,
    alpha])`` calling ``backward(code, dy, x, alpha)`` (x the forward input). Rows without a
    parameter take no alpha; ``module`` is the defining module's name (for ``__module__``)."""
    ops = {}
    for row in ACTIVATIONS:
        if row.name == "identity" or row.name in skip:
            continue
        for fn in _op_pair(row, forward, backward):
            fn.__module__ = module
            ops[fn.__name__] = fn
    return ops


def _op_pair(row, forward, backward):
    code = row.code
    if row.alpha is None:

        def fwd(x):
            return forward(code, x, 0.0)

        def bwd(dy, x):
            return backward(code, dy, x, 0.0)

    else:

        def fwd(x, alpha=row.alpha):
            return forward(code, x, alpha)

        def bwd(dy, x, alpha=row.alpha):
            return backward(code, dy, x, alpha)

    fwd.__name__ = fwd.__qualname__ = f"{row.name}_forward"
    bwd.__name__ = bwd.__qualname__ = f"{row.name}_backward"
    fwd.__doc__ = f"{row.doc}, elementwise."
    bwd.__doc__ = f"dy times the derivative of {row.doc}, from the forward input x."
    return fwd, bwd
