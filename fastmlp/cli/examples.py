"""``fastmlp examples``: redraw the CS231n notes' figures with fastmlp (see fastmlp/examples)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import time

from .. import examples


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The examples command's options."""
    parser.add_argument("name", nargs="?", choices=[*examples.NAMES, "all"], help="which example to run")
    parser.add_argument("--out", default=".", metavar="DIR", help="folder for the PNGs (default: here)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds each")
    parser.add_argument("--list", action="store_true", help="list the examples and what each draws")
    parser.add_argument("--json", action="store_true", help="make the last line one JSON object")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run one example (or all); prints the PNGs written."""
    if args.list or args.name is None:
        for name in examples.NAMES:
            doc = (importlib.import_module(f"fastmlp.examples.{name}").__doc__ or "").strip().splitlines()[0]
            print(f"{name:14} {doc}")
        return 0
    if importlib.util.find_spec("matplotlib") is None:
        parser.error("the examples need matplotlib: pip install 'fastmlp[plot]'")
    names = examples.NAMES if args.name == "all" else (args.name,)
    written: dict[str, list[str]] = {}
    for name in names:
        start = time.perf_counter()
        try:
            written[name] = examples.run(name, args.out, quick=args.quick)
        except OSError as exc:
            parser.exit(2, f"{parser.prog}: error: cannot write into {args.out!r}: {exc}\n")
        if not args.json:
            for path in written[name]:
                print(f"{name}: wrote {path} ({time.perf_counter() - start:.1f} s)")
    if args.json:
        print(json.dumps({"written": written}))
    return 0
