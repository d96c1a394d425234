"""The ``fastmlp`` command."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import __version__, backends
from .threads import blas_info, get_num_threads


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
    }


def _print_info(info: dict[str, Any]) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastmlp`` console script."""
    parser = argparse.ArgumentParser(prog="fastmlp", description="Compiled kernels for MLPs.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="version, backends and why not, op coverage, threads, BLAS")
    info.add_argument("--json", action="store_true", help="make the last line one JSON object")
    args = parser.parse_args(argv)
    if args.command == "info":
        data = info_dict()
        if args.json:
            print(json.dumps(data))
        else:
            _print_info(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
