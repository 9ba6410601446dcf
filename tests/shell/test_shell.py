"""Run the shell scripts in tests/shell against a fresh mount each."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted(p for p in Path(__file__).parent.glob("*.sh") if p.name != "lib.sh")


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_shell_script(tpfs, script: Path) -> None:
    res = subprocess.run(["bash", str(script), str(tpfs.path)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 failed" in res.stdout, res.stdout
