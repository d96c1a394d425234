"""The digits fit, fastmlp.sklearn against scikit-learn, idle and beside busy processes.

    python benches/busy_neighbour.py                 # loads 0, 1 and 3 busy processes
    python benches/busy_neighbour.py --busy 1 --rounds 3 --epochs 60

Each contender fits in its own process (BENCH.md); the contenders alternate, ``--rounds`` times,
and each reports its minimum and median of ``--fits`` fits. The busy neighbours are plain Python
spin loops, started before and stopped after each load level (also on Ctrl-C or an error).
Settings: digits, hidden (256, 128), Adam, batch 64, float32 for fastmlp (scikit-learn computes in
the input's dtype), tol 0 so both run every epoch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

FIT = """
import json, sys, time, warnings
import numpy as np
from fastmlp import datasets
warnings.simplefilter("ignore")
impl, epochs, fits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if impl == "fastmlp.sklearn":
    from fastmlp.sklearn import MLPClassifier
else:
    from sklearn.neural_network import MLPClassifier
X, y = datasets.load_digits()
X = X.astype(np.float32)
settings = dict(hidden_layer_sizes=(256, 128), batch_size=64, max_iter=epochs, tol=0, n_iter_no_change=10**6,
                random_state=0)
if impl == "fastmlp.sklearn":
    settings["dtype"] = "float32"  # as the data; scikit-learn keeps float32 input in float32 too

def fit():
    start = time.perf_counter()
    MLPClassifier(**settings).fit(X, y)
    return time.perf_counter() - start

fit()  # compile, load caches, warm BLAS
print(json.dumps(sorted(fit() for _ in range(fits))))
"""

CONTENDERS = ("fastmlp.sklearn", "sklearn")


def measure(impl: str, epochs: int, fits: int) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", FIT, impl, str(epochs), str(fits)], capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def at_load(busy: int, args: argparse.Namespace) -> dict[str, list[float]]:
    """Every contender's fit times with ``busy`` spin loops running."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        times: dict[str, list[float]] = {impl: [] for impl in CONTENDERS}
        for _ in range(args.rounds):
            for impl in CONTENDERS:
                times[impl] += measure(impl, args.epochs, args.fits)
        return times
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1, 3], help="busy processes per load level")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the contenders")
    parser.add_argument("--fits", type=int, default=5, help="timed fits per process")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    print(f"| busy processes | {' | '.join(f'{c} min / median ms' for c in CONTENDERS)} | scikit-learn / fastmlp |")
    print("|---|" + "---|" * (len(CONTENDERS) + 1))
    for busy in args.busy:
        times = at_load(busy, args)
        cells = []
        for impl in CONTENDERS:
            ordered = sorted(times[impl])
            cells.append(f"{ordered[0] * 1e3:.0f} / {ordered[len(ordered) // 2] * 1e3:.0f}")
        medians = {impl: sorted(t)[len(t) // 2] for impl, t in times.items()}
        ratio = medians["sklearn"] / medians["fastmlp.sklearn"]
        print(f"| {busy} | {' | '.join(cells)} | {ratio:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
