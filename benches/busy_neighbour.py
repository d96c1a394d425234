"""The digits fit, fastmlp.sklearn against scikit-learn and a PyTorch CPU loop, idle and beside busy processes.

    python benches/busy_neighbour.py                 # loads 0, 1 and 3 busy processes
    python benches/busy_neighbour.py --busy 1 --rounds 3 --epochs 60

Each contender fits in its own process (BENCH.md); the contenders alternate, ``--rounds`` times,
and each reports its minimum and median of ``--fits`` fits. The busy neighbours are plain Python
spin loops, started before and stopped after each load level (also on Ctrl-C or an error).
Settings: digits (80 % train, 20 % test: the accuracy column), hidden (256, 128), Adam 1e-3,
batch 64, float32 (scikit-learn computes in the input's dtype), tol 0 so every epoch runs; the
PyTorch loop trains the same net (scikit-learn's L2 alpha as Adam weight decay, its default threads).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys

import numpy as np

FIT = """
import json, sys, time, warnings
import numpy as np
from fastmlp import datasets
warnings.simplefilter("ignore")
impl, epochs, fits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
X, y = datasets.load_digits()
X_train, y_train, X_test, y_test = datasets.train_test_split(X.astype(np.float32), y, 0.2, seed=0)
settings = dict(hidden_layer_sizes=(256, 128), batch_size=64, max_iter=epochs, tol=0, n_iter_no_change=10**6,
                random_state=0)

if impl == "torch":
    import torch

    torch.manual_seed(0)
    Xt, yt, Xs = torch.from_numpy(X_train), torch.from_numpy(y_train.astype(np.int64)), torch.from_numpy(X_test)

    def train():
        net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                  torch.nn.ReLU(), torch.nn.Linear(128, 10))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4 / 64)  # scikit-learn's alpha
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(epochs):
            order = torch.randperm(Xt.shape[0])
            for i in range(0, Xt.shape[0], 64):
                idx = order[i : i + 64]
                opt.zero_grad()
                loss_fn(net(Xt[idx]), yt[idx]).backward()
                opt.step()
        return lambda A: net(torch.from_numpy(A)).argmax(1).numpy()
else:
    if impl == "fastmlp.sklearn":
        from fastmlp.sklearn import MLPClassifier
        settings["dtype"] = "float32"  # as the data; scikit-learn keeps float32 input in float32 too
    else:
        from sklearn.neural_network import MLPClassifier

    def train():
        return MLPClassifier(**settings).fit(X_train, y_train).predict

def fit():
    start = time.perf_counter()
    predict = train()
    seconds = time.perf_counter() - start
    return seconds, float(np.mean(predict(X_test) == y_test))

fit()  # compile, load caches, warm BLAS
print(json.dumps([fit() for _ in range(fits)]))
"""

CONTENDERS = ("fastmlp.sklearn", "sklearn", "torch")


def measure(impl: str, epochs: int, fits: int) -> list[tuple[float, float]]:
    """(seconds, test accuracy) of each of ``fits`` fits, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", FIT, impl, str(epochs), str(fits)], capture_output=True, text=True, check=True
    )
    return [tuple(pair) for pair in json.loads(out.stdout.strip().splitlines()[-1])]


def at_load(busy: int, args: argparse.Namespace, contenders: list[str]) -> dict[str, list[tuple[float, float]]]:
    """Every contender's (fit time, test accuracy) pairs with ``busy`` spin loops running."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        times: dict[str, list[tuple[float, float]]] = {impl: [] for impl in contenders}
        for _ in range(args.rounds):
            for impl in contenders:
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
    contenders = [c for c in CONTENDERS if c != "torch" or _has_torch()]
    heads = " | ".join(f"{c} min / median ms (test acc)" for c in contenders)
    ratios = " | ".join(f"{c} / fastmlp" for c in contenders[1:])
    print(f"| busy processes | {heads} | {ratios} |")
    print("|---|" + "---|" * (2 * len(contenders) - 1))
    for busy in args.busy:
        runs = at_load(busy, args, contenders)
        cells, medians = [], {}
        for impl in contenders:
            seconds = sorted(t for t, _ in runs[impl])
            accuracy = np.median([a for _, a in runs[impl]])
            medians[impl] = seconds[len(seconds) // 2]
            cells.append(f"{seconds[0] * 1e3:.0f} / {medians[impl] * 1e3:.0f} ({accuracy:.3f})")
        factors = [f"{medians[c] / medians['fastmlp.sklearn']:.2f}×" for c in contenders[1:]]
        print(f"| {busy} | {' | '.join(cells)} | {' | '.join(factors)} |", flush=True)


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


if __name__ == "__main__":
    main()
