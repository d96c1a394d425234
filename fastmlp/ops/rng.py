"""The counter-based generator behind every mask."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks as chk
from ._dispatch import kernel
from .dropout import _shape


def random_bits(shape: Any, seed: int, stream: int = 0, *, backend: str | None = None) -> np.ndarray:
    """uint32 words of Philox-4x32-10: element e (flat C order) is word ``e % 4`` of block ``e // 4``.

    Block counter = ``(e//4 mod 2**32, e//4 >> 32, stream, 0)``, key = ``(seed mod 2**32,
    seed >> 32)``. Identical on every backend; checked against Random123's known answers.

    Parameters
    ----------
    shape : int or tuple of int >= 0
        Shape of the result (zero-size shapes give an empty array).
    seed : int in [0, 2**64)
        Key of the generator.
    stream : int in [0, 2**32), default 0
        Third counter word: separates independent streams that share a seed.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    bits : ndarray of ``shape``, uint32

    Raises
    ------
    TypeError
        shape is not an int or a tuple of ints; seed or stream is not an integer.
    ValueError
        A negative shape entry; seed or stream out of range.
    """
    seed, stream = chk.seed_stream(seed, stream)
    return kernel("random_bits", backend)(_shape(shape), seed, stream)
