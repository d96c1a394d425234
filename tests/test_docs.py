"""Every code block of README.md and CONTRIBUTING.md runs here, so the documents cannot drift.

- ``python`` blocks run in order, in one namespace (as a reader follows the page), in an empty
  directory holding a small fake CIFAR-10 (the CS231n example's data). A line ``expression  #
  value`` states a result: the expression is evaluated and must equal the value, numbers to the
  digits stated (``# 0.87`` means within 0.01). A comment that is not a Python literal (``# e.g.
  ...``) states nothing.
- ``bash`` blocks: every ``fastmlp`` command parses with the real command-line parser, every file a
  command names exists, and every ``pip install`` line is one ``.ci/run`` runs.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from fastmlp.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "CONTRIBUTING.md")


def code_blocks(name: str) -> list[tuple[str, int, str]]:
    """(language, first line number, text) of every fenced block of a document."""
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
        if line.startswith("```"):
            if language is None:
                language, start, lines = line[3:].strip() or "text", number + 1, []
            else:
                blocks.append((language, start, "\n".join(lines)))
                language = None
        elif language is not None:
            lines.append(line)
    assert language is None, f"{name}: a code block opened at line {start - 1} is never closed"
    return blocks


def stated_value(source_line: str):
    """The literal a line's trailing comment states (``x  # 0.929``), or None."""
    code, sep, comment = source_line.partition("  # ")
    if not sep or not code.strip():
        return None
    try:
        return ast.literal_eval(comment.split(" (")[0].strip())
    except (ValueError, SyntaxError):
        return None


def _digits(text: str) -> float:
    """One unit of the last digit a number is written with: '0.929' → 0.001."""
    return 10.0 ** -len(text.split(".")[1]) if "." in text else 1.0


def assert_states(got, want, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: {got!r} is not {want!r}"
        for key in want:
            assert_states(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, float):
        unit = _digits(repr(want))  # repr is the shortest form: "0.87" as written (a trailing 0 is lost)
        assert abs(float(got) - want) <= unit + 1e-12, f"{where}: the document says {want}, the code gives {got}"
    else:
        assert got == want, f"{where}: the document says {want!r}, the code gives {got!r}"


def run_python_block(text: str, namespace: dict, where: str) -> int:
    """Execute a block statement by statement, checking each stated value. Returns how many."""
    lines = text.splitlines()
    checked = 0
    for statement in ast.parse(text).body:
        source = "\n".join(lines[statement.lineno - 1 : statement.end_lineno])
        line = lines[statement.end_lineno - 1]
        want = stated_value(line) if isinstance(statement, ast.Expr) else None
        code = compile(ast.Module([statement], []), f"{where}+{statement.lineno - 1}", "exec")
        if want is None:
            exec(code, namespace)
            continue
        got = eval(compile(ast.Expression(statement.value), where, "eval"), namespace)
        assert_states(got, want, f"{where}+{statement.lineno - 1}: {source.strip()}")
        checked += 1
    return checked


def write_fake_cifar(folder: Path, per_file: int = 240, seed: int = 0) -> None:
    """CIFAR-10's binary layout (1 label byte + 3072 pixel bytes per record), random content."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for i, name in enumerate(names):
        records = rng.integers(0, 256, (per_file if i < 5 else 1000, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        records.tofile(folder / name)


def test_the_readme_python_blocks_run_in_order_and_give_the_values_they_state(tmp_path, monkeypatch):
    pytest.importorskip("thinc")
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    write_fake_cifar(tmp_path / "cs231n" / "datasets" / "cifar-10-batches-bin")
    namespace: dict = {"__name__": "__readme__"}
    blocks = [(start, text) for language, start, text in code_blocks("README.md") if language == "python"]
    assert len(blocks) >= 5
    checked = sum(run_python_block(text, namespace, f"README.md:{start}") for start, text in blocks)
    # the digits MLP's evaluation, the CS231n solver's history, the thinc model's ops and accuracy
    assert checked >= 4
    assert (tmp_path / "digits.npz").is_file()


def _commands(text: str):
    """Each shell command of a block: comments dropped, ``&&`` split, leading VAR=value removed."""
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("  #")[0].split(" # ")[0].strip()
        if not line or line.startswith("#"):
            continue
        for command in line.split("&&"):
            words = shlex.split(command)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                words = words[1:]
            if words:
                yield command.strip(), words


def _named_files(words: list[str]) -> list[str]:
    return [w for w in words if not w.startswith("-") and ("/" in w or w.endswith(".py")) and "=" not in w]


@pytest.mark.parametrize("name", DOCS)
def test_every_shell_command_in_the_documents_parses_and_names_files_that_exist(name):
    ci = (ROOT / ".ci" / "run").read_text()
    seen = 0
    for language, start, text in code_blocks(name):
        if language != "bash":
            continue
        for command, words in _commands(text):
            where = f"{name}:{start}: {command}"
            seen += 1
            if words[0] in ("mpiexec", "mpirun"):  # mpiexec -n N COMMAND: check the COMMAND
                words = words[3:] if words[1:2] in (["-n"], ["-np"]) else words[1:]
            if words[0] == "fastmlp":
                try:
                    build_parser().parse_args(words[1:])
                except SystemExit as exc:
                    pytest.fail(f"{where}: the fastmlp parser refuses it (exit {exc.code})")
            elif words[0] == "pip":
                assert command in ci, f"{where}: .ci/run never runs this install"
            elif words[0] in ("python", "bash"):  # python -m pytest PATHS, python SCRIPT, bash SCRIPT
                for path in _named_files(words[1:]):
                    assert (ROOT / path.split("::")[0]).exists(), f"{where}: {path} does not exist"
            else:
                pytest.fail(f"{where}: a command this test does not know how to check")
    assert seen >= 3


def test_the_readme_performance_tables_are_the_kept_bench_run():
    """The README's tables are ``fastmlp bench``'s, made from docs/bench/bench.json, not typed."""
    from fastmlp.benchmarks import report

    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- fastmlp bench tables: begin -->\n", "\n<!-- fastmlp bench tables: end -->"
    shown = readme[readme.index(begin) + len(begin) : readme.index(end)]
    kept = report.load(str(ROOT / "docs" / "bench" / "bench.json"))
    assert shown == report.markdown(report.medians(kept))
    for heading in ("Fused ops", "training step", "Thread scaling", "Whitening fit", "Small nets"):
        assert f"#### {heading}" in shown or heading in shown


def test_the_stated_value_parser():
    assert stated_value("net.evaluate(X)  # {'loss': 0.263, 'accuracy': 0.929} (numba, this seed)") == {
        "loss": 0.263,
        "accuracy": 0.929,
    }
    assert stated_value("fastmlp.backends.available()  # e.g. ['numpy', 'numba']") is None
    assert stated_value("x = 1  # 3") == 3  # an assignment: run_python_block only checks expressions
    assert stated_value("# 0.5") is None
    assert_states(0.8702, 0.87, "w")
    with pytest.raises(AssertionError, match="the document says 0.87"):
        assert_states(0.8899, 0.87, "w")
    with pytest.raises(AssertionError, match="the document says 0.929"):
        assert_states({"accuracy": 0.9271}, {"accuracy": 0.929}, "w")
