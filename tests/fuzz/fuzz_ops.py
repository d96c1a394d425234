"""Hypothesis fuzzing of every public op: random shapes, dtypes, strides and values.

Run in a subprocess by tests/test_reliability.py so that a crash (a segfault in a kernel) is
reported as a failure instead of killing the test run. Each example must either match the
reference (same call on the NumPy backend) or raise a clear ValueError/TypeError.
"""

import sys
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastmlp import backends, ops
from fastmlp.cases import CASES, inputs

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "numpy"
EXAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 200

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_, np.complex64, np.float16, object]
VALUES = [0.0, -0.0, 1.0, -1.0, 1e-30, 1e30, 3e38, np.nan, np.inf, -np.inf, 2**31, -(2**31)]


def mutate(value, draw):
    """A randomly damaged or re-laid-out version of one argument."""
    if not isinstance(value, np.ndarray):
        kind = draw(st.integers(0, 5))
        if isinstance(value, (bool, str)) or kind > 3:
            return value
        return draw(st.sampled_from([value, -1, 0, 2**70, 0.5, float("nan"), None, "x", (2, 2)]))
    choice = draw(st.integers(0, 9))
    if choice == 0:  # another dtype
        return value.astype(draw(st.sampled_from(DTYPES)))
    if choice == 1:  # poisoned values
        bad = value.astype(np.float64).copy()
        if bad.size:
            bad.flat[draw(st.integers(0, bad.size - 1))] = draw(st.sampled_from(VALUES))
        return bad.astype(value.dtype) if value.dtype.kind == "f" else bad
    if choice == 2:  # a strided view
        wide = np.repeat(value, 2, axis=-1) if value.ndim else value
        return wide[..., ::2] if value.ndim else wide
    if choice == 3:  # Fortran order
        return np.asfortranarray(value)
    if choice == 4:  # a different shape
        return value.reshape(-1) if value.ndim > 1 else value[..., None]
    if choice == 5:  # empty
        return value[:0]
    if choice == 6:  # read-only
        ro = value.copy()
        ro.flags.writeable = False
        return ro
    if choice == 7:  # a list
        return value.tolist()
    return value


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def fuzz(data):
    case = data.draw(st.sampled_from(CASES))
    rows, cols = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    args, kwargs = inputs(case, rows, cols, data.draw(st.sampled_from([np.float32, np.float64])))
    n_bad = data.draw(st.integers(0, 2))
    args = list(args)
    for _ in range(n_bad):
        pos = data.draw(st.integers(0, len(args) - 1))
        args[pos] = mutate(args[pos], data.draw)
    fn = getattr(ops, case.op)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = fn(*args, backend=BACKEND, **kwargs)
        except (ValueError, TypeError) as exc:
            assert str(exc), "errors must say what is wrong"
            return
        # accepted: the reference must accept it too and agree (NaN where NaN)
        want = fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args], backend="numpy", **kwargs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        if isinstance(w, (float, np.ndarray)):
            g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
            assert g.shape == w.shape
            np.testing.assert_allclose(
                g,
                w,
                rtol=1e-3,
                atol=1e-3 * max(1.0, float(np.nanmax(np.abs(w))) if w.size and np.isfinite(w).any() else 1.0),
            )


if __name__ == "__main__":
    assert BACKEND in backends.available(), BACKEND
    fuzz()
    print(f"fuzz ok: {EXAMPLES} examples on {BACKEND}")
