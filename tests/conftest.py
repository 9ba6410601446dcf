"""Fixtures that mount tpfs in a subprocess and always unmount it afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def fuse_unmount(mnt: Path) -> None:
    """Lazily unmount ``mnt`` if anything is mounted there, dead or alive."""
    if not is_mounted(mnt):
        return
    for cmd in (["fusermount3", "-u", "-z", str(mnt)], ["umount", "-l", str(mnt)]):
        if shutil.which(cmd[0]) and subprocess.run(cmd, capture_output=True).returncode == 0:
            return


def is_mounted(mnt: Path) -> bool:
    target = os.path.realpath(mnt)
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


@dataclass
class Mount:
    """A running daemon and its mountpoint."""

    path: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def write(self, name: str, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        fd = os.open(self.path / name, os.O_WRONLY)
        try:
            assert os.write(fd, data) == len(data)
        finally:
            os.close(fd)

    def read(self, name: str) -> str:
        return (self.path / name).read_text()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 10) -> int | None:
        """Unmount, then make sure the daemon is gone; returns its exit status."""
        fuse_unmount(self.path)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            return None


def start_daemon(mnt: Path, log: Path, *args: str, wait: float = 15) -> Mount:
    mnt.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tpfs", str(mnt), "--foreground", "--debug", *args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    mount = Mount(mnt, proc, log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fuse_unmount(mnt)
            pytest.fail(f"tpfs exited with {proc.returncode}:\n{mount.log_text()}")
        if is_mounted(mnt) and (mnt / "available_events").exists():
            return mount
        time.sleep(0.02)
    mount.stop()
    pytest.fail(f"tpfs did not mount within {wait} s:\n{mount.log_text()}")


@pytest.fixture
def mount_factory(tmp_path: Path) -> Iterator:
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this machine")
    mounts: list[Mount] = []

    def factory(*args: str, name: str = "mnt") -> Mount:
        mount = start_daemon(tmp_path / name, tmp_path / f"{name}.log", *args)
        mounts.append(mount)
        return mount

    yield factory
    for mount in mounts:
        mount.stop()
        assert not is_mounted(mount.path)
        assert "Traceback" not in mount.log_text() or "fault injected" in mount.log_text(), \
            mount.log_text()


@pytest.fixture
def tpfs(mount_factory) -> Mount:
    """A mount with the embedded catalogue and seed 1."""
    return mount_factory("--seed", "1")


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory) -> Path:
    """The first 150 events of the embedded catalogue, for tests that read byte by byte."""
    from tpfs import catalog

    full = catalog.load_embedded()
    path = tmp_path_factory.mktemp("catalog") / "small.json.gz"
    catalog.dump(catalog.Catalog(full.events[:150], full.header_page, full.header_event), path)
    return path


@pytest.fixture
def small(mount_factory, small_catalog) -> Mount:
    """A mount with a 150-event catalogue and seed 1."""
    return mount_factory("--seed", "1", "--catalog", str(small_catalog))
