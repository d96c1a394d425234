"""``fastmlp bench``: run the shipped benchmark suites (``fastmlp.benchmarks``), each contender in its
own process, and write pytest-benchmark JSON, the README's markdown tables and a chart."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_OUT = "fastmlp-bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench command's options."""
    parser.add_argument("--full", action="store_true", help="BENCH.md sizes (slow, ~10 min) instead of the quick ones")
    parser.add_argument("--quick", action="store_true", help="quick sizes (the default)")
    parser.add_argument("-k", dest="select", metavar="EXPR", help="only benchmarks matching this pytest -k expression")
    parser.add_argument(
        "--baseline", default="numpy", help="the implementation speed-ups are relative to (default numpy)"
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"write bench.json, bench.md, bench.png here (default ./{DEFAULT_OUT})",
    )
    parser.add_argument("--save-json", metavar="PATH", help="the pytest-benchmark JSON's path (default OUT/bench.json)")
    parser.add_argument(
        "--plot", metavar="PNG", help="the chart's path (default OUT/bench.png, if matplotlib is installed)"
    )
    parser.add_argument("--compare", metavar="OLD.json", help="also show the change from an earlier run's JSON")
    parser.add_argument("--json", action="store_true", help="make the last line one JSON object")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _writable_file(path: Path, option: str, parser: argparse.ArgumentParser) -> None:
    if path.is_dir():
        parser.error(f"{option} {str(path)!r} is a directory; give a file name")
    folder = path.parent
    while not folder.exists():  # the output folder is created: its nearest existing parent must be writable
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        parser.error(f"{option} {str(path)!r} is not writable")


def _check_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Everything that can be wrong, before a single benchmark runs. Returns the output paths and,
    with ``--compare``, the old run."""
    if args.full and args.quick:
        parser.error("--full and --quick exclude each other")
    if not (_installed("pytest") and _installed("pytest_benchmark")):
        parser.error("the benchmarks need pytest-benchmark: pip install 'fastmlp[bench]'")
    if args.plot and not _installed("matplotlib"):
        parser.error("--plot needs matplotlib: pip install 'fastmlp[bench]'")
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        parser.error(f"--out {args.out!r} is a file; give a directory")
    paths = {
        "json": Path(args.save_json).resolve() if args.save_json else out / "bench.json",
        "markdown": out / "bench.md",
        "chart": Path(args.plot).resolve() if args.plot else (out / "bench.png" if _installed("matplotlib") else None),
    }
    for key, option in (("json", "--save-json"), ("markdown", "--out"), ("chart", "--plot")):
        target = paths[key]
        if target is not None:
            _writable_file(target, option, parser)
    old = None
    if args.compare:
        from ..benchmarks import report

        try:
            old = report.medians(report.load(args.compare))
        except ValueError as exc:
            parser.error(f"--compare: {exc}")
    return {"paths": paths, "old": old}


def _pytest(suites: Path, *extra: str) -> list[str]:
    """The child pytest: the shipped suites with their own settings, whatever the current directory
    holds (``-c os.devnull`` keeps a project's pytest configuration out)."""
    return [
        sys.executable, "-m", "pytest", str(suites), "-c", os.devnull, "--rootdir", str(suites),
        "-p", "no:cacheprovider", "-q", "-o", "python_files=bench_*.py", "-o", "python_functions=bench_*",
        "-o", "console_output_style=classic", "-rs", *extra,
    ]  # fmt: skip


def _contenders(suites: Path, workdir: str, select: str | None, env: dict[str, str]) -> list[str]:
    listing = os.path.join(workdir, "contenders.json")
    cmd = _pytest(suites, "--collect-only", "--list-contenders", listing) + (["-k", select] if select else [])
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    usage = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("ERROR: ")]
    if proc.returncode == 4 and usage:  # pytest's usage error: a -k expression it cannot parse
        raise ValueError(usage[-1].removeprefix("ERROR: "))
    if proc.returncode not in (0, 5) or not os.path.exists(listing):
        raise RuntimeError(
            f"collecting the benchmarks failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    with open(listing) as fh:
        return list(json.load(fh))


def _run_contender(suites: Path, workdir: str, name: str, args: argparse.Namespace, env: dict[str, str]) -> dict:
    """One contender's benchmarks in a fresh process; its pytest-benchmark document."""
    part = os.path.join(workdir, f"part-{name}.json")
    timing = [
        "--benchmark-enable", "--benchmark-only", f"--benchmark-json={part}", "--benchmark-min-rounds=3",
        f"--benchmark-max-time={0.5 if args.full else 0.02}", "--benchmark-disable-gc", "--benchmark-columns=median",
    ]  # fmt: skip
    cmd = _pytest(suites, "--contender", name, *timing) + (["-k", args.select] if args.select else [])
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(part):
        raise RuntimeError(
            f"{name}: the benchmark run failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    if skipped:
        print(f"  {name}: {len(skipped)} skipped, e.g. {skipped[0].split(': ', 1)[-1]}", file=sys.stderr)
    with open(part) as fh:
        return json.load(fh)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the options, run each contender in its own process, merge, and report."""
    checked = _check_options(args, parser)
    paths = checked["paths"]
    from ..benchmarks import report

    suites = Path(report.__file__).resolve().parent
    env = dict(os.environ, FASTMLP_BENCH_FULL="1" if args.full else "0")
    with tempfile.TemporaryDirectory(prefix="fastmlp-bench-") as workdir:
        try:
            try:
                names = _contenders(suites, workdir, args.select, env)
            except ValueError as exc:
                parser.error(f"-k: {exc}")
            if not names:
                parser.error(f"no benchmark matches -k {args.select!r}")
            if args.baseline not in names:
                parser.error(
                    f"--baseline {args.baseline!r} is not among this run's implementations: {', '.join(names)}"
                )
            parts = []
            for k, name in enumerate(names, 1):
                start = time.perf_counter()
                parts.append(_run_contender(suites, workdir, name, args, env))
                print(f"[{k}/{len(names)}] {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        except RuntimeError as exc:
            print(f"fastmlp bench: {exc}", file=sys.stderr)
            return 1
    return _report(report.merge(parts), paths, checked["old"], args)


def _report(data: dict, paths: dict[str, Path | None], old: dict | None, args: argparse.Namespace) -> int:
    from ..benchmarks import report

    groups = report.medians(data)
    written = []
    for key, text in (
        ("json", json.dumps(data, indent=2)),
        ("markdown", f"<!-- {report.machine(data)} -->\n\n" + report.markdown(groups) + "\n"),
    ):
        target = paths[key]
        assert target is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(str(target))
    print(report.markdown(groups))  # the README's tables (markdown reads well in a terminal too)
    if old is not None:
        print(f"\nchange from {args.compare}:\n" + report.compare(old, groups))
    chart = paths["chart"]
    if chart is not None:
        from ..benchmarks import chart as charts

        chart.parent.mkdir(parents=True, exist_ok=True)
        charts.plot(groups, args.baseline, str(chart))
        written.append(str(chart))
    else:
        print("no chart: matplotlib is not installed (pip install 'fastmlp[bench]')", file=sys.stderr)
    print("\nwritten: " + ", ".join(written))
    if args.json:
        summary_json = {
            "baseline": args.baseline,
            "medians_s": groups,
            "speedups": report.speedups(groups, args.baseline),
            "json": str(paths["json"]),
            "markdown": str(paths["markdown"]),
            "chart": str(chart) if chart else None,
        }
        if old is not None:
            summary_json["compare"] = args.compare
        print(json.dumps(summary_json))
    return 0
