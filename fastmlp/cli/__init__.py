"""The ``fastmlp`` command: ``train``, ``bench``, ``info``, ``examples``. ``--json`` makes the last line JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .. import __version__, backends
from . import bench, examples, info, train

SUBPARSERS: dict[str, argparse.ArgumentParser] = {}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its sub-commands."""
    parser = argparse.ArgumentParser(prog="fastmlp", description="Compiled kernels for fully connected networks.")
    parser.add_argument("--version", action="version", version=f"fastmlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    SUBPARSERS.clear()
    p_train = SUBPARSERS["train"] = sub.add_parser("train", help="train an MLP (bundled digits by default)")
    train.add_arguments(p_train)
    p_bench = SUBPARSERS["bench"] = sub.add_parser("bench", help="run the benchmarks, print speed-up ratios")
    bench.add_arguments(p_bench)
    p_info = SUBPARSERS["info"] = sub.add_parser(
        "info", help="version, backends and why not, op coverage, threads, BLAS"
    )
    p_info.add_argument("--json", action="store_true", help="make the last line one JSON object")
    p_examples = SUBPARSERS["examples"] = sub.add_parser("examples", help="redraw the CS231n notes' figures")
    examples.add_arguments(p_examples)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastmlp`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = SUBPARSERS[args.command]
    if args.command != "info":  # info reports the backends, whatever the environment asks for
        _check_env_backend(sub)
    if args.command == "info":
        data = info.info_dict()
        if args.json:
            print(json.dumps(data))
        else:
            info.print_info(data)
    elif args.command == "train":
        summary = train.run_distributed(args, sub) if args.distributed else train.run(args, sub)
        if args.json and summary.get("rank", 0) == 0:
            print(json.dumps(summary))
    elif args.command == "examples":
        return examples.run(args, sub)
    else:
        return bench.run(args, sub)
    return 0


def _check_env_backend(parser: argparse.ArgumentParser) -> None:
    """A FASTMLP_BACKEND that names no usable backend: one line and exit 2, as for --backend."""
    name = os.environ.get(backends.ENV_VAR)
    if name:
        try:
            backends.require(name)
        except (ValueError, TypeError, backends.BackendUnavailableError) as exc:
            parser.error(f"environment variable {backends.ENV_VAR}={name!r}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
