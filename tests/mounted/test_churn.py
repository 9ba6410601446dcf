"""The read contract through a real mount while another process churns modules.

The default iterator must satisfy the contract for every reader; the legacy
(pre-patch) iterator must be caught violating it, with and without churn.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpfs.tools.mounting import Mount

from conftest import ROOT

STABLE_MODULES = 30


def run_check(mount: Mount, *args: str, log: Path | None = None) -> tuple[int, dict[str, int]]:
    cmd = [sys.executable, "-m", "tpfs.check", str(mount.path), *args]
    if log is not None:
        cmd += ["--churn-log", str(log)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT)
    verdict = res.stdout.strip().splitlines()[-1]
    assert re.match(r"(ok|FAIL): ", verdict), res.stdout + res.stderr
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", verdict)}
    assert (res.returncode == 0) == verdict.startswith("ok:") == (counts["violations"] == 0)
    return res.returncode, counts


class Churn:
    """A churn process on a mount, started once its initial modules are in."""

    def __init__(self, mount: Mount, seed: int, tmp: Path, *extra: str) -> None:
        self.log = tmp / f"churn{seed}.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tpfs.churn", str(mount.path), "--seed", str(seed),
             "--rate", "400", "--duration", "0", "--initial", "20", "--log", str(self.log),
             *extra],
            stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert line.strip() == "ready", line + self.proc.stderr.read()

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return err


def load_stable(mount: Mount) -> None:
    mount.write("modules/load", "".join(
        f"stable{i} " + " ".join(f"st{i}:ev{j}" for j in range(10)) + "\n"
        for i in range(STABLE_MODULES)))


@pytest.fixture(params=[False, True], ids=["sorted", "legacy"])
def churned(request, mount_factory, small_catalog, tmp_path) -> Iterator[tuple[Mount, Churn]]:
    args = ["--seed", "7", "--catalog", str(small_catalog)]
    if request.param:
        args.append("--legacy-iterator")
    mount = mount_factory(*args)
    load_stable(mount)
    churn = Churn(mount, 7, tmp_path, "--probes")
    try:
        yield mount, churn
    finally:
        assert "churn done" in churn.stop()


@pytest.mark.parametrize("sizes", [[], ["--sizes", "1,13"], ["--sizes", "7"],
                                   ["--sizes", "64", "--seed", "3"]],
                         ids=["random", "1-13", "7", "64"])
def test_available_events_under_churn(churned, sizes: list[str]) -> None:
    mount, churn = churned
    legacy = "--legacy-iterator" in mount.proc.args
    status, counts = run_check(mount, *sizes, log=churn.log)
    assert counts["loaded"] > 0 and counts["unloaded"] > 0, counts
    assert counts["stable"] >= 150 + 10 * STABLE_MODULES
    if legacy:
        assert status == 1 and counts["violations"] > 0
    else:
        assert status == 0 and counts["violations"] == 0


def test_concurrent_readers_of_tracepoints_under_churn(churned) -> None:
    mount, churn = churned
    legacy = "--legacy-iterator" in mount.proc.args
    status, counts = run_check(mount, "--file", "tracepoints", "--readers", "4",
                               log=churn.log)
    assert counts["readers"] == 4 and counts["loaded"] > 0
    assert (status != 0) == legacy


@pytest.mark.parametrize("directory", ["modules", "probes"])
def test_directory_listings_under_churn(churned, directory: str) -> None:
    mount, churn = churned
    status, counts = run_check(mount, "--dir", directory, "--bufsize", "160",
                               "--repeat", "20", log=churn.log)
    assert status == 0, counts
    assert counts["getdents"] > 2 * counts["listings"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_legacy_iterator_skips_modules_without_any_churn(mount_factory, small_catalog,
                                                         seed: int) -> None:
    args = ["--seed", str(seed), "--catalog", str(small_catalog)]
    quiet = mount_factory(*args, "--legacy-iterator", name="legacy")
    fixed = mount_factory(*args, name="fixed")
    for mount in (quiet, fixed):
        load_stable(mount)
    status, counts = run_check(quiet, "--sizes", "4096")
    assert status == 1 and counts["violations"] > 0 and counts["loaded"] == 0
    status, counts = run_check(fixed, "--sizes", "4096")
    assert status == 0 and counts["violations"] == 0
