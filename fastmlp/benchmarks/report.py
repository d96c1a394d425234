"""Turn a pytest-benchmark JSON file into tables of medians and speed-ups vs a baseline column.

    python benches/report.py bench.json [--baseline numpy]     # markdown, as in the README

Each benchmark's ``extra_info["backend"]`` names its column (fastmlp backends, "torch",
"sklearn", "notes-recipe", "gemm-floor", ...); its ``group`` is the row.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def medians(path: str) -> dict[str, dict[str, float]]:
    """group → implementation → median seconds."""
    with open(path) as fh:
        data = json.load(fh)
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        impl = bench.get("extra_info", {}).get("backend", bench["name"])
        groups[bench["group"]][impl] = bench["stats"]["median"]
    return dict(groups)


def speedups(groups: dict[str, dict[str, float]], baseline: str) -> dict[str, dict[str, float]]:
    """group → implementation → baseline median / implementation median."""
    return {
        g: {i: t[baseline] / v for i, v in t.items() if i != baseline and v > 0}
        for g, t in groups.items()
        if baseline in t
    }


def _columns(groups: dict[str, dict[str, float]], baseline: str) -> list[str]:
    return sorted({i for t in groups.values() for i in t} - {baseline})


def table(path: str, baseline: str = "numpy") -> str:
    """Markdown: one row per group, the baseline's median, then each implementation's median and ratio."""
    groups = medians(path)
    cols = _columns(groups, baseline)
    head = f"| benchmark | {baseline} (ms) | " + " | ".join(f"{c} (ms) | {c} speed-up" for c in cols) + " |"
    rows = [head, "|" + "---|" * (2 + 2 * len(cols))]
    for group in sorted(groups):
        times = groups[group]
        base = times.get(baseline)
        cells = [group, f"{base * 1e3:.3f}" if base else "—"]
        for c in cols:
            t = times.get(c)
            cells += [f"{t * 1e3:.3f}" if t else "—", f"{base / t:.2f}×" if (t and base) else "—"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def text_table(groups: dict[str, dict[str, float]], baseline: str = "numpy") -> str:
    """Plain-text version for the terminal."""
    cols = _columns(groups, baseline)
    width = max([len(g) for g in groups] + [9])
    lines = [f"{'benchmark':<{width}}  {baseline + ' ms':>12}" + "".join(f"  {c + ' ms':>14} {'×':>7}" for c in cols)]
    for group in sorted(groups):
        times = groups[group]
        base = times.get(baseline)
        line = f"{group:<{width}}  " + (f"{base * 1e3:>12.3f}" if base else f"{'—':>12}")
        for c in cols:
            t = times.get(c)
            line += f"  {t * 1e3:>14.3f}" if t else f"  {'—':>14}"
            line += f" {base / t:>6.2f}×" if (t and base) else f" {'—':>7}"
        lines.append(line)
    return "\n".join(lines)


# Issue 9's targets for the CIFAR-shaped step: (label, numerator column, denominator column, goal, ≥ or ≤).
STEP_TARGETS = [
    ("numba step / GEMM floor", "numba", "gemm-floor", 1.2, "<="),
    ("PyTorch CPU / numba", "torch", "numba", 1.4, ">="),
    ("notes' NumPy / numba", "numpy-notes", "numba", 1.5, ">="),
    ("scikit-learn / numba", "sklearn", "numba", 2.0, ">="),
    ("cython / numba", "cython", "numba", 1.3, "<="),
]


def step_summary(groups: dict[str, dict[str, float]]) -> str:
    """The train-step ratios against their targets, one line each ("" without train-step groups)."""
    lines = []
    for group in sorted(g for g in groups if g.startswith("train step B=")):
        times = groups[group]
        n = int(group.rsplit("=", 1)[1])
        for label, num, den, goal, sense in STEP_TARGETS:
            if num in times and den in times:
                r = times[num] / times[den]
                if den == "gemm-floor" and n != 256:  # batch scaling: within 1.3x of the floor from 256 up
                    if n < 256:
                        lines.append(f"{group}: {label} = {r:.2f} (no target below B=256)")
                        continue
                    goal = 1.3
                ok = r <= goal if sense == "<=" else r >= goal
                lines.append(f"{group}: {label} = {r:.2f} (target {sense} {goal}: {'met' if ok else 'MISSED'})")
    threads = groups.get("train step threads B=256", {})
    for impl in ("numba", "gemm-floor", "numpy-notes", "torch"):
        one, two = threads.get(f"{impl}@1t"), threads.get(f"{impl}@2t")
        if one and two:
            goal = " (target >= 1.7: " + ("met)" if one / two >= 1.7 else "MISSED)") if impl == "numba" else ""
            lines.append(f"train step B=256: {impl} 1 thread / 2 threads = {one / two:.2f}{goal}")
    return "\n".join(lines)


def main() -> None:
    """Command line: print the markdown table for a JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file")
    parser.add_argument("--baseline", default="numpy")
    args = parser.parse_args()
    with open(args.json_file) as fh:
        machine = json.load(fh).get("machine_info", {})
    print(f"<!-- {machine.get('cpu', {}).get('brand_raw', '')}, Python {machine.get('python_version', '')} -->")
    print(table(args.json_file, args.baseline))
    summary = step_summary(medians(args.json_file))
    if summary:
        print("\n" + summary)


if __name__ == "__main__":
    main()
