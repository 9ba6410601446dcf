"""The explorer's counterexample replayed through a real mount, and --kernel refusals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tpfs.kernel.personality import personality
from tpfs.tools.explore import Bounds, explore, render, write_catalog

from conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def counterexample(tmp_path: Path) -> tuple[Path, str, Path]:
    """The 3.1 counterexample as printed, its seed, and the catalogue it mounts with."""
    kernel = personality("3.1")
    result = explore(kernel, Bounds(modules=2, reads=1, depth=2, size=3))
    assert result.shortest is not None
    text = render(result.shortest, kernel, result.violations)
    path = tmp_path / "counterexample.txt"
    path.write_text(text)
    seed = re.search(r"^# seed (\d+)$", text, re.M)
    assert seed is not None
    cat = tmp_path / "core.json.gz"
    write_catalog(cat, len(result.shortest.core))
    return path, seed[1], cat


def test_replay_shows_the_legacy_walks_violation_through_fuse(mount_factory,
                                                              tmp_path: Path) -> None:
    path, seed, cat = counterexample(tmp_path)
    legacy = mount_factory("--kernel", "3.1", "--seed", seed, "--catalog", str(cat),
                           name="legacy")
    res = run("-m", "tpfs.explore", "--replay", str(path), str(legacy.path))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "violation: missing: 'm0:e'" in res.stdout
    assert "violated" in res.stdout


def test_the_same_replay_on_the_default_kernel_sees_none(mount_factory,
                                                         tmp_path: Path) -> None:
    path, seed, cat = counterexample(tmp_path)
    fixed = mount_factory("--seed", seed, "--catalog", str(cat), name="fixed")
    res = run("-m", "tpfs.explore", "--replay", str(path), str(fixed.path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no violation" in res.stdout
    assert sorted(p.name for p in (fixed.path / "modules").iterdir()) == [
        "load", "m0", "m1", "unload"]


def test_an_unknown_kernel_version_is_refused(tmp_path: Path) -> None:
    res = run("-m", "tpfs", str(tmp_path), "--foreground", "--kernel", "9.9")
    assert res.returncode == 2
    assert "tpfs models kernel 3.1, 3.2.0-3.2.1, 3.2.2-3.14, not 9.9" in res.stderr
    res = run("-m", "tpfs.explore", "--kernel", "3.15")
    assert res.returncode == 2 and "struct tracepoint pointer" in res.stderr
