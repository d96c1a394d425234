"""Kinds of input the compiled backends once treated differently from the reference: each is
decided once in the door (fastmlp/ops), so every backend sees the same arrays. Each class runs
over every op of the case table on every CPU backend.

- non-native byte order ('>f8' on a little-endian machine): converted, same result as native;
- ndarray subclasses (np.matrix): used as plain ndarrays (in-place ones updated through a view);
- masked arrays: refused (the kernels cannot honour a mask, and ignoring it would be garbage);
- 0-d arrays to any-shape ops and zero-width layers: refused, like other empty inputs.
"""

import copy

import numpy as np
import pytest

from fastmlp import backends, ops
from fastmlp.cases import CASES, inputs

BACKENDS = [name for name in backends.available() if name != "cuda"]


def _is_float_array(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


ARRAY_CASES = [case for case in CASES if any(_is_float_array(a) for a in inputs(case, 2, 2, np.float64)[0])]


def _run(case, args, kwargs, backend):
    return getattr(ops, case.op)(*args, backend=backend, **kwargs)


def _assert_equal(got, want):
    if isinstance(want, tuple):
        for g, w in zip(got, want):
            _assert_equal(g, w)
    elif isinstance(want, np.ndarray):
        np.testing.assert_array_equal(np.asarray(got), want)
        assert np.asarray(got).dtype.isnative
    else:
        assert got == want


def _converted_run(case, backend, convert):
    """The op on native inputs and on inputs passed through ``convert``: (got, want, got args, want args)."""
    args, kwargs = inputs(case, 5, 4, np.float64)
    want_args = copy.deepcopy(args)
    want = _run(case, want_args, kwargs, backend)
    got_args = tuple(convert(a) if _is_float_array(a) else a for a in copy.deepcopy(args))
    return _run(case, got_args, kwargs, backend), want, got_args, want_args


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ARRAY_CASES, ids=lambda c: c.name)
def test_byte_swapped_inputs_give_the_native_result(case, backend):
    swapped = "<f8" if np.dtype("=f8").byteorder == ">" else ">f8"
    got, want, got_args, want_args = _converted_run(case, backend, lambda a: a.astype(swapped))
    _assert_equal(got, want)
    for pos in case.inplace:  # updated in place, in their own byte order
        if want_args[pos].dtype.kind == "f":
            assert got_args[pos].dtype == np.dtype(swapped)
        np.testing.assert_array_equal(got_args[pos], want_args[pos])


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ARRAY_CASES, ids=lambda c: c.name)
def test_matrix_inputs_act_as_ndarrays(case, backend):
    got, want, got_args, want_args = _converted_run(case, backend, lambda a: np.matrix(a) if a.ndim == 2 else a)
    _assert_equal(got, want)
    for pos in case.inplace:
        np.testing.assert_array_equal(np.asarray(got_args[pos]), want_args[pos])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ARRAY_CASES, ids=lambda c: c.name)
def test_masked_arrays_are_refused(case, backend):
    args, kwargs = inputs(case, 5, 4, np.float64)
    pos = next(i for i, a in enumerate(args) if _is_float_array(a))
    masked = np.ma.masked_array(args[pos], mask=np.zeros(args[pos].shape, bool))
    before = copy.deepcopy(args)
    with pytest.raises(TypeError, match="is a masked array"):
        _run(case, (*args[:pos], masked, *args[pos + 1 :]), kwargs, backend)
    for a, b in zip(args, before):  # nothing was updated before the refusal
        if isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b)


ANY_SHAPE = {
    "relu_forward": lambda x, be: ops.relu_forward(x, backend=be),
    "sigmoid_forward": lambda x, be: ops.sigmoid_forward(x, backend=be),
    "tanh_forward": lambda x, be: ops.tanh_forward(x, backend=be),
    "leaky_relu_forward": lambda x, be: ops.leaky_relu_forward(x, 0.1, backend=be),
    "relu_backward": lambda x, be: ops.relu_backward(x, x, backend=be),
    "dropout_forward": lambda x, be: ops.dropout_forward(x, 0.5, 1, 0, backend=be),
    "dropout_backward": lambda x, be: ops.dropout_backward(x, 0.5, 1, 0, backend=be),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", sorted(ANY_SHAPE))
def test_zero_dimensional_arrays_are_refused(op, backend):
    with pytest.raises(ValueError, match=r"must be a non-empty array, got shape \(\)"):
        ANY_SHAPE[op](np.array(1.5), backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", ["affine_forward", "dense_forward", "dropconnect_forward"])
def test_zero_width_layers_are_refused(op, backend):
    x, w, b = np.ones((3, 4)), np.ones((4, 0)), np.ones(0)
    extra = {"dense_forward": ("relu",), "dropconnect_forward": (0.5, 1, 0)}.get(op, ())
    with pytest.raises(ValueError, match="w has no columns"):
        getattr(ops, op)(x, w, b, *extra, backend=backend)
