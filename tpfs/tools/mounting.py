"""Starting a daemon in a subprocess, waiting for its mount, and unmounting.

Used by the test suite and the benchmarks, which must never leave a mount
behind: ``Mount.stop`` unmounts lazily and then makes sure the daemon is gone.
``unescape`` (the mount table's escapes) serves the daemon too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def unescape(field: str) -> str:
    """A path as /proc/mounts and mountinfo write it, with ``\\ooo`` for space, tab,
    newline and backslash, decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def is_mounted(mnt: Path) -> bool:
    target = os.path.realpath(mnt)
    with open("/proc/mounts", errors="surrogateescape") as mounts:
        return any(unescape(line.split()[1]) == target for line in mounts)


def fuse_unmount(mnt: Path) -> None:
    """Lazily unmount ``mnt`` if anything is mounted there, dead or alive."""
    if not is_mounted(mnt):
        return
    for cmd in (["fusermount3", "-u", "-z", str(mnt)], ["umount", "-l", str(mnt)]):
        if shutil.which(cmd[0]) and subprocess.run(cmd, capture_output=True).returncode == 0:
            return


@dataclass
class Mount:
    """A running daemon and its mountpoint."""

    path: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def write(self, name: str, text: str | bytes) -> None:
        """One write() of ``text`` to ``name``; raises OSError as the file answers."""
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


class MountError(RuntimeError):
    pass


def start(cmd: list[str], mnt: Path, log: Path, wait: float = 15,
          ready: str = "available_events") -> Mount:
    """Run ``cmd`` (a daemon serving ``mnt`` in the foreground) until ``mnt/ready`` exists."""
    mnt.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    mount = Mount(mnt, proc, log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fuse_unmount(mnt)
            raise MountError(f"daemon exited with {proc.returncode}:\n{mount.log_text()}")
        if is_mounted(mnt) and (mnt / ready).exists():
            return mount
        time.sleep(0.02)
    mount.stop()
    raise MountError(f"no mount within {wait} s:\n{mount.log_text()}")


#: How to run the daemon: ``python -m tpfs`` with this interpreter.
TPFS = (sys.executable, "-m", "tpfs")


def start_tpfs(mnt: Path, log: Path, *args: str, wait: float = 15,
               program: Sequence[str] = TPFS) -> Mount:
    """Run ``program MNT --foreground ARGS`` and wait for its mount."""
    return start([*program, str(mnt), "--foreground", *args], mnt, log, wait)
