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


def test_console_script_is_installed():
    exe = shutil.which("fastmlp") or shutil.which("fastmlp", path=str(Path(sys.executable).parent))
    assert exe, "the fastmlp console script is not on PATH"
    out = subprocess.run([exe, "info", "--json"], capture_output=True, text=True, check=True).stdout
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
    [("not,numbers\nat,all\n", "non-numeric"), ("1,2,0.5\n3,4,1\n", "integers"), ("", "need at least")],
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


def test_bench_prints_ratios_and_json(tmp_path, capsys):
    png = tmp_path / "bench.png"
    code = main(["bench", "-k", "relu_forward and 256x512", "--json", "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0, out
    data = _last_json(out)
    group = "relu_forward 256x512"
    assert set(data["medians_s"][group]) == {n for n in backends.available() if n != "cuda"}
    assert all(t > 0 for t in data["medians_s"][group].values())
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["bench", "-k", "relu_forward and 256x512", "--markdown"]) == 0
    md = capsys.readouterr().out
    assert md.splitlines()[0].startswith("| benchmark | numpy (ms) |") and group in md


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
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"FASTMLP_BACKEND='{value}'" in err and "Traceback" not in err
