"""After each request the daemon looks for the next one for ``--busy-poll-us``
(off by default) instead of sleeping, and sleeps once that long passes with
none: through a real mount, by the daemon's own counters in /proc (its
voluntary context switches: a sleep in epoll is one; its CPU time)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpfs.tools.mounting import Mount

READS = 300
#: Seconds between two reads: far longer than the daemon takes to go back to
#: waiting after a request, far shorter than the tests' polling window.
GAP = 0.001


def voluntary_switches(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches for {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system time of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def apart(pid: int) -> Iterator[None]:
    """This process on one CPU and every thread of ``pid`` on another: a request then
    always wakes the daemon on its own CPU, as when the scheduler keeps them apart
    (on one CPU the caller's own wait lets the daemon run without a sleep)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.fail("the test needs two CPUs")
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cpus[1]})
    os.sched_setaffinity(0, {cpus[0]})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


def sleeps_per_read(mount: Mount) -> float:
    """The daemon's voluntary context switches per read, over READS reads a GAP
    apart (each a FUSE read request: the file is direct_io)."""
    fd = os.open(mount / "available_events", os.O_RDONLY)
    try:
        with apart(mount.proc.pid):
            os.pread(fd, 64, 0)
            before = voluntary_switches(mount.proc.pid)
            for _ in range(READS):
                assert os.pread(fd, 64, 0)
                time.sleep(GAP)
            return (voluntary_switches(mount.proc.pid) - before) / READS
    finally:
        os.close(fd)


@pytest.mark.parametrize("args", [(), ("--busy-poll-us", "0")], ids=["default", "0"])
def test_without_polling_the_daemon_sleeps_between_requests(args: tuple[str, ...],
                                                            mount_factory) -> None:
    mount = mount_factory("--seed", "1", *args)
    sleeps = sleeps_per_read(mount)
    assert sleeps >= 0.8, sleeps


def test_polling_takes_the_next_request_without_sleeping(mount_factory) -> None:
    # A window far longer than a client takes between two reads, even on a busy machine.
    mount = mount_factory("--seed", "1", "--busy-poll-us", "50000")
    sleeps = sleeps_per_read(mount)
    assert sleeps <= 0.1, sleeps


def test_polling_stops_a_window_after_the_last_request(mount_factory) -> None:
    window = 0.5
    mount = mount_factory("--seed", "1", "--busy-poll-us", str(int(window * 1e6)))
    pid = mount.proc.pid
    fd = os.open(mount / "available_events", os.O_RDONLY)
    try:
        os.pread(fd, 64, 0)
        start = cpu_seconds(pid)
        time.sleep(4 * window)
        polled = cpu_seconds(pid) - start
        time.sleep(4 * window)
        idle = cpu_seconds(pid) - start - polled
    finally:
        os.close(fd)
    # It polled after the read (a CPU kept busy: a share of one even on a loaded
    # machine), then slept: nothing more, where a poll that never stops spends
    # the whole second stretch.
    assert 0.05 <= polled <= window + 0.3
    assert idle <= 0.1


@pytest.mark.parametrize("value", ["-1", "x", "1.5", "1000001"])
def test_a_bad_window_is_refused(value: str, tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "tpfs", str(tmp_path), "--foreground",
                          "--busy-poll-us", value], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "--busy-poll-us" in res.stderr
