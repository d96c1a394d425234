"""Backend registry and selection.

A backend is a kernel package exporting some of the reference's op names (same signatures).
Selection order: explicit ``backend=`` argument > :func:`use_backend` context >
:func:`set_backend` > env ``FASTMLP_BACKEND`` > automatic (``numba`` → ``cython`` → ``numpy``).
``cuda`` is never picked automatically for NumPy inputs; it is picked for device arrays
(anything with ``__cuda_array_interface__``). Naming an unavailable backend raises
:class:`BackendUnavailableError` with the reason — never a silent fallback. An op a backend does
not implement natively runs the reference; :func:`coverage` reports which.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from .kernels._device import is_device

REFERENCE = "numpy"
BUILTIN: dict[str, str] = {
    "numpy": "fastmlp.kernels.reference",
    "numba": "fastmlp.kernels.numba_cpu",
    "cython": "fastmlp.kernels.cython",
    "cuda": "fastmlp.kernels.cuda",
}
AUTO_ORDER = ("numba", "cython", "numpy")
ENTRY_POINT_GROUP = "fastmlp.backends"
ENV_VAR = "FASTMLP_BACKEND"


class BackendUnavailableError(RuntimeError):
    """A backend was named that cannot run here (not installed, not built, no device)."""


_context: contextvars.ContextVar[str | None] = contextvars.ContextVar("fastmlp_backend", default=None)
_default: list[str | None] = [None]  # set_backend's choice
_loaded: dict[str, tuple[ModuleType | None, str]] = {}
_kernels: dict[tuple[str, str], Callable[..., Any]] = {}
_auto: list[str | None] = [None]


_registered: dict[str, str] = {}


def registry() -> dict[str, str]:
    """Backend name → kernel package: built-ins, :func:`register` calls, ``fastmlp.backends`` entry points."""
    found = dict(BUILTIN)
    found.update(_registered)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def register(name: str, package: str) -> None:
    """Add a backend: ``package`` is an importable module exporting some of the reference's ops.

    Parameters
    ----------
    name : str
        The name users select it by (``backend=name``, ``FASTMLP_BACKEND``).
    package : str
        Dotted module path, imported lazily on first use. It may define ``UNAVAILABLE_REASON``
        (a non-empty string) to report that it cannot run on this machine.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"backend name must be an identifier, got {name!r}")
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in backend and cannot be replaced")
    _registered[name] = package
    forget(name)


def forget(name: str | None = None) -> None:
    """Drop cached imports and kernel lookups (of one backend, or all): the next use re-imports."""
    for pair in [k for k in _kernels if name is None or k[0] == name]:
        del _kernels[pair]
    for backend in [k for k in _loaded if name is None or k == name]:
        del _loaded[backend]
    _auto[0] = None


def _load(name: str) -> tuple[ModuleType | None, str]:
    """Import a backend package once; returns (module or None, reason it is unavailable)."""
    if name in _loaded:
        return _loaded[name]
    known = registry()
    if name not in known:
        raise ValueError(f"unknown backend {name!r}; known backends: {sorted(known)}")
    try:
        module: ModuleType | None = importlib.import_module(known[name])
        reason = getattr(module, "UNAVAILABLE_REASON", "") or ""
        if reason:
            module = None
    except ImportError as exc:  # not built, extra not installed, no device
        module, reason = None, f"{type(exc).__name__}: {exc}"
    _loaded[name] = (module, reason)
    return module, reason


def ops() -> tuple[str, ...]:
    """Every op name of the contract: the op table of :mod:`fastmlp.ops`."""
    from . import ops as op_table  # the ops layer imports this module: resolved at call time

    return tuple(op_table.OPS)


def is_available(name: str) -> bool:
    """True when backend ``name`` can run here."""
    return _load(name)[0] is not None


def unavailable_reason(name: str) -> str:
    """Why backend ``name`` cannot run here ('' when it can)."""
    return _load(name)[1]


def available() -> list[str]:
    """Names of the backends that can run here, reference included."""
    return [name for name in registry() if is_available(name)]


def coverage() -> dict[str, dict[str, str]]:
    """For each available backend, op name → ``"native"`` or ``"reference"`` (fallback)."""
    table = {}
    for name in available():
        module, _ = _load(name)
        table[name] = {op: ("native" if hasattr(module, op) else "reference") for op in ops()}
    return table


def _check_usable(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string, got {type(name).__name__}")
    module, reason = _load(name)
    if module is None:
        raise BackendUnavailableError(f"backend {name!r} is not available: {reason}")
    return name


def require(name: str) -> str:
    """``name`` if backend ``name`` can run here; else ``BackendUnavailableError`` (known but
    unavailable, with the reason), ``ValueError`` (unknown) or ``TypeError`` (not a string)."""
    return _check_usable(name)


def _automatic() -> str:
    choice = _auto[0]
    if choice is None:
        choice = next((name for name in AUTO_ORDER if is_available(name)), None)
        if choice is None:
            raise BackendUnavailableError(_nothing_runs())
        _auto[0] = choice
    return choice


def _nothing_runs() -> str:
    """Why no backend can run, and the likely cause: Python started inside the source checkout
    after a regular ``pip install .`` imports the checkout's ``fastmlp/``, which has no
    ``kernels`` (setup.py maps ``kernels/`` to ``fastmlp.kernels`` only in the installed package)."""
    reasons = "; ".join(f"{name}: {unavailable_reason(name)}" for name in AUTO_ORDER)
    message = f"no fastmlp backend can run here ({reasons})"
    package_dir = os.path.dirname(os.path.abspath(__file__))
    if not os.path.isdir(os.path.join(package_dir, "kernels")) and os.path.isdir(
        os.path.join(os.path.dirname(package_dir), "kernels")
    ):
        message += (
            f". fastmlp was imported from the source checkout ({package_dir}), which has no fastmlp/kernels: "
            "Python finds the checkout before the installed package when started inside it. Run from another "
            'directory, or install for development with: pip install -e ".[test]"'
        )
    return message


def _env_choice() -> str | None:
    """``os.environ.get(ENV_VAR)`` without its cost when the variable is unset (the mapping raises
    and catches a KeyError; benches/NOTES.md change 18), which is every op call of a default-backend
    model.
    CPython's environ keeps its encoded keys in ``_data``; elsewhere, the plain lookup."""
    data = getattr(os.environ, "_data", None)
    if data is None:
        return os.environ.get(ENV_VAR)
    raw = data.get(_ENV_KEY)
    return None if raw is None else os.environ.decodevalue(raw)


_ENV_KEY = os.environ.encodekey(ENV_VAR)


def get_backend() -> str:
    """The backend ops use when none is passed explicitly."""
    name = _context.get() or _default[0] or _env_choice() or None
    return _check_usable(name) if name else _automatic()


def set_backend(name: str | None) -> None:
    """Make ``name`` the process-wide default (``None`` restores env/automatic selection)."""
    _default[0] = None if name is None else _check_usable(name)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager: ops inside the block run on ``name`` (thread- and task-local)."""
    token = _context.set(_check_usable(name))
    try:
        yield name
    finally:
        _context.reset(token)


def kernel(op: str, backend: str | None = None) -> Callable[..., Any]:
    """The function implementing ``op`` on ``backend`` (or the current one), reference fallback."""
    name = backend or get_backend()
    fn = _kernels.get((name, op))
    if fn is None:
        module, _ = _load(_check_usable(name))
        fn = getattr(module, op, None)
        if fn is None:
            fn = getattr(_load(REFERENCE)[0], op)
        _kernels[(name, op)] = fn
    return fn


def compiled_steps(backend: str | None = None) -> ModuleType | None:
    """The backend's whole-run training path (its ``compiled_steps`` module: ``train_steps``,
    ``takes``, the codes it knows), or None where the backend has none (fastmlp/_plan.py)."""
    module, _ = _load(_check_usable(backend or get_backend()))
    return getattr(module, "compiled_steps", None)


def is_device_array(x: Any) -> bool:
    """True for CUDA device arrays (Numba, CuPy, torch CUDA, and the Numba simulator's stand-in):
    they select the ``cuda`` backend (``fastmlp.kernels._device.is_device``)."""
    return is_device(x)
