"""The activation table: every row checked against PyTorch, finite differences and its own claims,
on every backend, through the ops, the fused dense layer, the layers and the model.

Parity of each generated op and of the fused dense layer with every activation at the usual
shapes and dtypes is in tests/test_parity.py (its cases come from the same table).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.special

import fastmlp
from fastmlp import backends, ops
from fastmlp.kernels import activation_table as table
from fastmlp.kernels import reference as ref
from fastmlp.layers import Activation, Dense
from fastmlp.ops.activations import HAND_WRITTEN
from tolerances import assert_close

NEW = tuple(row.name for row in table.ACTIVATIONS if row.name not in HAND_WRITTEN)  # the generated ops
PRE = [row.name for row in table.ACTIVATIONS if not row.from_output]  # the dense layer keeps z for these
CPU_BACKENDS = [b for b in backends.available() if b != "cuda"]
GRID = np.concatenate([np.linspace(-30, 30, 1201), [-1e-3, -1e-8, 0.0, 1e-8, 1e-3, -700.0, 700.0]])

if os.environ.get("FASTMLP_REQUIRE_TORCH") == "1":
    import torch  # CI promised the PyTorch comparisons: a missing torch fails the run
else:
    torch = pytest.importorskip("torch")


def _torch_module(name, alpha):
    nn = torch.nn
    return {
        "elu": lambda: nn.ELU(alpha),
        "gelu": lambda: nn.GELU(),
        "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
        "silu": lambda: nn.SiLU(),
        "softplus": lambda: nn.Softplus(),  # beta 1; its threshold 20 returns x where x·beta > 20
        "mish": lambda: nn.Mish(),
    }[name]()


def _args(name, alpha=1.3):
    return () if table.BY_NAME[name].alpha is None else (alpha,)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("name", NEW)
def test_forward_and_backward_match_pytorch(name, backend):
    """Every backend's op against torch.nn's module and autograd, float64, past the saturations."""
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(500) * 4, [-40.0, -20.5, -3.0, 0.0, 3.0, 19.5, 20.5, 40.0]])
    dy = rng.standard_normal(x.shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = _torch_module(name, 1.3)(tx)
    (tdx,) = torch.autograd.grad((ty * torch.tensor(dy)).sum(), tx)
    with fastmlp.use_backend(backend):
        y = getattr(ops, f"{name}_forward")(x, *_args(name))
        dx = getattr(ops, f"{name}_backward")(dy, x, *_args(name))
    # softplus: above its threshold (x > 20) torch returns x and slope 1, dropping log1p(e^-x)
    # and e^-x (< 2.1e-9 relative), which the exact values keep
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=3e-9, atol=1e-12)
    np.testing.assert_allclose(dx, tdx.numpy(), rtol=3e-9, atol=1e-12)


@pytest.mark.parametrize("name", NEW)
def test_reference_backward_is_the_derivative(name):
    """Central differences of the reference forward, away from ELU's kink at 0."""
    x = np.linspace(-6, 6, 241)
    x = x[np.abs(x) > 1e-3]
    h = 1e-6
    f = getattr(ref, f"{name}_forward")
    numeric = (f(x + h, *_args(name)) - f(x - h, *_args(name))) / (2 * h)
    got = getattr(ref, f"{name}_backward")(np.ones_like(x), x, *_args(name))
    np.testing.assert_allclose(got, numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("row", table.ACTIVATIONS, ids=lambda r: r.name)
def test_scalar_functions_agree_with_the_reference(row):
    """The table's scalar f and f' (what Numba and the C translation compile) against the NumPy
    reference, in float64, over a grid reaching the far tails."""
    alpha = 1.3 if row.alpha is not None else 0.0
    f = np.array([row.f(v, alpha) for v in GRID])
    df = np.array([row.df(v, alpha) for v in GRID])
    if row.name == "identity":
        want_f, want_df = GRID, np.ones_like(GRID)
    elif row.name in ("relu", "sigmoid", "tanh"):
        want_f = getattr(ref, f"{row.name}_forward")(GRID)
        want_df = getattr(ref, f"{row.name}_backward")(np.ones_like(GRID), want_f)
    else:
        want_f = getattr(ref, f"{row.name}_forward")(GRID, *(() if row.alpha is None else (alpha,)))
        want_df = getattr(ref, f"{row.name}_backward")(
            np.ones_like(GRID), GRID, *(() if row.alpha is None else (alpha,))
        )
    # atol: the GELUs' tails cancel (1 + erf, 1 + tanh near -1) in both, to a few 1e-16 (f) and
    # 1e-15 (f', a sum of such terms)
    np.testing.assert_allclose(f, want_f, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(df, want_df, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("row", [r for r in table.ACTIVATIONS if r.from_output], ids=lambda r: r.name)
def test_output_rows_really_give_the_derivative(row):
    """from_output is a claim: f'(z) from a = f(z) equals f'(z) from z (alpha > 0, as the ops require)."""
    alpha = 0.7
    z = GRID[np.abs(GRID) > 1e-12]  # at 0 itself leaky/ELU choose sides by convention
    via_output = np.array([row.df_out(row.f(v, alpha), alpha) for v in z])
    direct = np.array([row.df(v, alpha) for v in z])
    np.testing.assert_allclose(via_output, direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("row", [r for r in table.ACTIVATIONS if not r.from_output], ids=lambda r: r.name)
def test_rows_marked_not_from_output_are_not_invertible_or_are_monotone(row):
    """A row without df_out is either not invertible (two inputs give one output and different
    slopes: GELU, SiLU, Mish), so the output cannot give f', or monotone and keeping z by choice
    (softplus, per the team's DESIGN.md; a new monotone row such as softsign may too)."""
    z = np.linspace(-5, 5, 100001)
    a = np.array([row.f(v, 0.0) for v in z])
    d = np.array([row.df(v, 0.0) for v in z])
    order = np.argsort(a, kind="stable")
    close = np.abs(np.diff(a[order])) < 1e-9
    slopes_differ = np.abs(np.diff(d[order])) > 1e-3
    assert np.any(close & slopes_differ) or np.all(np.diff(a) >= 0)


def test_translator_refuses_what_c_cannot_run(tmp_path):
    from fastmlp.kernels.cython import _ctable as ctable_module

    mod = ctable_module.load_table()

    def looping(z, alpha):
        for _ in range(3):
            z = z * 2.0
        return z

    with pytest.raises(ValueError, match="For statement"):
        ctable_module._Translator(mod, looping).body()


def test_c_header_renders_every_row():
    from fastmlp.kernels.cython import _ctable as ctable_module

    text = ctable_module.render()
    for row in table.ACTIVATIONS:
        for suffix in ("f", "d"):
            assert f"case {row.code}: fm_act_{row.name}_fwd_{suffix}(x, out, alpha, n);" in text
            assert f"case {row.code}: fm_act_{row.name}_bwd_{suffix}(dy, x, out, alpha, n);" in text
            with_out = f"case {row.code}: fm_act_{row.name}_bwd_out_{suffix}(dy, a, out, alpha, n);" in text
            assert with_out == row.from_output


@pytest.mark.skipif(not backends.is_available("cython"), reason="cython backend not built")
def test_cython_build_runs_the_current_table():
    """A build made before the table changed would run old formulas: its fingerprint says so."""
    from fastmlp.kernels.cython import _ctable as ctable_module
    from fastmlp.kernels.cython import dense

    assert ctable_module.fingerprint() == dense.ACTIVATION_FINGERPRINT, (
        "the cython extensions were built from another activation table: rebuild them"
    )


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("keep", [1.0, 0.6])
@pytest.mark.parametrize("name", PRE)
def test_dense_saves_the_pre_activation(name, keep, backend):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((37, 11)), rng.standard_normal((11, 9)), rng.standard_normal(9)
    pre = np.full((37, 9), np.nan)
    out = ops.dense_forward(x, w, b, name, keep, 5, 1, pre=pre, backend=backend)
    assert_close(pre, x @ w + b)
    dout = rng.standard_normal(out.shape)
    got = ops.dense_backward(dout, x, w, out, name, keep, 5, 1, pre=pre, backend=backend)
    want = ref.dense_backward(dout, x, w, out, name, keep, 5, 1, pre=x @ w + b)
    for g, wnt in zip(got, want):
        assert_close(g, wnt)


@pytest.mark.parametrize("name", PRE)
def test_dense_backward_without_pre_says_what_it_needs(name):
    x, w, b = np.ones((2, 3)), np.ones((3, 2)), np.zeros(2)
    out = ops.dense_forward(x, w, b, name)
    with pytest.raises(ValueError, match="needs pre="):
        ops.dense_backward(np.ones((2, 2)), x, w, out, name)
    with pytest.raises(ValueError, match="pre has shape"):
        ops.dense_backward(np.ones((2, 2)), x, w, out, name, pre=np.ones((2, 3)))
    flat = np.empty(6)
    with pytest.raises(ValueError, match="shares memory"):
        ops.dense_forward(x, w, b, name, out=flat[:4].reshape(2, 2), pre=flat[2:].reshape(2, 2))


def test_alpha_defaults_follow_the_table():
    x = np.array([[-1.0, 2.0]])
    w, b = np.eye(2), np.zeros(2)
    assert_close(ops.dense_forward(x, w, b, "elu"), [[math.expm1(-1.0), 2.0]])
    assert_close(ops.dense_forward(x, w, b, "leaky_relu"), [[-0.01, 2.0]])
    assert_close(ops.elu_forward(x), [[math.expm1(-1.0), 2.0]])
    assert_close(ops.elu_forward(x, 0.5), [[0.5 * math.expm1(-1.0), 2.0]])
    with pytest.raises(ValueError, match="alpha"):
        ops.dense_forward(x, w, b, "elu", alpha=-1.0)
    for name in (n for n in NEW if table.BY_NAME[n].alpha is None):
        with pytest.raises(TypeError, match="takes 0 parameter"):
            getattr(ops, f"{name}_forward")(x, 0.5)


@pytest.mark.parametrize("name", NEW)
def test_activation_layer_and_fused_dense_agree(name):
    """Dense(activation=name) fuses what Dense + Activation(name) compute apart; gradients too."""
    rng = np.random.default_rng(11)
    x, dy = rng.standard_normal((16, 6)), rng.standard_normal((16, 5))
    fused = Dense(6, 5, name, dtype=np.float64, rng=np.random.default_rng(1))
    plain = Dense(6, 5, dtype=np.float64, rng=np.random.default_rng(1), init=fused.init_name)
    act = Activation(name)
    y_fused = fused.forward(x, training=True)
    y_plain = act.forward(plain.forward(x, training=True), training=True)
    assert_close(y_fused, y_plain)
    dx_fused = fused.backward(dy)
    dx_plain = plain.backward(act.backward(dy))
    assert_close(dx_fused, dx_plain)
    assert_close(fused.W.grad, plain.W.grad)
    assert_close(fused.b.grad, plain.b.grad)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("name", NEW)
def test_model_gradients_match_finite_differences(name, backend):
    """A whole network, the activation fused into Dense (with dropout) and as a layer after batch
    norm: backprop against central differences on every CPU backend."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    for batchnorm, keep in ((False, 0.7), (True, 1.0)):
        net = fastmlp.MLP([4, 5, 3], name, keep, batchnorm, dtype="float64", seed=2, backend=backend)
        errors = net.gradient_check(x, y, eps=1e-6, max_checks=12)
        if batchnorm:  # batch norm cancels the bias before it: its gradient is 0, the check noise
            errors.pop("0.b")
        assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("name", NEW)
def test_models_with_new_activations_save_and_load(tmp_path, name):
    net = fastmlp.MLP([4, 6, 3], activation=name, batchnorm=name == "mish", seed=1, dtype="float64")
    x = np.random.default_rng(0).standard_normal((5, 4))
    path = tmp_path / "net.npz"
    net.save(path)
    again = fastmlp.load(path)
    np.testing.assert_array_equal(again.predict_scores(x), net.predict_scores(x))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_adapter_takes_the_new_activations():
    from fastmlp.sklearn import MLPClassifier

    x = np.random.default_rng(0).standard_normal((200, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)

    def score(name):
        return MLPClassifier((16,), activation=name, max_iter=200, random_state=0, tol=0).fit(x, y).score(x, y)

    baseline = score("relu")
    for name in NEW:
        assert score(name) >= min(0.8, baseline - 0.05), name


@pytest.mark.jit_only  # with the JIT off these are libm's own functions
@pytest.mark.parametrize("name", ["exp", "expm1", "log1p", "tanh", "erf"])
def test_numba_rows_math_matches_libm(name):
    """The math Numba's table loops use (vectorisable, kernels/numba_cpu/_vector_math.py), compiled
    as the loops compile it, against NumPy's over both signs, the ends of the range, tiny and
    subnormal arguments, log1p's pole and domain edge, and non-finite values: within 3 ulp (erf,
    against SciPy's: 4), with NumPy's NaNs, infinities, zeros and signs."""
    from numba import njit

    from fastmlp.kernels.numba_cpu import _vector_math as vm

    fn = getattr(vm, name)

    @njit(error_model="numpy")  # as every kernel: 1/0 is inf, not an exception
    def apply(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])

    x = _math_edge_cases()
    got = np.empty_like(x)
    apply(x, got)
    _assert_matches_numpy(name, x, got)


def _math_edge_cases():
    """Both signs, the ends of the range, tiny and subnormal arguments, log1p's pole and domain
    edge, and non-finite values."""
    return np.concatenate(
        [
            np.linspace(-800, 800, 40001),
            np.linspace(-1, 1, 20001),
            np.geomspace(1e-320, 1, 601),
            -np.geomspace(1e-320, 1, 601),
            -1 + np.geomspace(1e-17, 1, 401),
            np.geomspace(1, 1e308, 601),
            [0.0, -0.0, 1e300, -1e300, np.inf, -np.inf, np.nan, -1.0, -1.0000001, -2.0],
            [709.78, 709.79, 710.0, -36.0, -37.0, -60.0, -708.0, -745.0, -746.0, -750.0],
        ]
    )


def _assert_matches_numpy(name, x, got):
    """got = name(x) within 3 ulp of NumPy's, with NumPy's NaNs, infinities, zeros and signs."""
    with np.errstate(all="ignore"):
        want = scipy.special.erf(x) if name == "erf" else getattr(np, name)(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_array_equal(got == 0, want == 0)
    number = ~np.isnan(want)  # a NaN's sign bit is whatever the hardware made it
    np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))
    finite = np.isfinite(want) & (want != 0)
    ulps = np.abs(got[finite] - want[finite]) / np.spacing(np.abs(want[finite]))
    assert ulps.max() <= (4 if name == "erf" else 3), (x[finite][ulps.argmax()], ulps.max())


@pytest.mark.skipif(not backends.is_available("cython"), reason="cython backend not built")
@pytest.mark.parametrize("avx2", [True, False], ids=["avx2", "baseline"])
@pytest.mark.parametrize("name", ["exp", "expm1", "log1p", "tanh", "erf"])
def test_cython_rows_math_matches_libm(name, avx2):
    """The math the Cython table loops use (vectorisable, fm_v*_d in kernels/cython/_vecmath.h), in
    a loop compiled as theirs are, against NumPy's over the same cases as Numba's: the AVX2 copy
    (where the CPU has it) and the baseline one, in a subprocess, since the choice is made once."""
    x = _math_edge_cases()
    if avx2:
        from fastmlp.kernels.cython import activations

        _assert_matches_numpy(name, x, activations._vector_math(name, x))
        return
    code = (
        "import sys, numpy as np; from fastmlp.kernels.cython import activations; "
        "x = np.frombuffer(sys.stdin.buffer.read()); "
        f"sys.stdout.buffer.write(activations._vector_math({name!r}, x).tobytes())"
    )
    env = {**os.environ, "FASTMLP_CYTHON_NO_AVX2": "1"}
    done = subprocess.run([sys.executable, "-c", code], input=x.tobytes(), capture_output=True, env=env, check=True)
    _assert_matches_numpy(name, x, np.frombuffer(done.stdout))


def test_numba_rows_math_is_all_vectorisable():
    """Every math function a row calls, helpers included, has a vector version in the module the
    Numba rows compile against (one libm call would keep a row's loop scalar)."""
    from fastmlp.kernels.numba_cpu import _vector_math as vm

    for name in ("exp", "expm1", "log1p", "tanh", "erf"):
        assert getattr(vm.VECTOR, name) is getattr(vm, name)
    functions = [*table.helpers().values()]
    functions += [fn for row in table.ACTIVATIONS for fn in (row.f, row.df, row.df_out) if fn is not None]
    maths = ("exp", "expm1", "log1p", "tanh", "erf", "sqrt")
    # ``math.erf(...)`` names "math" and "erf" among the function's globals and attributes
    used = {fn for f in functions if "math" in f.__code__.co_names for fn in maths if fn in f.__code__.co_names}
    assert used >= {"exp", "expm1", "tanh", "erf", "log1p"}  # the check below is not vacuous
    assert all(hasattr(vm.VECTOR, fn) for fn in used)


def test_erf_coefficients_agree_between_numba_and_c():
    """The vector erf's coefficients, written once per language, are the same doubles in
    kernels/numba_cpu/_vector_math.py and kernels/cython/_vecmath.h (benches/erf_coefficients.py
    prints them)."""
    import re
    from pathlib import Path

    from fastmlp.kernels.numba_cpu import _vector_math as vm

    header = (Path(table.__file__).parent / "cython" / "_vecmath.h").read_text()
    for c_name, values in (("FM_ERF_TAYLOR", vm.ERF_TAYLOR), ("FM_ERFCX_POLY", vm.ERFCX_POLY)):
        body = re.search(rf"{c_name}\[\d+\] = \{{(.*?)\}};", header, re.S).group(1)
        in_c = tuple(float(v) for v in body.replace("\n", "").split(",") if v.strip())
        assert in_c == values, c_name
    assert len(vm.ERF_TAYLOR) == 19 and len(vm.ERFCX_POLY) == 26
