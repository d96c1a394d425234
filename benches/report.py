"""Turn a pytest-benchmark JSON file into a markdown table of medians and speed-ups vs ``numpy``.

python benches/report.py bench.json [--baseline numpy]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def table(path: str, baseline: str = "numpy") -> str:
    with open(path) as fh:
        data = json.load(fh)
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        groups[bench["group"]][info.get("backend", bench["name"])] = bench["stats"]["median"]
    backends = sorted({b for g in groups.values() for b in g} - {baseline})
    head = f"| op, size | {baseline} (ms) | " + " | ".join(f"{b} (ms) | {b} speed-up" for b in backends) + " |"
    rows = [head, "|" + "---|" * (2 + 2 * len(backends))]
    for group in sorted(groups):
        times = groups[group]
        base = times.get(baseline)
        cells = [group, f"{base * 1e3:.3f}" if base else "—"]
        for b in backends:
            t = times.get(b)
            cells.append(f"{t * 1e3:.3f}" if t else "—")
            cells.append(f"{base / t:.1f}×" if (t and base) else "—")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file")
    parser.add_argument("--baseline", default="numpy")
    args = parser.parse_args()
    with open(args.json_file) as fh:
        machine = json.load(fh).get("machine_info", {})
    print(f"<!-- {machine.get('cpu', {}).get('brand_raw', '')}, {machine.get('python_version', '')} -->")
    print(table(args.json_file, args.baseline))


if __name__ == "__main__":
    main()
