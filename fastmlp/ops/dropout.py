"""Inverted dropout and DropConnect with counter-based masks (same bits on every backend)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks as chk
from ._dispatch import buffers, kernel
from .dense import _affine_args, _backward_args

MAX_ELEMENTS = 2**48
# Largest counter offset + 1: start + size then stays below 2**63, the compiled kernels' int64 index.
MAX_START = 2**62


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(chk.integer(s, "shape entry", 0) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}") from None
    size = 1
    for s in shape:
        size *= s
    if size >= MAX_ELEMENTS:  # the counter layout needs size < 2**64; memory runs out long before
        raise ValueError(f"shape {shape} has {size} elements; at most {MAX_ELEMENTS - 1} are supported")
    return shape


def _start(start: Any) -> int:
    return chk.integer(start, "start", 0, MAX_START)


def _float_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.char not in chk.FLOAT_CHARS:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


@buffers("start")
def dropout_mask(
    shape: Any,
    keep_prob: float,
    seed: int,
    stream: int = 0,
    dtype: Any = np.float32,
    *,
    backend: str | None = None,
    start: int = 0,
) -> np.ndarray:
    """Inverted-dropout mask: ``1/keep_prob`` where kept, ``0`` where dropped.

    Element ``e`` (flat C order) is kept iff word ``e`` of the Philox-4x32-10 stream
    ``(seed, stream)`` is below ``keep_prob * 2**32``; the same key gives the same mask, bit
    for bit, on every backend and thread count.

    Parameters
    ----------
    shape : int or tuple of int
    keep_prob : float in (0, 1]
        The notes' p: probability of KEEPING a unit.
    seed : int in [0, 2**64)
    stream : int in [0, 2**32)
        Separates the masks of different layers/steps that share a seed.
    dtype : float32 or float64
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.
    start : int >= 0, default 0
        Counter offset: flat element ``e`` takes word ``start + e``, so the mask is exactly flat
        elements ``start .. start+size-1`` of ``dropout_mask(total_shape, ...)``. A process holding
        rows ``r0..`` of a data-parallel ``(B, W)`` batch passes ``start = r0 * W`` and gets those
        rows of the one-process mask. At most ``2**62 - 1``.

    Returns
    -------
    mask : ndarray of ``shape``

    Raises
    ------
    ValueError
        shape too large; keep_prob outside (0, 1]; seed, stream or start out of range.
    TypeError
        shape, seed, stream or start not integers; dtype not float32/float64.
    """
    shape = _shape(shape)
    p = chk.keep_prob(keep_prob)
    seed, stream = chk.seed_stream(seed, stream)
    return kernel("dropout_mask", backend)(shape, p, seed, stream, _float_dtype(dtype), start=_start(start))


@buffers("start")
def dropout_forward(
    x: Any, keep_prob: float, seed: int, stream: int = 0, *, backend: str | None = None, start: int = 0
) -> np.ndarray:
    """Inverted dropout (training): ``x * dropout_mask(x.shape, keep_prob, seed, stream, start=start)``.

    At test time simply skip it: the kept units were already scaled by ``1/keep_prob``.

    Parameters
    ----------
    x : array of any shape with at least one dimension, non-empty
        float32 is kept; integer and bool inputs compute in float64.
    keep_prob : float in (0, 1]
        Probability of keeping a unit (the notes' p).
    seed : int in [0, 2**64)
    stream : int in [0, 2**32), default 0
        With ``seed``, the key of the counter-based RNG that generates the mask.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.
    start : int >= 0, default 0
        Counter offset: flat element ``e`` of x uses mask word ``start + e``, i.e. x's rows are
        masked as rows ``r0..`` of the whole batch when ``start = r0 * W`` (x of shape ``(n, W)``,
        one part of a data-parallel batch split by rows). At most ``2**62 - 1``.

    Returns
    -------
    out : ndarray, same shape and float dtype as x
        ``x / keep_prob`` where kept, 0 where dropped.

    Raises
    ------
    ValueError
        x is empty; keep_prob outside (0, 1] or not finite; seed, stream or start out of range.
    TypeError
        x is not numeric; keep_prob is not a real number; seed, stream or start is not an integer.
    """
    x = chk.as_array(x, "x")
    if x.ndim == 0 or x.size == 0:  # before the copy to C order, which would make a 0-d array 1-d
        raise ValueError(f"x must be a non-empty array, got shape {x.shape}")
    x = chk.contiguous(x)
    p = chk.keep_prob(keep_prob)
    seed, stream = chk.seed_stream(seed, stream)
    return kernel("dropout_forward", backend, x)(x, p, seed, stream, start=_start(start))


@buffers("start")
def dropout_backward(
    dy: Any, keep_prob: float, seed: int, stream: int = 0, *, backend: str | None = None, start: int = 0
) -> np.ndarray:
    """Dropout gradient: ``dy * mask``, the mask regenerated from the same key.

    Parameters
    ----------
    dy : array of any shape with at least one dimension, non-empty
        Upstream gradient, the shape of the forward input.
    keep_prob : float in (0, 1]
        Probability of keeping a unit, as given to :func:`dropout_forward`.
    seed : int in [0, 2**64)
    stream : int in [0, 2**32), default 0
        The forward pass's RNG key: the same key regenerates the same mask.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.
    start : int >= 0, default 0
        Counter offset, as given to :func:`dropout_forward`: flat element ``e`` of dy uses mask
        word ``start + e``. At most ``2**62 - 1``.

    Returns
    -------
    dx : ndarray, same shape and float dtype as dy

    Raises
    ------
    ValueError
        dy is empty; keep_prob outside (0, 1] or not finite; seed, stream or start out of range.
    TypeError
        dy is not numeric; keep_prob is not a real number; seed, stream or start is not an integer.
    """
    dy = chk.as_array(dy, "dy")
    if dy.ndim == 0 or dy.size == 0:
        raise ValueError(f"dy must be a non-empty array, got shape {dy.shape}")
    dy = chk.contiguous(dy)
    p = chk.keep_prob(keep_prob)
    seed, stream = chk.seed_stream(seed, stream)
    return kernel("dropout_backward", backend, dy)(dy, p, seed, stream, start=_start(start))


def dropconnect_forward(
    x: Any, w: Any, b: Any, keep_prob: float, seed: int, stream: int = 0, *, backend: str | None = None
) -> np.ndarray:
    """DropConnect (Wan et al. 2013): ``y = x @ (w * M) + b``, M an inverted mask over w (D, M).

    The mask is ``dropout_mask(w.shape, keep_prob, seed, stream)``; as with inverted dropout,
    inference uses ``w`` unmasked.

    Parameters
    ----------
    x : array (N, D)
    w : array (D, M)
    b : array (M,)
        Not masked.
    keep_prob : float in (0, 1]
        Probability of keeping a unit (the notes' p).
    seed : int in [0, 2**64)
    stream : int in [0, 2**32), default 0
        With ``seed``, the key of the counter-based RNG that generates the mask.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    y : ndarray (N, M)
        float32 only if x, w and b are all float32, else float64.

    Raises
    ------
    ValueError
        Wrong ranks or mismatched shapes; empty batch; keep_prob outside (0, 1]; seed or stream
        out of range.
    TypeError
        Non-numeric arrays; keep_prob not a real number; seed or stream not an integer.
    """
    x, w, b = _affine_args(x, w, b)
    p = chk.keep_prob(keep_prob)
    seed, stream = chk.seed_stream(seed, stream)
    return kernel("dropconnect_forward", backend, x, w, b)(x, w, b, p, seed, stream)


def dropconnect_backward(
    dy: Any, x: Any, w: Any, keep_prob: float, seed: int, stream: int = 0, *, backend: str | None = None
) -> tuple:
    """DropConnect gradients: ``dx = dy (w*M).T``, ``dw = (x.T dy) * M``, ``db = dy.sum(0)``.

    Parameters
    ----------
    dy : array (N, M)
        Upstream gradient of :func:`dropconnect_forward`'s output.
    x : array (N, D)
    w : array (D, M)
        The unmasked weights.
    keep_prob : float in (0, 1]
        Probability of keeping a weight, as given to :func:`dropconnect_forward`.
    seed : int in [0, 2**64)
    stream : int in [0, 2**32), default 0
        The forward pass's RNG key: the same key regenerates the same mask.
    backend : str, optional
        Backend name; default :func:`fastmlp.get_backend`.

    Returns
    -------
    dx : ndarray (N, D)
    dw : ndarray (D, M)
        Zero where the weight was dropped.
    db : ndarray (M,)
        All three are float32 only if dy, x and w are all float32, else float64.

    Raises
    ------
    ValueError
        Wrong ranks or mismatched shapes; empty batch; keep_prob outside (0, 1]; seed or stream
        out of range.
    TypeError
        Non-numeric arrays; keep_prob not a real number; seed or stream not an integer.
    """
    dy, x, w = _backward_args(dy, x, w)
    p = chk.keep_prob(keep_prob)
    seed, stream = chk.seed_stream(seed, stream)
    return kernel("dropconnect_backward", backend, dy, x, w)(dy, x, w, p, seed, stream)
