"""Weight initialisation schemes of the notes (SPEC.md section 4).

Every scheme is ``scheme(fan_in, fan_out, rng, dtype) -> W (fan_in, fan_out)``; ``rng`` is a
``numpy.random.Generator`` so that a model's seed fixes its initial parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np


class SymmetryWarning(UserWarning):
    """All-zero weights: every unit computes the same thing and gets the same update."""


def zeros(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
    """All zeros. Fine for biases; for weights it kills symmetry breaking, so it warns.

    Parameters
    ----------
    fan_in, fan_out : int
    rng : numpy.random.Generator (unused)
    dtype : float dtype

    Returns
    -------
    ndarray (fan_in, fan_out)
    """
    warnings.warn(
        "zero weights: every unit in the layer computes the same output and receives the same "
        "gradient, so they never differentiate; use 'he', 'xavier' or 'small'",
        SymmetryWarning,
        stacklevel=3,
    )
    return np.zeros((fan_in, fan_out), dtype=dtype)


def small(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
    """``0.01 * randn(fan_in, fan_out)``: fine for small nets, vanishing signals for deep ones.

    Returns
    -------
    ndarray (fan_in, fan_out)
    """
    return (0.01 * rng.standard_normal((fan_in, fan_out))).astype(dtype)


def lecun(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
    """Calibrated variance: ``randn / sqrt(fan_in)`` (Var(w) = 1/n).

    Returns
    -------
    ndarray (fan_in, fan_out)
    """
    return (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype)


def xavier(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
    """Glorot/Xavier: ``Var(w) = 2 / (fan_in + fan_out)``.

    Returns
    -------
    ndarray (fan_in, fan_out)
    """
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
    """He et al. 2015, recommended for ReLU: ``randn * sqrt(2 / fan_in)``.

    Returns
    -------
    ndarray (fan_in, fan_out)
    """
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)


def sparse(
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator,
    dtype: type = np.float32,
    connections: int = 10,
    scale: float = 0.01,
) -> np.ndarray:
    """Sparse: each unit (column) gets ``connections`` random non-zero inputs from ``scale * randn``.

    ``connections`` is capped at ``fan_in``.

    Returns
    -------
    ndarray (fan_in, fan_out)
    """
    k = min(connections, fan_in)
    w: np.ndarray = np.zeros((fan_in, fan_out), dtype=dtype)
    for j in range(fan_out):
        rows = rng.choice(fan_in, size=k, replace=False)
        w[rows, j] = scale * rng.standard_normal(k)
    return w


SCHEMES: dict[str, Callable[..., np.ndarray]] = {
    "zeros": zeros,
    "small": small,
    "lecun": lecun,
    "xavier": xavier,
    "glorot": xavier,
    "he": he,
    "sparse": sparse,
}


def get(name: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """A scheme by name (or a callable with the same signature, returned as is).

    Raises
    ------
    ValueError
        Unknown name.
    """
    if callable(name):
        return name
    if name not in SCHEMES:
        raise ValueError(f"init must be one of {sorted(SCHEMES)} or a callable, got {name!r}")
    return SCHEMES[name]
