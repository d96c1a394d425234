"""Dispatch: which backend's driver runs an op, adapted once to the uniform driver contract.

The contract (what ``fastmlp.ops`` passes): the reference's positional arguments, plus the op's
buffer keywords as declared with :func:`buffers` on its door — ``out=`` (a result buffer),
``need_dx=``/``grads=`` (a dense backward's skipped GEMM and gradient buffers), ``pre=`` (the
dense layer's pre-activation, written by the forward, read by the backward), ``start=`` (the
dropout ops' counter offset). A driver that lacks one is wrapped, once, on its first use:
``out``/``grads`` are honoured by copying its fresh results, ``need_dx`` by dropping dx, and a
call with ``pre`` (activations whose derivative the output does not give) or a nonzero ``start``
runs the reference driver, which takes them. Doors then call every driver
the same way; nothing is inspected on the call path.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backends
from ..kernels._device import is_device

_adapted: dict[Callable[..., Any], Callable[..., Any]] = {}
_declared: dict[str, tuple[str, ...]] = {}


def buffers(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the buffer keywords a door passes its drivers (part of the op table)."""

    def declare(door: Callable[..., Any]) -> Callable[..., Any]:
        _declared[door.__name__] = names
        door.buffer_keywords = names  # type: ignore[attr-defined]
        return door

    return declare


def kernel(op: str, backend: str | None, *arrays: Any) -> Callable[..., Any]:
    """The driver for ``op`` on ``backend`` (default the current one); device arrays among
    ``arrays`` select ``cuda``. Adapted to the op's buffer keywords (module docstring)."""
    for a in arrays:
        if type(a) is not np.ndarray and not isinstance(a, np.ndarray) and is_device(a):
            if backend not in (None, "cuda"):
                raise ValueError(f"CUDA device arrays need backend='cuda' (or none), got backend={backend!r}")
            backend = "cuda"
            break
    fn = backends.kernel(op, backend)
    adapted = _adapted.get(fn)
    if adapted is None:
        adapted = _adapted[fn] = _adapt(op, fn)
    return adapted


def _takes(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # compiled functions without a signature
        return set()


def _adapt(op: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` itself when it takes every buffer keyword of ``op``, else a wrapper that does."""
    missing = [name for name in _declared.get(op, ()) if name not in _takes(fn)]
    if not missing:
        return fn
    reference = backends.kernel(op, backends.REFERENCE)

    @functools.wraps(fn)
    def adapted(*args: Any, **keywords: Any) -> Any:
        if "pre" in missing:
            if keywords.get("pre") is not None:
                return reference(*args, **keywords)
            keywords.pop("pre", None)
        if "start" in missing:
            if keywords.get("start"):
                return reference(*args, **keywords)
            keywords.pop("start", None)
        out = keywords.pop("out", None) if "out" in missing else None
        need_dx = keywords.pop("need_dx", True) if "need_dx" in missing else None
        grads = keywords.pop("grads", None) if "grads" in missing else None
        result = fn(*args, **keywords)
        if out is not None:
            return _into_out(result, out)
        if need_dx is not None or grads is not None:
            return _into_grads(result, need_dx is not False, grads)
        return result

    return adapted


def _into_out(result: Any, out: np.ndarray) -> Any:
    if isinstance(result, tuple):  # (loss, array)
        np.copyto(out, result[1])
        return result[0], out
    np.copyto(out, result)
    return out


def _into_grads(result: tuple, need_dx: bool, grads: tuple | None) -> tuple:
    dx, dw, db = result
    if grads is not None:
        if need_dx:
            np.copyto(grads[0], dx)
        np.copyto(grads[1], dw)
        np.copyto(grads[2], db)
        dx, dw, db = grads[0] if need_dx else None, grads[1], grads[2]
    return (dx if need_dx else None), dw, db


def doors(namespace: dict[str, Any], module: str) -> list[str]:
    """The ops a module of ``fastmlp.ops`` defines (its public functions; the activation doors
    generated from the table included): what it exports, its rows of the op table."""
    return sorted(
        name
        for name, fn in namespace.items()
        if not name.startswith("_") and callable(fn) and getattr(fn, "__module__", None) == module
    )
