"""Every tolerance the tests use, in one place, and the one comparison helper that applies them.

``TOL`` is keyed by dtype: a comparison runs at the precision of the LEAST precise operand
(a float32 result checked against a float64 oracle uses the float32 tolerances).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp.config import TOLERANCES

# the per-dtype numbers live in fastmlp/config.py, shared with the backend parity harness
TOL = {dt: {key: TOLERANCES[np.dtype(dt)][key] for key in ("rtol", "atol")} for dt in (np.float32, np.float64)}

# Central finite differences in float64 (h = FD_STEP): the norm-wise relative error
# max|num - ana| / max(max|num|, max|ana|) of a correct backward is ~1e-9 (round-off eps*|L|/h);
# a wrong formula gives O(1).
FD_STEP = 1e-6
FD_REL_ERR = 1e-6
# Pre-activations / margins kept at least this far from a kink so that x ± h never crosses it.
KINK_GAP = 1e-3

# Whitened data has covariance S / (S + eps) instead of I: with eps = WHITEN_EPS and the test
# data's eigenvalues >= ~0.1 the deviation is ~1e-9; float64 round-off adds ~1e-14.
WHITEN_EPS = 1e-10
WHITE_ATOL = 1e-8

# Random masks: the kept count must lie within this many binomial standard deviations.
BINOMIAL_SIGMAS = 5.0


def _tol_for(*values: Any) -> dict:
    if any(np.asarray(v).dtype == np.float32 for v in values):
        return TOL[np.float32]
    return TOL[np.float64]


def assert_close(got: Any, want: Any, err_msg: str = "", tol: dict | None = None) -> None:
    """Assert ``got`` matches ``want``: same shape; integer/bool arrays exactly, floats within the
    dtype's ``TOL`` (or ``tol`` where a test states a looser, commented bound)."""
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.shape == want_a.shape, f"shape {got_a.shape} != wanted {want_a.shape}. {err_msg}"
    if got_a.dtype.kind in "biu" and want_a.dtype.kind in "biu":
        np.testing.assert_array_equal(got_a, want_a, err_msg=err_msg)
        return
    np.testing.assert_allclose(got_a, want_a, err_msg=err_msg, **(tol or _tol_for(got_a, want_a)))
