"""Mutation testing of the compiled kernels: plant typical kernel bugs one at a time in a scratch
copy of the repository and check that the tests catch each one.

    python tests/mutation/plant_bugs.py                 # every mutant (~25 min on 2 cores)
    python tests/mutation/plant_bugs.py -k softmax      # mutants whose name contains "softmax"
    python tests/mutation/plant_bugs.py --list          # the mutants, without running anything

The mutants are in ``mutants.py``. For each one the copy gets the change, the Cython modules it
touches are rebuilt, and the tests that guard the kernels run on its backend (``TESTS``, ``-k
<backend>``, stopping at the first failure). A mutant is *killed* when a test fails, *survives*
when every test passes, and is *broken* when the copy no longer builds or imports (which says
nothing about the tests). The working tree is never touched: the copy lives in a temporary folder,
with ``fastmlp/kernels`` linked to its ``kernels/`` as the installed package has it.

Numba's on-disk cache of the copy is restored after each mutant and the source file gets back its
original modification time, so only the mutated module is ever recompiled.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mutants import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[2]
TESTS = ("tests/test_chunked.py", "tests/test_parity.py")
TEST_TIMEOUT_S = 1200
BUILD_TIMEOUT_S = 900


def _files_to_copy() -> list[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    built = [str(p.relative_to(ROOT)) for p in (ROOT / "kernels" / "cython").glob("*.so")]
    generated = [str(p.relative_to(ROOT)) for p in (ROOT / "kernels" / "cython").glob("*.c")]
    return [f for f in tracked if (ROOT / f).is_file()] + built + generated


def make_copy(dest: Path) -> None:
    """The tracked files plus the built extensions (and their C sources, so nothing rebuilds)."""
    for rel in _files_to_copy():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    (dest / "fastmlp" / "kernels").symlink_to(Path("..") / "kernels")


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    env.pop("FASTMLP_BACKEND", None)
    return env


def run_tests(copy: Path, backend: str) -> tuple[str, str]:
    """('killed' | 'survived' | 'broken', the tail of the output)."""
    cmd = [sys.executable, "-m", "pytest", *TESTS, "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    cmd += ["-k", backend]
    try:
        proc = subprocess.run(cmd, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=TEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "killed", "timed out (a hang counts as caught: the suite does not pass)"
    tail = (proc.stdout + proc.stderr)[-3000:]
    if proc.returncode == 0:
        return "survived", tail
    if proc.returncode == 1:  # tests ran and some failed
        return "killed", tail
    return "broken", tail  # collection or import errors, interrupted runs


def rebuild(copy: Path, modules: tuple[str, ...]) -> tuple[bool, str]:
    env = dict(_env(copy), FASTMLP_CYTHON_MODULES=",".join(modules))
    cmd = [sys.executable, "setup.py", "-q", "build_ext", "--inplace"]
    proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    failed = proc.returncode != 0 or "WARNING: building" in proc.stderr
    return not failed, proc.stderr[-3000:]


def _replace(text: str, mutant: Mutant) -> str:
    count = text.count(mutant.old)
    if mutant.nth is None:
        if count != 1:
            raise ValueError(f"{mutant.name}: the snippet occurs {count} times in {mutant.path}, not once")
        return text.replace(mutant.old, mutant.new)
    if count <= mutant.nth:
        raise ValueError(f"{mutant.name}: fewer than {mutant.nth + 1} occurrences in {mutant.path}")
    at = -1
    for _ in range(mutant.nth + 1):
        at = text.index(mutant.old, at + 1)
    return text[:at] + mutant.new + text[at + len(mutant.old) :]


def _modules(mutant: Mutant) -> tuple[str, ...]:
    return mutant.rebuild or (Path(mutant.path).stem,)


def run_mutant(copy: Path, mutant: Mutant) -> dict:
    source = copy / mutant.path
    original = source.read_text()
    stat = source.stat()
    snapshot = copy.parent / "snapshot"
    kernel_dir = copy / ("kernels/cython" if mutant.backend == "cython" else "kernels/numba_cpu")
    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(kernel_dir, snapshot, symlinks=True)
    started = time.perf_counter()
    try:
        source.write_text(_replace(original, mutant))
        outcome, tail = "", ""
        if mutant.backend == "cython":
            ok, tail = rebuild(copy, _modules(mutant))
            if not ok:
                outcome = "broken"
        if not outcome:
            outcome, tail = run_tests(copy, mutant.backend)
    finally:
        shutil.rmtree(kernel_dir)
        shutil.copytree(snapshot, kernel_dir, symlinks=True)
        source.write_text(original)
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return {
        "name": mutant.name,
        "backend": mutant.backend,
        "outcome": outcome,
        "seconds": time.perf_counter() - started,
        "tail": tail if outcome != "killed" else tail[-600:],
    }


def check_snippets(selected: list[Mutant]) -> None:
    for mutant in selected:
        _replace((ROOT / mutant.path).read_text(), mutant)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="run only mutants whose name contains this text")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    selected = [m for m in MUTANTS if args.k.lower() in m.name.lower()]
    check_snippets(selected)
    if args.list:
        for m in selected:
            print(f"{m.backend:7} {m.name}")
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="fastmlp-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        make_copy(copy)
        where = subprocess.run(
            [sys.executable, "-c", "import fastmlp.kernels.numba_cpu as m; print(m.__file__)"],
            cwd=copy,
            env=_env(copy),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert where.startswith(str(copy)), f"the copy imports fastmlp from {where}, not from itself"
        for backend in sorted({m.backend for m in selected}):
            outcome, tail = run_tests(copy, backend)  # also fills the copy's Numba cache
            if outcome != "survived":
                print(f"the unmutated copy does not pass its {backend} tests:\n{tail}", file=sys.stderr)
                return 2
        for i, mutant in enumerate(selected, 1):
            result = run_mutant(copy, mutant)
            results.append(result)
            print(f"[{i}/{len(selected)}] {result['outcome']:8} {result['seconds']:5.0f} s  {mutant.name}", flush=True)
            if result["outcome"] != "killed":
                print(result["tail"], flush=True)
    killed = sum(r["outcome"] == "killed" for r in results)
    valid = sum(r["outcome"] != "broken" for r in results)
    print(
        f"\nkilled {killed} of {valid} mutants ({100.0 * killed / max(valid, 1):.0f} %); "
        f"{len(results) - valid} broken (did not build)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if killed == valid else 1


if __name__ == "__main__":
    sys.exit(main())
