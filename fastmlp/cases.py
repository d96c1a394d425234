"""The one case table: every op with input generators, shared by the parity tests and benches.

A :class:`Case` names an op, builds valid inputs for a (rows, cols) size and dtype, and says
which arguments the op mutates and which outputs must match bit for bit. Adding an op means
adding its cases here; its parity tests and its benchmark row then exist automatically
(``tests/test_parity.py``, ``benches/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastmlp.kernels import reference as ref
from fastmlp.kernels.activation_table import ACTIVATIONS, NAMES
from fastmlp.kernels.activation_table import BY_NAME as ROWS
from fastmlp.ops.activations import HAND_WRITTEN

Maker = Callable[[np.random.Generator, int, int, np.dtype], tuple[tuple, dict]]

SEED = 0x5EED_0F_FA57  # a seed wider than 32 bits, so both key words are exercised
STREAM = 3


@dataclass(frozen=True)
class Case:
    """One op with one set of options."""

    name: str
    op: str
    make: Maker
    inplace: tuple[int, ...] = ()  # positions of arguments the op updates in place
    exact: bool = False  # outputs must be bitwise equal (masks, random bits)
    bench: tuple[tuple[int, int], ...] = ()  # (rows, cols) sizes to benchmark
    hot: bool = False  # one of the owner's hot paths (benchmarked first)
    tags: tuple[str, ...] = field(default_factory=tuple)


def _randn(rng: np.random.Generator, shape: tuple, dtype: np.dtype, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _away_from_zero(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Values with |v| >= 0.1, so kinks (relu at 0, hinge corners) are never hit by rounding."""
    v = rng.standard_normal(shape)
    return (np.sign(v) * (np.abs(v) + 0.1)).astype(dtype)


def _dense_dims(cols: int) -> tuple[int, int]:
    return cols, max(1, (cols + 1) // 2)


def _affine(rng, n, cols, dt):
    d, m = _dense_dims(cols)
    return (_randn(rng, (n, d), dt), _randn(rng, (d, m), dt, 0.3), _randn(rng, (m,), dt)), {}


def _affine_bwd(rng, n, cols, dt):
    d, m = _dense_dims(cols)
    return (_randn(rng, (n, m), dt), _randn(rng, (n, d), dt), _randn(rng, (d, m), dt, 0.3)), {}


def _dense_fwd(activation: str, keep: float) -> Maker:
    def make(rng, n, cols, dt):
        (x, w, b), _ = _affine(rng, n, cols, dt)
        return (x, w, b, activation, keep, SEED, STREAM, 0.05), {}

    return make


def _one_feature(activation: str, keep: float) -> Maker:
    """dense_forward with x (N, 1), w (1, cols): the rank-1 product is one cheap pass, so the op's
    time is its epilogue (bias, activation, dropout mask) — how benches isolate the fused epilogue."""

    def make(rng, n, cols, dt):
        x, w, b = _randn(rng, (n, 1), dt), _randn(rng, (1, cols), dt, 0.3), _randn(rng, (cols,), dt)
        return (x, w, b, activation, keep, SEED, STREAM, 0.05), {}

    return make


def _dense_bwd(activation: str, keep: float, forward: Callable[[str, float], Maker] = _dense_fwd) -> Maker:
    """dense_backward's inputs; activations whose output does not give f' also get ``pre``."""

    def make(rng, n, cols, dt):
        (x, w, b, *opts), _ = forward(activation, keep)(rng, n, cols, dt)
        pre = np.empty((x.shape[0], w.shape[1]), dtype=dt)
        out = ref.dense_forward(x, w, b, *opts, pre=pre)
        extra = {} if ROWS[activation].from_output else {"pre": pre}
        return (_randn(rng, out.shape, dt), x, w, out, *opts), extra

    return make


def _unary(rng, n, cols, dt):
    return (_randn(rng, (n, cols), dt, 2.0),), {}


def _unary_alpha(rng, n, cols, dt):
    return (_away_from_zero(rng, (n, cols), dt), 0.05), {}


def _grad_from_output(forward: Callable) -> Maker:
    def make(rng, n, cols, dt):
        y = forward(_away_from_zero(rng, (n, cols), dt))
        return (_randn(rng, (n, cols), dt), y), {}

    return make


def _table_fwd(activation: str) -> Maker:
    """A generated activation op's input: values away from the kinks, and the row's parameter."""

    def make(rng, n, cols, dt):
        alpha = () if ROWS[activation].alpha is None else (1.3,)
        return (_away_from_zero(rng, (n, cols), dt) * dt.type(2), *alpha), {}

    return make


def _table_bwd(activation: str) -> Maker:
    def make(rng, n, cols, dt):
        (x, *alpha), _ = _table_fwd(activation)(rng, n, cols, dt)
        return (_randn(rng, (n, cols), dt), x, *alpha), {}

    return make


# activation-table rows with generated ops (ops/activations.py writes the others' doors by hand)
TABLE_OPS = tuple(row.name for row in ACTIVATIONS if row.name not in HAND_WRITTEN)


def _leaky_bwd(rng, n, cols, dt):
    return (_randn(rng, (n, cols), dt), _away_from_zero(rng, (n, cols), dt), 0.05), {}


def _prelu_fwd(rng, n, cols, dt):
    return (_away_from_zero(rng, (n, cols), dt), rng.uniform(0.01, 0.3, cols).astype(dt)), {}


def _prelu_bwd(rng, n, cols, dt):
    (x, alpha), _ = _prelu_fwd(rng, n, cols, dt)
    return (_randn(rng, (n, cols), dt), x, alpha), {}


MAXOUT_K = 3


def _maxout_fwd(rng, n, cols, dt):
    return (_randn(rng, (n, cols * MAXOUT_K), dt), MAXOUT_K), {}


def _maxout_bwd(rng, n, cols, dt):
    _, idx = ref.maxout_forward(_randn(rng, (n, cols * MAXOUT_K), dt), MAXOUT_K)
    return (_randn(rng, (n, cols), dt), idx, MAXOUT_K), {}


def _bits(rng, n, cols, dt):
    return ((n, cols), SEED, STREAM), {}


def _mask(rng, n, cols, dt):
    return ((n, cols), 0.7, SEED, STREAM, dt), {}


def _dropout_fwd(rng, n, cols, dt):
    return (_randn(rng, (n, cols), dt), 0.7, SEED, STREAM), {}


def _dropconnect_fwd(rng, n, cols, dt):
    (x, w, b), _ = _affine(rng, n, cols, dt)
    return (x, w, b, 0.6, SEED, STREAM), {}


def _dropconnect_bwd(rng, n, cols, dt):
    (dy, x, w), _ = _affine_bwd(rng, n, cols, dt)
    return (dy, x, w, 0.6, SEED, STREAM), {}


def _bn_fwd(training: bool) -> Maker:
    def make(rng, n, cols, dt):
        n = max(n, 2)  # training statistics need two rows
        x = _randn(rng, (n, cols), dt, 3.0) + dt.type(1.5)
        gamma, beta = _randn(rng, (cols,), dt), _randn(rng, (cols,), dt)
        running_mean = _randn(rng, (cols,), dt)
        running_var = rng.uniform(0.5, 2.0, cols).astype(dt)
        return (x, gamma, beta, running_mean, running_var, training, 0.9, 1e-5), {}

    return make


def _bn_bwd(training: bool) -> Maker:
    def make(rng, n, cols, dt):
        (x, gamma, beta, rm, rv, *opts), _ = _bn_fwd(training)(rng, n, cols, dt)
        _, mean, inv_std = ref.batchnorm_forward(x, gamma, beta, rm, rv, *opts)
        return (_randn(rng, x.shape, dt), x, gamma, mean, inv_std, training), {}

    return make


def _labels(rng, n, cols, dt):
    return (_randn(rng, (n, cols), dt, 3.0), rng.integers(0, cols, n)), {}


def _svm(squared: bool) -> Maker:
    def make(rng, n, cols, dt):
        (scores, y), _ = _labels(rng, n, cols, dt)
        return (scores, y, 1.0, squared), {}

    return make


def _multilabel(signs: bool) -> Maker:
    def make(rng, n, cols, dt):
        t = rng.integers(0, 2, (n, cols)).astype(dt)
        return (_randn(rng, (n, cols), dt, 3.0), 2 * t - 1 if signs else t), {}

    return make


def _regression(rng, n, cols, dt):
    pred = _randn(rng, (n, cols), dt)
    return (pred, pred + _away_from_zero(rng, (n, cols), dt)), {}


def _covariance(rng, n, cols, dt):
    return (_randn(rng, (n, cols), dt) * np.linspace(1, 3, cols).astype(dt) + dt.type(2),), {}


def _spd(rng: np.random.Generator, d: int, dt: np.dtype) -> np.ndarray:
    """A covariance with well-separated eigenvalues (so eigenvectors are well defined)."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    # evenly spaced eigenvalues: a gap of 0.5 keeps float32 eigenvectors within the parity tolerance
    s = 1.0 + 0.5 * np.arange(d)[::-1]
    return ((q * s) @ q.T).astype(dt)


WHITEN_MAX_D = 24  # eigenvectors of larger covariances are too ill-conditioned for float32 parity


def _whitening(method: str, reduce: bool) -> Maker:
    def make(rng, n, cols, dt):
        d = cols if cols > 256 else min(cols, WHITEN_MAX_D)  # bench sizes keep their dimension
        k = max(1, d // 2) if reduce else None
        return (_spd(rng, d, dt), method, 1e-5, k), {}

    return make


def _update(extra_states: int, *hyper: Any) -> Maker:
    def make(rng, n, cols, dt):
        w, dw = _randn(rng, (n, cols), dt), _randn(rng, (n, cols), dt)
        states = [np.abs(_randn(rng, (n, cols), dt, 0.1)) for _ in range(extra_states)]
        return (w, dw, *states, *hyper), {}

    return make


def _adam(rng, n, cols, dt):
    (w, dw, m, v), _ = _update(2)(rng, n, cols, dt)
    return (w, dw, m - dt.type(0.05), v, 3, 1e-3, 0.9, 0.999, 1e-8, 1e-3), {}


def _first_step(extra_states: int, *hyper: Any) -> Maker:
    """An update from zero optimizer state (the first step), gradients spanning 1e-9 .. 1 in
    magnitude, small weights: ``eps`` and bias correction then decide whole updates, so a
    misplaced eps (inside the square root) or a missing correction changes w by O(lr)."""

    def make(rng, n, cols, dt):
        w = _randn(rng, (n, cols), dt, 0.01)
        dw = (np.sign(rng.standard_normal((n, cols))) * 10.0 ** rng.uniform(-9, 0, (n, cols))).astype(dt)
        states = [np.zeros((n, cols), dt) for _ in range(extra_states)]
        return (w, dw, *states, *hyper), {}

    return make


def _max_norm(rng, n, cols, dt):
    w = _randn(rng, (n, cols), dt, 2.0)
    return (w, 1.5), {}


def _dead(rng, n, cols, dt):
    h = np.maximum(_randn(rng, (n, cols), dt), 0)
    h[:, ::3] = 0  # every third unit dead in this batch
    fired = np.zeros(cols, dtype=bool)
    fired[1::4] = True  # some units fired in earlier batches
    return (h, fired), {}


SMALL = ((256, 512),)
HOT = ((256, 512), (4096, 4096))

CASES: tuple[Case, ...] = (
    Case("affine_forward", "affine_forward", _affine, bench=((256, 3072),)),
    Case("affine_backward", "affine_backward", _affine_bwd, bench=((256, 3072),)),
    *(
        Case(
            f"dense_forward[{a},p={p}]",
            "dense_forward",
            _dense_fwd(a, p),
            hot=True,
            bench=((256, 512), (256, 3072)) if a == "relu" else (),
        )
        for a in NAMES
        for p in (1.0, 0.6)
    ),
    *(
        Case(
            f"dense_backward[{a},p={p}]",
            "dense_backward",
            _dense_bwd(a, p),
            hot=True,
            bench=((256, 512), (256, 3072)) if a == "relu" else (),
        )
        for a in NAMES
        for p in (1.0, 0.6)
    ),
    # the fused epilogues alone (one input feature: the GEMM is a rank-1 pass), at BENCH.md's sizes
    Case("dense_forward[relu,p=0.5,D=1]", "dense_forward", _one_feature("relu", 0.5), hot=True, bench=HOT),
    Case(
        "dense_backward[relu,p=0.5,D=1]", "dense_backward", _dense_bwd("relu", 0.5, _one_feature), hot=True, bench=HOT
    ),
    Case("relu_forward", "relu_forward", _unary, hot=True, bench=HOT),
    Case("relu_backward", "relu_backward", _grad_from_output(ref.relu_forward), hot=True, bench=HOT),
    Case("leaky_relu_forward", "leaky_relu_forward", _unary_alpha, bench=SMALL),
    Case("leaky_relu_backward", "leaky_relu_backward", _leaky_bwd, bench=SMALL),
    Case("prelu_forward", "prelu_forward", _prelu_fwd, bench=SMALL),
    Case("prelu_backward", "prelu_backward", _prelu_bwd, bench=SMALL),
    Case("sigmoid_forward", "sigmoid_forward", _unary, bench=SMALL),
    Case("sigmoid_backward", "sigmoid_backward", _grad_from_output(ref.sigmoid_forward), bench=SMALL),
    Case("tanh_forward", "tanh_forward", _unary, bench=SMALL),
    Case("tanh_backward", "tanh_backward", _grad_from_output(ref.tanh_forward), bench=SMALL),
    *(Case(f"{a}_forward", f"{a}_forward", _table_fwd(a), bench=SMALL) for a in TABLE_OPS),
    *(Case(f"{a}_backward", f"{a}_backward", _table_bwd(a), bench=SMALL) for a in TABLE_OPS),
    Case("maxout_forward", "maxout_forward", _maxout_fwd, bench=SMALL),
    Case("maxout_backward", "maxout_backward", _maxout_bwd, bench=SMALL),
    Case("random_bits", "random_bits", _bits, exact=True, bench=SMALL),
    Case("dropout_mask", "dropout_mask", _mask, exact=True, hot=True, bench=HOT),
    Case("dropout_forward", "dropout_forward", _dropout_fwd, hot=True, bench=HOT),
    Case("dropout_backward", "dropout_backward", _dropout_fwd, hot=True, bench=HOT),
    Case("dropconnect_forward", "dropconnect_forward", _dropconnect_fwd, bench=((256, 512),)),
    Case("dropconnect_backward", "dropconnect_backward", _dropconnect_bwd, bench=((256, 512),)),
    Case("batchnorm_forward[train]", "batchnorm_forward", _bn_fwd(True), inplace=(3, 4), bench=SMALL),
    Case("batchnorm_forward[eval]", "batchnorm_forward", _bn_fwd(False), inplace=(3, 4)),
    Case("batchnorm_backward[train]", "batchnorm_backward", _bn_bwd(True), bench=SMALL),
    Case("batchnorm_backward[eval]", "batchnorm_backward", _bn_bwd(False)),
    Case(
        "softmax_cross_entropy",
        "softmax_cross_entropy",
        _labels,
        hot=True,
        bench=((256, 10), (256, 512), (256, 1000), (4096, 1000), (4096, 4096)),
    ),
    Case("svm_loss[hinge]", "svm_loss", _svm(False), bench=((256, 10), (256, 1000))),
    Case("svm_loss[squared]", "svm_loss", _svm(True)),
    Case("sigmoid_cross_entropy", "sigmoid_cross_entropy", _multilabel(False), bench=((256, 1000),)),
    Case("attribute_hinge_loss", "attribute_hinge_loss", _multilabel(True), bench=((256, 1000),)),
    Case("l2_loss", "l2_loss", _regression, bench=((256, 1000),)),
    Case("l1_loss", "l1_loss", _regression, bench=((256, 1000),)),
    Case("covariance", "covariance", _covariance, hot=True, bench=((20000, 1024),)),
    Case("whitening_matrix[pca]", "whitening_matrix", _whitening("pca", True), bench=((1024, 1024),)),
    Case("whitening_matrix[zca]", "whitening_matrix", _whitening("zca", False)),
    Case("whitening_matrix[zca,k]", "whitening_matrix", _whitening("zca", True)),
    Case("whitening_matrix[rotate]", "whitening_matrix", _whitening("rotate", True)),
    Case("sgd_update", "sgd_update", _update(0, 0.1, 1e-3), inplace=(0,), hot=True, bench=HOT),
    Case(
        "momentum_update",
        "momentum_update",
        _update(1, 0.1, 0.9, 1e-3, False),
        inplace=(0, 2),
        hot=True,
        bench=(*HOT, (3072, 512)),
    ),
    Case("momentum_update[nesterov]", "momentum_update", _update(1, 0.1, 0.9, 1e-3, True), inplace=(0, 2), hot=True),
    Case("adam_update", "adam_update", _adam, inplace=(0, 2, 3), hot=True, bench=HOT),
    Case("adam_update[t=1,zero state]", "adam_update", _first_step(2, 1, 1e-3, 0.9, 0.999, 1e-8), inplace=(0, 2, 3)),
    Case("rmsprop_update[zero cache]", "rmsprop_update", _first_step(1, 1e-2, 0.99, 1e-8), inplace=(0, 2)),
    Case("adagrad_update[zero cache]", "adagrad_update", _first_step(1, 1e-2, 1e-8), inplace=(0, 2)),
    Case("rmsprop_update", "rmsprop_update", _update(1, 1e-2, 0.99, 1e-8, 1e-3), inplace=(0, 2), hot=True, bench=HOT),
    Case("adagrad_update", "adagrad_update", _update(1, 1e-2, 1e-8, 1e-3), inplace=(0, 2), hot=True, bench=HOT),
    Case("max_norm_", "max_norm_", _max_norm, inplace=(0,), bench=((3072, 512),)),
    Case("dead_relu_fraction", "dead_relu_fraction", _dead, inplace=(1,), bench=SMALL),
)

BY_NAME: dict[str, Case] = {case.name: case for case in CASES}


def inputs(case: Case, rows: int, cols: int, dtype: Any, seed: int = 0) -> tuple[tuple, dict]:
    """Fresh, deterministic inputs for ``case`` at size (rows, cols).

    Parameters
    ----------
    case : Case
        The op and options to build inputs for (e.g. ``BY_NAME["relu_forward"]``).
    rows : int
        Batch size N (batch-norm cases use at least 2).
    cols : int
        Feature width; each case maps it to its own shapes (e.g. dense weights are
        ``(cols, (cols + 1) // 2)``, maxout pre-activations ``(rows, 3 * cols)``, whitening takes a
        ``(cols, cols)`` covariance).
    dtype : float32 or float64 (anything ``np.dtype`` accepts)
        Float dtype of the generated arrays; integer labels, piece indices and bool flags keep
        their own dtypes.
    seed : int, default 0
        Together with rows, cols and the case name's length, seeds the generator, so the same
        arguments always give the same inputs.

    Returns
    -------
    args : tuple
        Positional arguments for the op ``case.op``.
    kwargs : dict
        Keyword arguments for it (empty for every current case).
    """
    rng = np.random.default_rng([seed, rows, cols, len(case.name)])
    return case.make(rng, rows, cols, np.dtype(dtype))
