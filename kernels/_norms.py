"""Host-side piece of max_norm_ shared by the CPU backends: the per-column scale from the
columns' sums of squares, safe for weights near the dtype's range.

Sums of squares are taken in float64 (a float32 weight of 3e38 squares to 9e76, far inside float64;
squared in float32 it overflowed, the norm became inf and the column was zeroed). Float64 weights
above ~1e154 still overflow float64 when squared: those columns are measured again, scaled by
their largest entry first.
"""

import numpy as np

_TINY = np.finfo(np.float64).tiny


def column_scale(sumsq, w, max_norm):
    """min(1, max_norm / ‖w_j‖₂) per column j of w (D, M), in w's dtype, from sumsq (M,) float64."""
    norms = np.sqrt(sumsq)
    overflowed = np.isinf(norms)
    if overflowed.any():
        cols = w[:, overflowed].astype(np.float64)
        peak = np.abs(cols).max(axis=0)
        norms[overflowed] = peak * np.sqrt(np.square(cols / peak).sum(axis=0))
    return np.minimum(1.0, max_norm / np.maximum(norms, _TINY)).astype(w.dtype)
