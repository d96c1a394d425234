"""Numbers that would otherwise be magic, in one place: parity tolerances and test shapes.

Tolerances are per dtype and relative to the magnitude of the expected values (atol is scaled by
max(1, max|want|)): fused kernels reorder sums, so bitwise equality is only demanded for masks,
indices and random bits.
"""

from __future__ import annotations

import numpy as np

TOLERANCES: dict[np.dtype, dict[str, float]] = {
    np.dtype(np.float32): {"rtol": 2e-5, "atol": 2e-6, "loss_rtol": 1e-5},
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-12, "loss_rtol": 1e-12},
}
# loss_rtol: scalar losses (means over rows, accumulated in float64 by every backend) differ only
# by summation order: ~n·eps of the accumulator for float64 inputs, float32 rounding of each
# row's terms otherwise. 1e-12 for float64 sees a 1e-8 slipped inside a log.

# Shapes the parity harness runs every op on: 1 row, 1 column, odd sizes, a wide one.
TEST_ROWS_COLS: tuple[tuple[int, int], ...] = ((1, 1), (1, 7), (3, 5), (17, 33), (64, 130))
