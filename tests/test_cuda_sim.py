"""The ``cuda`` backend's parity tests, run under Numba's CUDA simulator in a fresh process.

``NUMBA_ENABLE_CUDASIM=1`` only takes effect if it is set before ``numba.cuda`` is first
imported, so the checks live in ``tests/cuda_sim_cases.py`` and run in one subprocess here. CI
installs numba-cuda (the ``test`` extra): without it this test fails rather than skips, so a CI
that silently lost its CUDA checks cannot pass.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CASES_MODULE = HERE / "cuda_sim_cases.py"
TIMEOUT_S = 900  # measured ~1-2 min on the 2-core dev machine; the margin is for slow CI runners


@pytest.mark.slow
def test_cuda_kernels_under_the_simulator():
    assert importlib.util.find_spec("numba_cuda") is not None, (
        "numba-cuda is not installed, so the cuda backend cannot be tested: "
        "pip install numba-cuda (it is in the 'test' extra)"
    )
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", FASTMLP_CUDA_TEST="1", PYTHONUNBUFFERED="1")
    env.pop("FASTMLP_BACKEND", None)  # device arrays pick cuda themselves; no default to inherit
    cmd = [sys.executable, "-m", "pytest", str(CASES_MODULE), "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    proc = subprocess.run(cmd, cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"simulator run failed (exit {proc.returncode}):\n{output[-20000:]}"
    assert " passed" in output and "skipped" not in output.splitlines()[-1], output[-5000:]
