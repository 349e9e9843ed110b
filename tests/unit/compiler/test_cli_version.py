"""`orch --version`: the image's smoke check and what a user asks first. It must
print the installed distribution's version (the one the image's OCI label and the
chart's appVersion carry) and exit 0, with or without a command after it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from operate.cli import main

REPO = Path(__file__).resolve().parents[3]


def pyproject_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as fh:
        version: str = tomllib.load(fh)["project"]["version"]
    return version


@pytest.mark.parametrize("argv", [["--version"], ["--version", "compile", "x.yaml"]],
                         ids=["alone", "before-a-command"])
def test_version_prints_the_package_version(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out = capsys.readouterr()
    assert (exited.value.code, out.out, out.err) == (0, f"orch {pyproject_version()}\n", "")


def test_version_from_the_installed_entry_point() -> None:
    orch = Path(sys.executable).with_name("orch")
    proc = subprocess.run([str(orch), "--version"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, f"orch {pyproject_version()}\n", "")
