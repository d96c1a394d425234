"""The counter-based generator behind every mask."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks as chk
from ._checks import kernel
from .dropout import _shape


def random_bits(shape: Any, seed: int, stream: int = 0, *, backend: str | None = None) -> np.ndarray:
    """uint32 words of Philox-4x32-10: element e (flat C order) is word ``e % 4`` of block ``e // 4``.

    Block counter = ``(e//4 mod 2**32, e//4 >> 32, stream, 0)``, key = ``(seed mod 2**32,
    seed >> 32)``. Identical on every backend; checked against Random123's known answers.
    """
    seed, stream = chk.seed_stream(seed, stream)
    return kernel("random_bits", backend)(_shape(shape), seed, stream)
