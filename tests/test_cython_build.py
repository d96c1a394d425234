"""The cython backend is optional: a failed build still installs, missing extensions are reported,
a compiler without OpenMP gives serial kernels, and both SIMD copies of the C loops agree.

Builds run ``setup.py build_ext`` into a temporary directory in a subprocess (the source tree's own
extensions are left alone); imports that must not see the built extensions run in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fastmlp import backends

ROOT = Path(__file__).resolve().parents[1]
EXTENSIONS = ("activations", "dense", "dropout", "losses", "optim", "rng", "whiten")
needs_cython = pytest.mark.skipif(
    not backends.is_available("cython"), reason=f"cython backend not built: {backends.unavailable_reason('cython')}"
)


def build_ext(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python setup.py build_ext`` into tmp_path (build-lib and build-temp), with env overrides."""
    cmd = [
        sys.executable,
        "setup.py",
        "-q",
        "build_ext",
        "--force",
        "--build-lib",
        str(tmp_path / "lib"),
        "--build-temp",
        str(tmp_path / "tmp"),
    ]
    return subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def run_python(code: str, env: dict[str, str] | None = None) -> dict:
    """Run code in a fresh interpreter; its last output line is a JSON object."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform == "win32", reason="CC=false is a POSIX idiom")
def test_a_failing_compiler_still_builds_and_warns(tmp_path):
    """CC=false: every extension fails to compile, the build says so and still exits 0."""
    proc = build_ext(tmp_path, {"CC": "false", "LDSHARED": "false -shared"})
    assert proc.returncode == 0, proc.stderr
    for name in EXTENSIONS:
        assert f"WARNING: building fastmlp.kernels.cython.{name} failed" in proc.stderr
    assert "fastmlp installs without it" in proc.stderr
    assert not list(tmp_path.rglob("*.so")) and not list(tmp_path.rglob("*.pyd"))


def test_missing_extensions_make_the_backend_unavailable_with_a_reason():
    """With the compiled modules unimportable, fastmlp imports, cython reports why, ops still run."""
    result = run_python(f"""
        import importlib.abc, json, sys

        class HideExtensions(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.rpartition(".")[0] == "fastmlp.kernels.cython" and name.rpartition(".")[2] in {EXTENSIONS!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)")
                return None

        sys.meta_path.insert(0, HideExtensions())
        import numpy as np
        import fastmlp
        from fastmlp import backends, ops
        try:
            ops.relu_forward(np.ones((1, 1)), backend="cython")
            raised = ""
        except backends.BackendUnavailableError as exc:
            raised = str(exc)
        print(json.dumps({{
            "available": backends.available(),
            "reason": backends.unavailable_reason("cython"),
            "relu": ops.relu_forward(np.array([[-1.0, 2.0]])).tolist(),
            "raised": raised,
        }}))
    """)
    assert "cython" not in result["available"]
    assert result["reason"].startswith("the compiled extension is not built")
    assert all(name in result["reason"] for name in EXTENSIONS)
    assert result["relu"] == [[0.0, 2.0]]
    assert "not available" in result["raised"] and "not built" in result["raised"]


def _compiler_without_openmp(tmp_path: Path) -> str | None:
    """A cc wrapper that refuses -fopenmp (a toolchain without OpenMP), or None if there is no cc."""
    real = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0])
    if real is None:
        return None
    wrapper = tmp_path / "cc-no-openmp"
    wrapper.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        for a in "$@"; do
            if [ "$a" = "-fopenmp" ]; then echo "cc-no-openmp: OpenMP unsupported" >&2; exit 1; fi
        done
        exec {real} "$@"
    """)
    )
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell wrapper")
def test_a_compiler_without_openmp_builds_serial_kernels(tmp_path):
    """No OpenMP: setup.py drops the flag, the module builds, its masks are still the reference's."""
    cc = _compiler_without_openmp(tmp_path)
    if cc is None:
        pytest.skip("no C compiler")
    proc = build_ext(tmp_path, {"CC": cc, "LDSHARED": f"{cc} -shared", "FASTMLP_CYTHON_MODULES": "rng"})
    assert proc.returncode == 0, proc.stderr
    assert "cannot build OpenMP code" in proc.stderr
    built = list((tmp_path / "lib").rglob("rng*.so"))
    if not built:
        pytest.skip(f"the C compiler could not build the extension here: {proc.stderr[-500:]}")
    result = run_python(f"""
        import importlib.util, json
        import numpy as np
        from fastmlp.kernels import reference as ref
        spec = importlib.util.spec_from_file_location("fastmlp.kernels.cython.rng", {str(built[0])!r})
        rng = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(rng)
        got = rng.random_bits((300, 301), 12345, 7)  # large enough for the parallel path
        print(json.dumps({{"openmp": rng._openmp_threads()[0],
                           "same": bool(np.array_equal(got, ref.random_bits((300, 301), 12345, 7)))}}))
    """)
    assert result == {"openmp": False, "same": True}


@needs_cython
def test_openmp_threads_follow_set_num_threads():
    """prange loops take their team size from the calling thread's OpenMP limit, which
    fastmlp.set_num_threads sets (through threadpoolctl)."""
    import fastmlp
    from fastmlp.kernels.cython import rng

    if not rng._openmp_threads()[0]:
        pytest.skip("built without OpenMP")
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        assert rng._openmp_threads() == (True, 1)
        want = rng.random_bits((512, 513), 99, 1)
        try:
            fastmlp.set_num_threads(2)
        except ValueError:  # a one-core machine (NUMBA_NUM_THREADS = 1)
            return
        assert rng._openmp_threads() == (True, 2)
        np.testing.assert_array_equal(rng.random_bits((512, 513), 99, 1), want)  # any thread count: same bits
    finally:
        fastmlp.set_num_threads(before)


SIMD_PROBE = """
    import json
    import numpy as np
    from fastmlp.cases import BY_NAME, inputs
    from fastmlp.kernels import cython as cy

    out = {}
    for name in ("random_bits", "dropout_forward", "leaky_relu_backward", "prelu_backward", "svm_loss[squared]",
                 "adam_update", "rmsprop_update", "momentum_update[nesterov]", "softmax_cross_entropy",
                 "dense_forward[sigmoid,p=0.6]", "dense_forward[tanh,p=0.6]", "elu_backward", "mish_forward",
                 "softplus_backward", "dense_forward[silu,p=0.6]", "dense_backward[elu,p=0.6]"):
        case = BY_NAME[name]
        for dtype in ("float32", "float64"):
            args, kwargs = inputs(case, 37, 300, dtype)
            got = getattr(cy, case.op)(*args, **kwargs)
            if got is None:  # an update: the arrays it changed in place
                arrays = [args[i] for i in case.inplace]
            else:  # a loss's gradient, both PReLU gradients, or the one output
                arrays = [got[1]] if isinstance(got[0], float) else list(got) if isinstance(got, tuple) else [got]
            out[f"{name}-{dtype}"] = [np.asarray(a).tolist() for a in arrays]
    print(json.dumps(out))
"""
# ops whose AVX2 copies may contract a*b+c into FMA (_simd.h, FM_MULTIVERSION_FMA): an ulp apart
# (the activation table's rows among them: _activations.h)
EXP_BASED = (
    "softmax_cross_entropy",
    "dense_forward[sigmoid",
    "dense_forward[tanh",
    "elu_",
    "mish_",
    "softplus_",
    "dense_forward[silu",
    "dense_backward[elu",
)


@needs_cython
def test_avx2_and_baseline_copies_agree():
    """The C loops are compiled twice (AVX2 and the x86-64 baseline); FASTMLP_CYTHON_NO_AVX2 forces
    the baseline. Copies without FMA do the same IEEE operations in the same order: bit-identical
    outputs. The exp loops' AVX2 copies use FMA: within an ulp or two."""
    default = run_python(SIMD_PROBE)
    baseline = run_python(SIMD_PROBE, {"FASTMLP_CYTHON_NO_AVX2": "1"})
    assert default.keys() == baseline.keys()
    for key in default:
        if key.startswith(EXP_BASED):
            rtol = 1e-6 if key.endswith("float32") else 1e-14
            for got, want in zip(default[key], baseline[key]):
                np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3, err_msg=key)
        else:
            assert default[key] == baseline[key], key  # JSON floats round-trip exactly
