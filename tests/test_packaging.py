"""A regular (non-editable) install must contain every module: setup.py's package map is checked by
building the pure-Python part (``setup.py build_py``, no compiler) and comparing it with the tree.

An editable install imports from the source tree, so a package missing from setup.py (it happened:
fastmlp.layers and fastmlp.cli) passes every other test and breaks ``pip install . && fastmlp train``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sources(root: Path, prefix: Path) -> set[Path]:
    """Every .py file of the packages under ``root``, as its path inside the installed tree."""
    return {
        prefix / path.relative_to(root)
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts and (path.parent / "__init__.py").is_file()
    }


def test_a_regular_build_contains_every_module_and_the_bundled_data(tmp_path):
    lib = tmp_path / "lib"
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    want = _sources(ROOT / "fastmlp", Path("fastmlp")) | _sources(ROOT / "kernels", Path("fastmlp/kernels"))
    got = {path.relative_to(lib) for path in lib.rglob("*.py")}
    assert want <= got, f"missing from a regular install: {sorted(map(str, want - got))}"
    for package in ("fastmlp/layers", "fastmlp/cli", "fastmlp/ops", "fastmlp/kernels/numba_cpu"):
        assert (lib / package / "__init__.py").is_file(), package
    assert (lib / "fastmlp/data/digits.npz").is_file()
