"""``fastmlp bench``: the shipped suites, one process per contender, JSON + tables + chart, --compare;
and the report and chart helpers on known numbers."""

import json
import struct

import pytest

from fastmlp import backends
from fastmlp.benchmarks import chart, report
from fastmlp.cli import bench as bench_cli
from fastmlp.cli import main

RELU = "relu_forward and 256x512 and not leaky and not prelu"


def _last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_bench_from_an_empty_directory_writes_json_tables_chart_and_compares(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "-k", RELU, "--json"]) == 0
    out = capsys.readouterr().out
    summary = _last_json(out)
    native = {n for n in backends.available() if n != "cuda"}
    group = "relu_forward 256x512"
    assert set(summary["medians_s"][group]) == native
    assert all(t > 0 for t in summary["medians_s"][group].values())
    folder = tmp_path / "fastmlp-bench"  # relative to where the command runs, not the package
    assert summary["json"] == str(folder / "bench.json")
    doc = json.loads((folder / "bench.json").read_text())
    assert {b["extra_info"]["backend"] for b in doc["benchmarks"]} == native
    assert "machine_info" in doc and all(b["stats"]["median"] > 0 for b in doc["benchmarks"])
    md = (folder / "bench.md").read_text()
    assert "#### Fused ops against the NumPy reference" in md
    assert f"| {group} |" in md
    width, height = _png_size(folder / "bench.png")
    assert width == int(chart.PANEL_WIDTH_IN * 90) and 100 < height < 400  # one readable panel

    old = tmp_path / "old.json"
    (folder / "bench.json").rename(old)
    assert main(["bench", "-k", RELU, "--compare", str(old), "--out", "second"]) == 0
    out = capsys.readouterr().out
    assert "#### Fused ops against the NumPy reference" in out  # the terminal shows the README tables
    changes = out.split(f"change from {old}:")[1]
    for name in native:
        assert f"{group} [{name}]" in changes
    assert (tmp_path / "second" / "bench.json").is_file()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--full", "--quick"], "--full and --quick exclude each other"),
        (["--compare", "missing.json"], "--compare: missing.json: not a readable pytest-benchmark JSON file"),
        (["--compare", "notbench.json"], "not a pytest-benchmark JSON file (no 'benchmarks' list)"),
        (["--out", "afile"], "--out 'afile' is a file; give a directory"),
        (["--save-json", "."], "is a directory; give a file name"),
        (["-k", "relu and"], "-k: Wrong expression passed to '-k'"),
        (["-k", "no_such_benchmark_anywhere"], "no benchmark matches -k 'no_such_benchmark_anywhere'"),
        (["-k", RELU, "--baseline", "tensorflow"], "--baseline 'tensorflow' is not among this run's implementations"),
    ],
)
def test_bench_option_errors_come_before_any_benchmark(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "notbench.json").write_text('{"a": 1}')
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "fastmlp-bench").exists()


@pytest.mark.parametrize(
    "missing,argv,message",
    [
        ("pytest_benchmark", [], "the benchmarks need pytest-benchmark: pip install 'fastmlp[bench]'"),
        ("matplotlib", ["--plot", "x.png"], "--plot needs matplotlib: pip install 'fastmlp[bench]'"),
    ],
)
def test_bench_names_the_missing_extra_before_running(tmp_path, monkeypatch, capsys, missing, argv, message):
    monkeypatch.chdir(tmp_path)
    real = bench_cli._installed
    monkeypatch.setattr(bench_cli, "_installed", lambda module: module != missing and real(module))
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_every_shipped_benchmark_names_its_contender(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    suites = Path(report.__file__).parent
    listing = tmp_path / "contenders.json"
    cmd = bench_cli._pytest(suites, "--collect-only", "--list-contenders", str(listing))
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    names = set(json.loads(listing.read_text()))
    fastmlp_backends = {n for n in backends.available() if n != "cuda"}
    assert names == fastmlp_backends | {
        "gemm-floor",
        "numpy-notes",
        "torch",
        "sklearn",
        "fastmlp.sklearn",
        "notes-recipe",
    }
    assert sys.executable == cmd[0]


GROUPS = {
    "relu_forward 256x512": {"numpy": 4e-3, "numba": 1e-3, "cython": 2e-3},
    "train step B=256": {"gemm-floor": 10e-3, "numba": 12e-3, "torch": 24e-3, "numpy-notes": 30e-3},
    "train step B=64": {"gemm-floor": 4e-3, "numba": 6e-3},
    "train step threads B=256": {"numba@1t": 20e-3, "numba@2t": 12.5e-3},
    "whitening fit 20000x1024": {"notes-recipe": 600e-3, "numba": 300e-3},
    "small net: digits epoch (Adam, B=64)": {"sklearn": 30e-3, "numba": 20e-3},
}


def test_the_readme_tables_hold_the_ratios_of_the_run():
    md = report.markdown(GROUPS)
    assert "| relu_forward 256x512 | 4.000 | 1.000 | 4.0× | 2.000 | 2.0× | 2.00 |" in md
    step = md.split("#### The CIFAR-shaped training step")[1]
    assert "| batch | GEMM floor | numba | notes' NumPy | PyTorch CPU |" in step
    rows = [line for line in step.splitlines() if line.startswith("| 64") or line.startswith("| 256")]
    assert rows == [
        "| 64 | 4.0 (1.00) | 6.0 (1.50) | — | — |",
        "| 256 | 10.0 (1.00) | 12.0 (1.20) | 30.0 (3.00) | 24.0 (2.40) |",
    ]
    assert "| numba | 20.0 | 12.5 | 1.60× |" in md
    assert "| 20000x1024 | 600 | 300 (2.00× faster) |" in md
    assert "| small net: digits epoch (Adam, B=64) | 30.000 | 20.000 | 1.50× |" in md
    assert "train step B=256: numba step / GEMM floor = 1.20 (target <= 1.2: met)" in md
    assert "numba 1 thread / 2 threads = 1.60 (target >= 1.7: MISSED)" in md


def test_compare_says_faster_or_slower_per_implementation():
    old = {"g": {"numba": 2e-3, "cython": 1e-3}, "only old": {"numba": 1.0}}
    new = {"g": {"numba": 1e-3, "cython": 1.5e-3}, "only new": {"numba": 1.0}}
    lines = report.compare(old, new).splitlines()
    assert lines[1].split() == ["g", "[cython]", "1.000", "1.500", "1.50×", "slower"]
    assert lines[2].split() == ["g", "[numba]", "2.000", "1.000", "2.00×", "faster"]
    assert len(lines) == 3
    assert report.compare({"a": {"x": 1.0}}, {"b": {"x": 1.0}}) == "no benchmark is in both runs"


def test_merge_keeps_every_process_benchmarks_and_the_first_machine():
    parts = [
        {
            "machine_info": {"cpu": {"brand_raw": "A"}},
            "benchmarks": [{"group": "g", "stats": {"median": 1.0}, "name": "x"}],
        },
        {
            "machine_info": {"cpu": {"brand_raw": "B"}},
            "benchmarks": [{"group": "g", "stats": {"median": 2.0}, "name": "y"}],
        },
    ]
    merged = report.merge(parts)
    assert report.machine(merged).startswith("A,")
    assert report.medians(merged) == {"g": {"x": 1.0, "y": 2.0}}


def test_the_chart_has_one_panel_per_group_in_rows_of_four(tmp_path):
    path = tmp_path / "c.png"
    chart.plot(GROUPS, "numpy", str(path))
    width, height = _png_size(path)
    tallest = max(len(t) for t in GROUPS.values())
    panel = chart.BAR_HEIGHT_IN * tallest + chart.PANEL_EXTRA_IN
    assert width == int(chart.PANEL_WIDTH_IN * chart.COLUMNS * 90)
    assert abs(height - panel * 2 * 90) <= 1  # 6 groups: two rows
