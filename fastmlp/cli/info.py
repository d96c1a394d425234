"""``fastmlp info``: version, backends and why not, op coverage, threads, BLAS, CUDA device."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np

from .. import __version__, backends
from ..threads import blas_info, get_num_threads


def info_dict() -> dict[str, Any]:
    """Everything ``fastmlp info`` reports, as plain data."""
    names = list(backends.registry())
    cov = backends.coverage()
    return {
        "version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "backend": backends.get_backend(),
        "backends": {
            name: {
                "available": backends.is_available(name),
                "reason": backends.unavailable_reason(name),
                "native_ops": sum(v == "native" for v in cov.get(name, {}).values()),
                "fallback_ops": sorted(op for op, v in cov.get(name, {}).items() if v != "native"),
            }
            for name in names
        },
        "n_ops": len(backends.ops()),
        "threads": get_num_threads(),
        "blas": blas_info(),
        "cuda_device": cuda_device(),
    }


def cuda_device() -> str | None:
    """Name of the CUDA device the ``cuda`` backend would use, or None."""
    if not backends.is_available("cuda"):
        return None
    try:
        from numba import cuda

        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:  # a broken driver must not break `fastmlp info`
        return f"unknown ({exc})"


def print_info(info: dict[str, Any]) -> None:
    """Human-readable report."""
    print(f"fastmlp {info['version']} (Python {info['python']}, NumPy {info['numpy']})")
    print(f"default backend: {info['backend']}    threads: {info['threads']}")
    print(f"backends ({info['n_ops']} ops in the contract):")
    for name, b in info["backends"].items():
        if b["available"]:
            extra = f", falls back to the reference for: {', '.join(b['fallback_ops'])}" if b["fallback_ops"] else ""
            print(f"  {name:<7} available, {b['native_ops']} native ops{extra}")
        else:
            print(f"  {name:<7} unavailable: {b['reason']}")
    print("BLAS / thread pools:")
    for lib in info["blas"]:
        print(f"  {lib['internal_api']} {lib['version']} ({lib['num_threads']} threads) {lib['filepath']}")
    print(f"CUDA device: {info['cuda_device'] or 'none'}")
