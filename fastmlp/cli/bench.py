"""``fastmlp bench``: run the pytest-benchmark suites in ``benches/`` and report speed-up ratios."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench command's options."""
    parser.add_argument("--full", action="store_true", help="BENCH.md sizes (slow) instead of the quick ones")
    parser.add_argument("--quick", action="store_true", help="quick sizes (the default)")
    parser.add_argument("-k", dest="select", metavar="EXPR", help="only benchmarks matching this pytest -k expression")
    parser.add_argument("--baseline", default="numpy", help="column the ratios are relative to (default numpy)")
    parser.add_argument("--benches", metavar="DIR", help="the benches/ folder (default: found next to the source)")
    parser.add_argument("--save-json", metavar="PATH", help="keep pytest-benchmark's raw JSON here")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown (README format)")
    parser.add_argument("--plot", metavar="PNG", help="bar chart of the speed-ups")
    parser.add_argument("--json", action="store_true", help="make the last line one JSON object")


def find_benches(explicit: str | None) -> Path | None:
    """``--benches``, else ./benches, else the source checkout's benches/ (editable installs)."""
    candidates = (
        [Path(explicit)] if explicit else [Path.cwd() / "benches", Path(__file__).resolve().parents[2] / "benches"]
    )
    return next((p for p in candidates if (p / "bench_ops.py").is_file()), None)


def load_report(benches: Path) -> ModuleType:
    """benches/report.py, the one place that turns the JSON into tables."""
    spec = importlib.util.spec_from_file_location("fastmlp_bench_report", benches / "report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the suites in a child pytest (its own JIT state), then print the table."""
    if args.full and args.quick:
        parser.error("--full and --quick exclude each other")
    benches = find_benches(args.benches)
    if benches is None:
        parser.error("no benches/ folder found: run from a fastmlp source checkout or pass --benches DIR")
    json_path = args.save_json or os.path.join(tempfile.mkdtemp(prefix="fastmlp-bench-"), "bench.json")
    env = dict(os.environ, FASTMLP_BENCH_FULL="1" if args.full else "0")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(benches),
        "-p",
        "no:cacheprovider",
        "-q",
        "--benchmark-enable",
        "--benchmark-only",
        f"--benchmark-json={json_path}",
        "--benchmark-min-rounds=3",
        f"--benchmark-max-time={0.5 if args.full else 0.02}",
        "--benchmark-disable-gc",
        "--benchmark-columns=median",
        "-o",
        "console_output_style=classic",
    ]
    if args.select:
        cmd += ["-k", args.select]
    proc = subprocess.run(cmd, cwd=benches.parent, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(json_path):
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        print(f"fastmlp bench: the benchmark run failed (exit {proc.returncode})", file=sys.stderr)
        return 1
    report = load_report(benches)
    groups = report.medians(json_path)
    if args.markdown:
        print(report.table(json_path, args.baseline))
    else:
        print(report.text_table(groups, args.baseline))
    summary = report.step_summary(groups)
    if summary:
        print("\n" + summary)
    if args.plot:
        plot_ratios(groups, args.baseline, args.plot)
        print(f"speed-up chart written to {args.plot}")
    if args.json:
        print(
            json.dumps(
                {
                    "baseline": args.baseline,
                    "medians_s": groups,
                    "json": json_path,
                    "speedups": report.speedups(groups, args.baseline),
                }
            )
        )
    return 0


def plot_ratios(groups: dict[str, dict[str, float]], baseline: str, path: str) -> None:
    """Horizontal bars: speed-up over the baseline per benchmark group, one colour per implementation.

    Parameters
    ----------
    groups : dict of str to dict of str to float
        Median seconds per implementation (backend) for each benchmark group, as returned by
        ``benches/report.py``'s ``medians``. Groups without the baseline or with no other
        implementation are left out; an implementation missing from a group gets a zero bar.
    baseline : str
        The implementation the speed-ups are relative to (``median[baseline] / median[impl]``).
    path : str
        Where the PNG is written (log-scale x axis).

    Raises
    ------
    SystemExit
        matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("fastmlp: --plot needs matplotlib: pip install 'fastmlp[plot]'") from None
    rows = [g for g in sorted(groups) if baseline in groups[g] and len(groups[g]) > 1]
    impls = sorted({i for g in rows for i in groups[g]} - {baseline})
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) * max(1, len(impls)) + 1.5))
    height = 0.8 / max(1, len(impls))
    for k, impl in enumerate(impls):
        ratios: list[Any] = [groups[g][baseline] / groups[g][impl] if impl in groups[g] else 0 for g in rows]
        ax.barh([i + k * height for i in range(len(rows))], ratios, height=height, label=impl)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))], rows, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(f"speed-up over {baseline} (median, same run; > 1 is faster)")
    ax.invert_yaxis()
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
