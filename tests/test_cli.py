"""The ``fastmlp`` command."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastmlp import __version__, backends
from fastmlp.cli import main


def test_info_json_is_the_last_line(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["version"] == __version__
    assert data["n_ops"] == len(backends.ops())
    assert data["backends"]["numpy"] == {"available": True, "reason": "", "native_ops": 39, "fallback_ops": []}
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
