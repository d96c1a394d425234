"""Tables from pytest-benchmark JSON: medians and speed-ups, the README's performance tables, and
the change between two runs.

    python -m fastmlp.benchmarks.report bench.json [--baseline numpy] [--compare OLD.json]

Each benchmark's ``extra_info["backend"]`` names its column (fastmlp backends, "torch",
"sklearn", "numpy-notes", "gemm-floor", ...); its ``group`` is the row.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

Groups = dict[str, dict[str, float]]  # group → implementation → median seconds

# The README's tables: column order and headings (implementations absent from a run are left out).
STEP_COLUMNS = {
    "gemm-floor": "GEMM floor",
    "numba": "numba",
    "cython": "cython",
    "numpy-notes": "notes' NumPy",
    "torch": "PyTorch CPU",
    "sklearn": "scikit-learn",
    "numpy": "fastmlp numpy backend",
}
WHITENING_COLUMNS = {
    "notes-recipe": "notes' recipe",
    "numba": "numba",
    "cython": "cython",
    "sklearn": "scikit-learn PCA(whiten, covariance_eigh)",
    "numpy": "fastmlp numpy backend",
}
STEP_GROUP, THREADS_GROUP, WHITENING_GROUP = "train step B=", "train step threads", "whitening fit"
SMALL_NET_GROUPS = ("small net", "MLPClassifier.fit")


def load(path: str) -> dict[str, Any]:
    """A pytest-benchmark JSON file, with a clear error for anything else."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable pytest-benchmark JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    return data


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One pytest-benchmark document from the runs of several processes (one per contender):
    the first run's machine and commit information, every run's benchmarks, each without its
    raw per-round timings (``stats["data"]``: 16 MB for a full run; the statistics stay)."""
    merged = {key: value for key, value in parts[0].items() if key != "benchmarks"}
    merged["benchmarks"] = [
        {**bench, "stats": {k: v for k, v in bench["stats"].items() if k != "data"}}
        for part in parts
        for bench in part["benchmarks"]
    ]
    return merged


def medians(data: dict[str, Any] | str) -> Groups:
    """group → implementation → median seconds, from a document or a file."""
    if isinstance(data, str):
        data = load(data)
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        impl = bench.get("extra_info", {}).get("backend", bench["name"])
        groups[bench["group"]][impl] = bench["stats"]["median"]
    return dict(groups)


def speedups(groups: Groups, baseline: str) -> Groups:
    """group → implementation → baseline median / implementation median."""
    return {
        g: {i: t[baseline] / v for i, v in t.items() if i != baseline and v > 0}
        for g, t in groups.items()
        if baseline in t
    }


def _columns(groups: Groups, baseline: str) -> list[str]:
    return sorted({i for t in groups.values() for i in t} - {baseline})


def _ms(seconds: float | None, digits: int = 3) -> str:
    return f"{seconds * 1e3:.{digits}f}" if seconds else "—"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _head(cells: list[str]) -> str:
    return _row(cells) + "\n|" + "---|" * len(cells)


def table(groups: Groups, baseline: str = "numpy") -> str:
    """Markdown: one row per group, the baseline's median, then each implementation's median and
    speed-up over the baseline."""
    cols = _columns(groups, baseline)
    lines = [_head(["benchmark", f"{baseline} (ms)"] + [h for c in cols for h in (f"{c} (ms)", f"{c} speed-up")])]
    for group in sorted(groups):
        times = groups[group]
        base = times.get(baseline)
        cells = [group, _ms(base)]
        for c in cols:
            t = times.get(c)
            cells += [_ms(t), f"{base / t:.2f}×" if (t and base) else "—"]
        lines.append(_row(cells))
    return "\n".join(lines)


def _kind(group: str) -> str:
    if group.startswith(STEP_GROUP):
        return "step"
    if group.startswith(THREADS_GROUP):
        return "threads"
    if group.startswith(WHITENING_GROUP):
        return "whitening"
    if group.startswith(SMALL_NET_GROUPS):
        return "small"
    return "ops"


def split(groups: Groups) -> dict[str, Groups]:
    """The groups by the README table they belong to: ops, step, threads, whitening, small."""
    kinds: dict[str, Groups] = defaultdict(dict)
    for group, times in groups.items():
        kinds[_kind(group)][group] = times
    return dict(kinds)


def ops_table(groups: Groups) -> str:
    """Each op against the NumPy reference, and cython against numba where both ran."""
    backends = [b for b in ("numba", "cython") if any(b in t for t in groups.values())]
    heads = ["op (rows×cols)", "numpy reference ms"] + [h for b in backends for h in (f"{b} ms", f"{b} ×")]
    both = len(backends) == 2
    lines = [_head(heads + (["cython / numba"] if both else []))]
    for group in sorted(groups):
        times = groups[group]
        base = times.get("numpy")
        cells = [group, _ms(base)]
        for b in backends:
            t = times.get(b)
            cells += [_ms(t), f"{base / t:.1f}×" if (t and base) else "—"]
        if both:
            n, c = times.get("numba"), times.get("cython")
            cells.append(f"{c / n:.2f}" if (n and c) else "—")
        lines.append(_row(cells))
    return "\n".join(lines)


def step_table(groups: Groups) -> str:
    """Rows by batch size; each implementation's ms and, in brackets, its ratio to the GEMM floor."""
    present = [c for c in STEP_COLUMNS if any(c in t for t in groups.values())]
    lines = [_head(["batch"] + [STEP_COLUMNS[c] for c in present])]
    for group in sorted(groups, key=lambda g: int(g.rsplit("=", 1)[1])):
        times = groups[group]
        floor = times.get("gemm-floor")
        cells = [group.rsplit("=", 1)[1]]
        for c in present:
            t = times.get(c)
            cells.append(f"{t * 1e3:.1f} ({t / floor:.2f})" if (t and floor) else _ms(t, 1))
        lines.append(_row(cells))
    return "\n".join(lines)


def threads_table(groups: Groups) -> str:
    """One row per implementation: 1 thread, 2 threads, speed-up."""
    lines = []
    for group, times in sorted(groups.items()):
        lines.append(_head([group.removeprefix("train step threads "), "1 thread", "2 threads", "speed-up"]))
        for impl in sorted({k.split("@")[0] for k in times}):
            one, two = times.get(f"{impl}@1t"), times.get(f"{impl}@2t")
            cells = [impl, _ms(one, 1), _ms(two, 1), f"{one / two:.2f}×" if (one and two) else "—"]
            lines.append(_row(cells))
    return "\n".join(lines)


def whitening_table(groups: Groups) -> str:
    """Rows by data size; each fit's ms and how many times faster than the notes' recipe."""
    present = [c for c in WHITENING_COLUMNS if any(c in t for t in groups.values())]
    lines = [_head(["whitening fit"] + [WHITENING_COLUMNS[c] for c in present])]
    for group in sorted(groups, key=lambda g: int(g.rsplit(" ", 1)[1].split("x")[0])):
        times = groups[group]
        recipe = times.get("notes-recipe")
        cells = [group.rsplit(" ", 1)[1]]
        for c in present:
            t = times.get(c)
            faster = c != "notes-recipe" and t and recipe
            cells.append(f"{t * 1e3:.0f} ({recipe / t:.2f}× faster)" if faster else _ms(t, 0))  # type: ignore[operator]
        lines.append(_row(cells))
    return "\n".join(lines)


def markdown(groups: Groups) -> str:
    """The README's performance tables for whatever the run holds, each under a heading."""
    kinds = split(groups)
    sections = [
        ("ops", "Fused ops against the NumPy reference (ms; × = speed-up)", ops_table),
        ("step", "The CIFAR-shaped training step (ms; in brackets the ratio to the GEMM floor)", step_table),
        ("threads", "Thread scaling of the step (ms)", threads_table),
        ("whitening", "Whitening fit (ms; times faster than the notes' recipe)", whitening_table),
        ("small", "Small nets (ms; speed-up over scikit-learn)", lambda g: table(g, "sklearn")),
    ]
    out = [f"#### {title}\n\n{render(kinds[kind])}" for kind, title, render in sections if kind in kinds]
    summary = step_summary(groups)
    if summary:
        out.append("Targets:\n\n" + "\n".join(f"- {line}" for line in summary.splitlines()))
    return "\n\n".join(out)


def compare(old: Groups, new: Groups) -> str:
    """Each group and implementation present in both runs: old and new median, and the change."""
    rows = [(g, i) for g in sorted(new) if g in old for i in sorted(new[g]) if i in old[g]]
    if not rows:
        return "no benchmark is in both runs"
    width = max(len(f"{g} [{i}]") for g, i in rows)
    lines = [f"{'benchmark [implementation]':<{width}}  {'old ms':>10}  {'new ms':>10}  change"]
    for g, i in rows:
        before, after = old[g][i], new[g][i]
        change = f"{before / after:.2f}× faster" if after < before else f"{after / before:.2f}× slower"
        lines.append(f"{f'{g} [{i}]':<{width}}  {before * 1e3:>10.3f}  {after * 1e3:>10.3f}  {change}")
    return "\n".join(lines)


# Issue 9's targets for the CIFAR-shaped step: (label, numerator column, denominator column, goal, ≥ or ≤).
STEP_TARGETS = [
    ("numba step / GEMM floor", "numba", "gemm-floor", 1.2, "<="),
    ("PyTorch CPU / numba", "torch", "numba", 1.4, ">="),
    ("notes' NumPy / numba", "numpy-notes", "numba", 1.5, ">="),
    ("scikit-learn / numba", "sklearn", "numba", 2.0, ">="),
    ("cython / numba", "cython", "numba", 1.3, "<="),
]


def step_summary(groups: Groups) -> str:
    """The train-step ratios against their targets, one line each ("" without train-step groups)."""
    lines = []
    for group in sorted(g for g in groups if g.startswith(STEP_GROUP)):
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
            verdict = " (target >= 1.7: " + ("met)" if one / two >= 1.7 else "MISSED)") if impl == "numba" else ""
            lines.append(f"train step B=256: {impl} 1 thread / 2 threads = {one / two:.2f}{verdict}")
    return "\n".join(lines)


def machine(data: dict[str, Any]) -> str:
    """One line naming the machine and Python a run was made on."""
    info = data.get("machine_info", {})
    return f"{info.get('cpu', {}).get('brand_raw', 'unknown CPU')}, Python {info.get('python_version', '?')}"


def main(argv: list[str] | None = None) -> None:
    """Command line: the README tables for a JSON file, or its change against an older one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file")
    parser.add_argument("--compare", metavar="OLD.json", help="show the change from this older run instead")
    args = parser.parse_args(argv)
    data = load(args.json_file)
    if args.compare:
        print(compare(medians(load(args.compare)), medians(data)))
        return
    print(f"<!-- {machine(data)} -->")
    print(markdown(medians(data)))


if __name__ == "__main__":
    main()
