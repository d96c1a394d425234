"""scikit-learn's own MLP tests, run on fastmlp.sklearn: the copy of
``sklearn/neural_network/tests/test_mlp.py`` that ships with the installed scikit-learn, with only
its import line changed. Every test must pass except those listed below (README, "scikit-learn
drop-in"), each with its reason."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

SUITE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

# test → why it cannot pass on fastmlp's estimators
EXPECTED_FAILURES = {
    "test_fit": "sets private state (_coef_velocity, _no_improvement_count, ...) and coefs_ before partial_fit",
    "test_gradient": "calls the private _loss_grad_lbfgs (fastmlp's objective is tested against it instead)",
    "test_learning_rate_warmstart": "reads the private _optimizer.learning_rate",
    "test_adaptive_learning_rate": "reads the private _optimizer.learning_rate",
}

# the fixture scikit-learn's conftest gives its tests (its default seed)
CONFTEST = """
import pytest


@pytest.fixture
def global_random_seed():
    return 42
"""


@pytest.mark.skipif(not SUITE.exists(), reason=f"scikit-learn's test_mlp.py is not installed ({SUITE})")
def test_scikit_learns_mlp_suite_passes_on_fastmlp(tmp_path):
    source = SUITE.read_text()
    assert IMPORT in source, "scikit-learn's test file no longer imports the estimators in one line"
    (tmp_path / "test_mlp_fastmlp.py").write_text(
        source.replace(IMPORT, "from fastmlp.sklearn import MLPClassifier, MLPRegressor")
    )
    (tmp_path / "conftest.py").write_text(CONFTEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "-o", "addopts=",
         "-W", "ignore", "test_mlp_fastmlp.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    failed = set(re.findall(r"^(?:FAILED|ERROR) test_mlp_fastmlp\.py::(\S+)", result.stdout, re.MULTILINE))
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 50, result.stdout[-3000:]
    assert failed <= set(EXPECTED_FAILURES), (sorted(failed - set(EXPECTED_FAILURES)), result.stdout[-5000:])
