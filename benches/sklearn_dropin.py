"""fastmlp.sklearn against scikit-learn's MLP with the same parameters: time to fit and test score.

    python benches/sklearn_dropin.py                     # every case, 2 alternations
    python benches/sklearn_dropin.py --cases digits-lbfgs sparse-adam --rounds 1

Cases (80 % train, 20 % test; scikit-learn's defaults unless said; random_state=0; float64 as the
data, for both):
  digits-adam, digits-lbfgs    load_digits / 16, MLPClassifier(hidden_layer_sizes=(100,)), max_iter 200
  regression-adam              make_regression(20000, 100, noise=10), y standardised, MLPRegressor,
                               max_iter 30 (scikit-learn's default of 200 would take minutes a fit)
  regression-lbfgs             the same data, solver="lbfgs", max_iter 100
  sparse-adam                  a 100000 × 20000 CSR matrix, 0.1 % stored (20 per row), labels of a
                               sparse linear rule, MLPClassifier(hidden_layer_sizes=(64,)), max_iter 3

Each fit runs in its own process (BENCH.md: thread pools of one contender would spin against the
other's); the contenders alternate ``--rounds`` times after one warm-up fit each (Numba caches,
BLAS). The score is accuracy (classifiers) or R² (the regressor) on the test rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

FIT = """
import json, sys, time, warnings
import numpy as np
import scipy.sparse
warnings.simplefilter("ignore")
impl, case = sys.argv[1], sys.argv[2]
data, solver = case.rsplit("-", 1)
if impl == "fastmlp":
    from fastmlp.sklearn import MLPClassifier, MLPRegressor
else:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

rng = np.random.default_rng(0)
if data == "digits":
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    make = lambda: MLPClassifier(hidden_layer_sizes=(100,), solver=solver, max_iter=200, random_state=0)
elif data == "regression":
    from sklearn.datasets import make_regression
    X, y = make_regression(n_samples=20000, n_features=100, noise=10.0, random_state=0)
    y = (y - y.mean()) / y.std()
    iters = 30 if solver == "adam" else 100
    make = lambda: MLPRegressor(hidden_layer_sizes=(100,), solver=solver, max_iter=iters, random_state=0)
else:
    # 20 stored values per row at random columns (scipy.sparse.random would draw its positions
    # from all 2e9 cells, a 16 GB permutation)
    cols = rng.integers(0, 20000, size=(100000, 20))
    X = scipy.sparse.csr_matrix((rng.random(2000000), cols.ravel(), np.arange(0, 2000001, 20)), shape=(100000, 20000))
    X.sum_duplicates()
    rule = rng.standard_normal(20000)
    score = X @ rule
    y = (score > np.median(score)).astype(int)
    make = lambda: MLPClassifier(hidden_layer_sizes=(64,), solver=solver, max_iter=3, random_state=0)
order = rng.permutation(X.shape[0])
cut = int(0.8 * X.shape[0])
train, test = order[:cut], order[cut:]

def fit():
    est = make()
    start = time.perf_counter()
    est.fit(X[train], y[train])
    seconds = time.perf_counter() - start
    return seconds, float(est.score(X[test], y[test]))

if data != "sparse":
    fit()  # warm-up: Numba caches, BLAS
print(json.dumps(fit()))
"""

CASES = ("digits-adam", "digits-lbfgs", "regression-adam", "regression-lbfgs", "sparse-adam")
CONTENDERS = ("fastmlp", "sklearn")


def measure(impl: str, case: str) -> tuple[float, float]:
    """(seconds, test score) of one fit in a fresh process."""
    out = subprocess.run([sys.executable, "-c", FIT, impl, case], capture_output=True, text=True, check=True)
    seconds, score = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two contenders")
    args = parser.parse_args()
    print("| case | fastmlp.sklearn s (score) | scikit-learn s (score) | scikit-learn / fastmlp |")
    print("|---|---|---|---|")
    for case in args.cases:
        runs: dict[str, list[tuple[float, float]]] = {impl: [] for impl in CONTENDERS}
        for _ in range(args.rounds):
            for impl in CONTENDERS:
                runs[impl].append(measure(impl, case))
        cells, medians = [], {}
        for impl in CONTENDERS:
            seconds = sorted(t for t, _ in runs[impl])
            medians[impl] = seconds[len(seconds) // 2]
            span = f"{seconds[0]:.2f}–{seconds[-1]:.2f}" if len(seconds) > 1 else f"{seconds[0]:.2f}"
            cells.append(f"{span} ({runs[impl][-1][1]:.3f})")
        print(f"| {case} | {' | '.join(cells)} | {medians['sklearn'] / medians['fastmlp']:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
