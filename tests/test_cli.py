"""The ``fastmlp`` command."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastmlp import __version__, backends
from fastmlp.cli import main


def test_info_json_is_the_last_line(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["version"] == __version__
    assert data["n_ops"] == len(backends.ops())
    want = {"available": True, "reason": "", "native_ops": len(backends.ops()), "fallback_ops": []}
    assert data["backends"]["numpy"] == want
    for name, entry in data["backends"].items():
        assert entry["available"] == backends.is_available(name)
        if not entry["available"]:
            assert entry["reason"], f"{name} is unavailable without a reason"
    assert data["threads"] >= 1
    assert any(lib["internal_api"] for lib in data["blas"])


def test_info_text_lists_every_backend(capsys):
    main(["info"])
    out = capsys.readouterr().out
    assert f"fastmlp {__version__}" in out
    for name in backends.registry():
        assert f"  {name}" in out


def test_unknown_command_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


def _console_script():
    exe = shutil.which("fastmlp") or shutil.which("fastmlp", path=str(Path(sys.executable).parent))
    assert exe, "the fastmlp console script is not on PATH"
    return exe


def test_console_script_is_installed():
    out = subprocess.run([_console_script(), "info", "--json"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1])["version"] == __version__


def _last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def test_train_default_job_reaches_the_promised_accuracy(capsys):
    """The README's main job: `fastmlp train` on the bundled digits, defaults only."""
    assert main(["train", "--json", "--quiet"]) == 0
    summary = _last_json(capsys.readouterr().out)
    assert summary["test_accuracy"] >= 0.95
    assert summary["train_accuracy"] >= summary["test_accuracy"] - 0.05
    assert summary["epochs"] == 30 and summary["seconds"] > 0
    assert 0.0 <= summary["dead_relu_fraction"] <= 1.0
    assert set(summary) >= {"test_accuracy", "train_accuracy", "epochs", "backend", "seconds", "dead_relu_fraction"}


def test_train_options_save_and_plot(tmp_path, capsys):
    model_path, png = tmp_path / "m.npz", tmp_path / "curves.png"
    args = [
        "train",
        "--hidden",
        "32",
        "--activation",
        "tanh",
        "--keep-prob",
        "0.9",
        "--batchnorm",
        "--optimizer",
        "nesterov",
        "--lr",
        "0.05",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--backend",
        "numpy",
        "--seed",
        "3",
        "--save",
        str(model_path),
        "--plot",
        str(png),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "model saved" in out
    from fastmlp import datasets, load

    X, _ = datasets.load_digits()
    assert load(model_path).predict(X[:5]).shape == (5,)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_train_on_user_csv_and_npz(tmp_path, capsys):
    import numpy as np

    from fastmlp.datasets import make_spiral

    X, y = make_spiral(60, 3, seed=1)
    csv = tmp_path / "spiral.csv"
    np.savetxt(csv, np.column_stack([X, y + 5]), delimiter=",", header="x1,x2,label", comments="")
    assert (
        main(["train", "--data", str(csv), "--hidden", "64", "--epochs", "60", "--lr", "0.01", "--json", "--quiet"])
        == 0
    )
    assert _last_json(capsys.readouterr().out)["test_accuracy"] >= 0.8  # labels 5..7 are remapped to 0..2
    npz = tmp_path / "spiral.npz"
    np.savez(npz, X=X, y=y)
    assert main(["train", "--data", str(npz), "--epochs", "2", "--json", "--quiet"]) == 0


@pytest.mark.parametrize(
    "content,message",
    [("not,numbers\nat,all\n", "'at' is not a number"), ("1,2,0.5\n3,4,1\n", "integers"), ("", "the file is empty")],
)
def test_unreadable_data_files_give_a_usage_error(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(path), "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage" in err and message in err


def test_bad_files_and_arguments_exit_2(tmp_path, capsys):
    cases = [
        ["train", "--data", str(tmp_path / "missing.npz")],
        ["train", "--data", str(tmp_path)],
        ["train", "--keep-prob", "0"],
        ["train", "--epochs", "0"],
        ["train", "--activation", "swish"],
        ["train", "--backend", "tensorflow"],
        ["train", "--hidden", "ten"],
        ["bench", "--full", "--quick"],
    ]
    (tmp_path / "x.txt").write_text("hello")
    cases.append(["train", "--data", str(tmp_path / "x.txt")])
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    cases.append(["train", "--data", str(tmp_path / "bad.npz")])
    for argv in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
        assert "usage" in capsys.readouterr().err, argv


def _user_error(argv, capsys):
    """Run ``fastmlp train`` expecting a user error: exit 2, one line, no traceback, no training."""
    with pytest.raises(SystemExit) as exc:
        main(["train", "--quiet", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("fastmlp train: error: ")
    assert not any("Traceback" in line for line in err)
    return err[-1]


@pytest.mark.parametrize(
    "content,message",
    [("1,2,0\ninf,3,1\n4,5,0\n6,7,1\n", r"X holds inf \(data row 2, feature column 1\)")],
)
def test_non_finite_data_is_refused_before_training(tmp_path, capsys, content, message):
    import re

    csv = tmp_path / "inf.csv"
    csv.write_text(content)
    assert re.search(message, _user_error(["--data", str(csv)], capsys))
    npz = tmp_path / "nan.npz"
    np.savez(npz, X=np.array([[1.0, np.nan], [2, 3], [4, 5], [6, 7]]), y=np.array([0, 1, 0, 1]))
    assert "X holds nan (data row 1, feature column 2)" in _user_error(["--data", str(npz)], capsys)
    assert "label column 7 is out of range: the file has 3 columns" in _user_error(
        ["--data", str(csv), "--label-column", "7"], capsys
    )


def test_unwritable_outputs_are_refused_before_training(tmp_path, capsys):
    missing = tmp_path / "no" / "model.npz"
    assert "--save" in _user_error(["--save", str(missing)], capsys)
    assert "is a directory" in _user_error(["--save", str(tmp_path)], capsys)
    assert "--plot" in _user_error(["--plot", str(tmp_path / "no" / "curves.png")], capsys)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # root writes anywhere: nothing to refuse then
            assert "not writable" in _user_error(["--save", str(locked / "m.npz")], capsys)
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--lr", "0"], "--lr must be a positive number, got 0.0"),
        (["--lr=-1e-3"], "--lr must be a positive number"),
        (["--seed", "-1"], r"--seed must be an integer in [0, 2**64), got -1"),
        (["--seed", str(2**64)], "--seed must be an integer in [0, 2**64)"),
        (["--weight-decay", "-1"], "--weight-decay must be a number >= 0"),
    ],
)
def test_bad_numbers_name_their_option(argv, message, capsys):
    assert message in _user_error(argv, capsys)


def test_divergence_is_a_one_line_error(capsys):
    line = _user_error(["--optimizer", "sgd", "--lr", "1e6", "--epochs", "3"], capsys)
    assert "training diverged (lower the learning rate, currently 1e+06)" in line


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastmlp {__version__}"


@pytest.mark.parametrize("value", ["bogus", "cuda"])
def test_bad_backend_environment_variable_is_one_line_not_a_traceback(monkeypatch, capsys, value):
    if value == "cuda" and backends.is_available("cuda"):
        pytest.skip("cuda can run here")
    monkeypatch.setenv(backends.ENV_VAR, value)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"fastmlp train: error: environment variable FASTMLP_BACKEND='{value}': ")
    if value == "cuda":
        assert "backend 'cuda' is not available" in last


def test_first_run_says_it_compiles_and_later_runs_do_not(tmp_path):
    """A cold Numba cache: a notice on stderr before training, and the compile time; a warm one:
    silence. stdout keeps only the JSON line either way. Subprocesses: kernels this test process
    already compiled would hide a cold cache."""
    if not backends.is_available("numba"):
        pytest.skip("the numba backend cannot run here")
    env = {k: v for k, v in os.environ.items() if k != backends.ENV_VAR}
    env["FASTMLP_CACHE_DIR"] = str(tmp_path)
    argv = [_console_script(), "train", "--epochs", "1", "--backend", "numba", "--json"]

    def run():
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["epochs"] == 1
        return done.stderr, json.loads(lines[0])

    err, summary = run()
    assert f"compiling kernels (first run only; cached in {tmp_path}{os.sep}numba_cpu_" in err
    assert err.index("compiling kernels") < err.index("compiled in ")
    assert summary["warmup_seconds"] > 0
    err, _ = run()
    assert "compil" not in err


@pytest.mark.parametrize("cached,noticed", [(0, True), (7, False), (None, False)])
def test_compile_notice_only_for_a_cold_cache_and_never_with_quiet(monkeypatch, capsys, cached, noticed):
    from fastmlp.cli import train

    monkeypatch.setattr(train, "cached_numba_kernels", lambda: cached)  # None: cache not writable
    argv = ["train", "--epochs", "1", "--hidden", "8", "--backend", "numba", "--json"]
    if not backends.is_available("numba"):
        pytest.skip("the numba backend cannot run here")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert ("compiling kernels (first run only; cached in " in err) == noticed
    assert ("compiled in " in err) == noticed
    assert main([*argv, "--quiet"]) == 0
    assert "compil" not in capsys.readouterr().err


def _option_entries(help_text):
    """Option string -> its entry in ``--help`` (option line and wrapped help lines, one line)."""
    body = help_text.split("\n\n", 1)[1]  # past the usage lines, which name every option too
    entries, current = {}, None
    for line in body.splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            entries[current] = line
        elif current and line.startswith("   "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {flag: " ".join(text.split()) for flag, text in entries.items()}


def test_train_help_states_every_default(monkeypatch, capsys):
    from fastmlp.cli import SUBPARSERS, build_parser

    monkeypatch.setenv("COLUMNS", "100")
    build_parser()
    parser = SUBPARSERS["train"]
    entries = _option_entries(parser.format_help())
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 20 and set(entries) >= {a.option_strings[0] for a in options}
    for action in options:
        entry = entries[action.option_strings[0]]
        assert "(default: " in entry, entry
        if action.default is not None:
            if isinstance(action.default, list):
                shown = " ".join(map(str, action.default))
            else:
                shown = "off" if action.default is False else str(action.default)
            assert f"(default: {shown})" in entry or f"(default: {shown}," in entry, entry
        if action.choices:
            assert "{" + ",".join(action.choices) + "}" in entry, entry
    assert "--hidden N [N ...] hidden layer sizes (default: 128 64)" in entries["--hidden"]
    assert entries["--quiet"].endswith("(default: off)")


IRIS_LIKE_CLASSES = ["setosa", "versicolor", "virginica"]


def _iris_like_csv(path, label_position=4, rows_per_class=30):
    """Three well-separated classes of four features, text labels, a header row."""
    rng = np.random.default_rng(0)
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    names.insert(label_position, "species")
    lines = [",".join(names)]
    for k, species in enumerate(["virginica", "setosa", "versicolor"]):  # not in sorted order
        for row in rng.normal(3.0 * k, 0.5, size=(rows_per_class, 4)).round(2):
            cells = [str(v) for v in row]
            cells.insert(label_position, species)
            lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_with_header_and_text_labels_trains_and_names_its_classes(tmp_path, capsys):
    csv = _iris_like_csv(tmp_path / "iris.csv")
    model = tmp_path / "iris.npz"
    assert main(["train", "--data", str(csv), "--epochs", "40", "--quiet", "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "classes: 0 = setosa, 1 = versicolor, 2 = virginica" in out
    assert float(out.split("test accuracy ")[1].split()[0]) >= 0.9
    from fastmlp import load

    assert load(model).predict(np.zeros((2, 4), dtype=np.float32)).shape == (2,)
    by_name = _iris_like_csv(tmp_path / "middle.csv", label_position=1)
    for column in ["species", "1"]:
        assert main(["train", "--data", str(by_name), "--label-column", column, "--epochs", "40", "--json"]) == 0
        summary = _last_json(capsys.readouterr().out)
        assert summary["classes"] == IRIS_LIKE_CLASSES and summary["test_accuracy"] >= 0.9


def test_json_classes_are_the_original_labels(tmp_path, capsys):
    from fastmlp.datasets import make_spiral

    X, y = make_spiral(20, 3, seed=1)
    csv = tmp_path / "spiral.csv"
    np.savetxt(csv, np.column_stack([X, y * 10 + 5]), delimiter=",")
    assert main(["train", "--data", str(csv), "--epochs", "1", "--json", "--quiet"]) == 0
    assert _last_json(capsys.readouterr().out)["classes"] == [5, 15, 25]
    assert main(["train", "--epochs", "1", "--json", "--quiet", "--hidden", "8"]) == 0
    assert _last_json(capsys.readouterr().out)["classes"] == list(range(10))  # the digits


@pytest.mark.parametrize(
    "content,label_column,message",
    [
        ("a,b,species\n1,2,x\n3,4,y\n", "kind", "no column named 'kind'; the columns are: 'a', 'b', 'species'"),
        ("1,2,x\n3,4,y\n", "species", "no header row to find the label column 'species' in"),
        ("a,b,species\n1,2,x\n3,oops,y\n", "species", "line 3, column 2 ('b'): 'oops' is not a number"),
        ("a,b,species\n1,2,x\n\n3,4\n", "-1", "line 4 has 2 fields, line 1 has 3"),
        ("", "-1", "the file is empty"),
        ("\n# only a comment\n", "-1", "the file is empty"),
        ("a,b,species\n", "species", "a header row but no data rows"),
        ("a,b,species\n1,2,\n3,4,y\n", "-1", "line 2, column 3 ('species'): the label is missing"),
        ("a,b,species\n1,2,x\n3,4,x\n", "-1", "labels must have at least two classes"),
    ],
)
def test_bad_csv_files_are_one_line_errors_before_training(tmp_path, capsys, content, label_column, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    line = _user_error(["--data", str(csv), "--label-column", label_column], capsys)
    assert line.endswith(message), line


def test_a_label_column_name_needs_a_csv_file(tmp_path, capsys):
    npz = tmp_path / "d.npz"
    np.savez(npz, X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    assert "a label column by name is for .csv files" in _user_error(
        ["--data", str(npz), "--label-column", "species"], capsys
    )
