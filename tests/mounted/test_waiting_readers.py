"""Waiting trace_pipe readers through a mount: a reader that did not open its file
is interrupted as the kernel interrupts it, and waiting readers cost the
daemon nothing while they wait, however many files they hold.

The kernel's own ``trace_pipe`` ends such a read at once on a signal
(``tracing_wait_pipe`` returns on ``signal_pending``); checked by hand on
this machine's tracefs: ``exec 3< trace_pipe; cat <&3`` ends in a few ms on
SIGTERM. Here the daemon learns of the signal from the kernel's
FUSE_INTERRUPT, for the request's own task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tpfs.tools.mounting import Mount

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def in_read(pid: int, timeout: float = 5) -> bool:
    """Whether task ``pid`` sits in read(2) within ``timeout`` (its read waits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/syscall") as syscall:
                if syscall.read().split(" ", 1)[0] == "0":
                    return True
        except OSError:
            return False
        time.sleep(0.02)
    return False


@contextmanager
def inherited_reader(mount: Mount, fd: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``exec 3< trace_pipe; cat <&3``: this process opens (unless given ``fd``),
    a child ``cat`` reads."""
    opened = os.open(mount / "trace_pipe", os.O_RDONLY) if fd is None else fd
    reader = subprocess.Popen(["cat"], stdin=opened, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert in_read(reader.pid), "the reader never got to read"
        time.sleep(0.2)  # its read is in the daemon now, waiting
        assert reader.poll() is None
        yield reader
    finally:
        if reader.poll() is None:  # still waiting: SIGKILL, and a marker ends its read
            reader.kill()
            mount.write("trace_marker", "wake up")
        reader.wait(5)
        if fd is None:
            os.close(opened)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_wait_of_a_reader_that_did_not_open_the_file(
        tpfs: Mount, signum: int) -> None:
    with inherited_reader(tpfs) as reader:
        sent = time.monotonic()
        reader.send_signal(signum)
        status = reader.wait(5)
        assert time.monotonic() - sent < 1
        assert status == -signum
    # The daemon answered the read (EINTR): the mount serves on.
    assert tpfs.read("tracing_on") == "1\n"


def test_sigkill_does_not_leave_a_waiting_reader_in_d_state(tpfs: Mount) -> None:
    """The kernel waits for the answer of a request already sent even after a
    fatal signal: the daemon must answer it when the kernel interrupts it."""
    with inherited_reader(tpfs) as reader:
        reader.kill()
        try:
            assert reader.wait(2) == -signal.SIGKILL
        except subprocess.TimeoutExpired:
            with open(f"/proc/{reader.pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
            pytest.fail(f"a SIGKILLed reader still waits, in state {state}")


def test_a_reader_interrupted_once_can_read_again(tpfs: Mount) -> None:
    """The interrupt belongs to the request it came with: the next read of the
    same file waits, and gets the data that comes."""
    fd = os.open(tpfs / "trace_pipe", os.O_RDONLY)
    try:
        with inherited_reader(tpfs, fd) as first:
            first.send_signal(signal.SIGTERM)
            assert first.wait(5) == -signal.SIGTERM
        reader = subprocess.Popen(["head", "-c", "10"], stdin=fd, stdout=subprocess.PIPE)
        try:
            assert in_read(reader.pid)
            time.sleep(0.3)
            assert reader.poll() is None  # waits: the old interrupt is gone
            tpfs.write("trace_marker", "hello")
            out, _ = reader.communicate(timeout=5)
            assert len(out) == 10
        finally:
            if reader.poll() is None:
                reader.kill()
                tpfs.write("trace_marker", "wake up")
                reader.wait(5)
    finally:
        os.close(fd)


#: A child that holds many open files, then reads (and waits) on a pipe file.
MANY_FILES_READER = textwrap.dedent("""
    import os, resource, sys
    count, path = int(sys.argv[1]), sys.argv[2]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, count + 100), hard))
    null = os.open("/dev/null", os.O_RDONLY)
    held = [os.dup(null) for _ in range(count)]
    fd = os.open(path, os.O_RDONLY)
    print("ready", flush=True)
    os.read(fd, 4096)
""")


def test_a_waiting_reader_with_many_files_costs_the_daemon_nothing(tpfs: Mount) -> None:
    """A read that waits must not look through its reader's fd table again and
    again: with 19,000 files open in the reader the daemon stays idle, and
    another client's requests stay fast."""
    reader = subprocess.Popen([sys.executable, "-c", MANY_FILES_READER, "19000",
                               str(tpfs / "trace_pipe")], stdout=subprocess.PIPE)
    try:
        assert reader.stdout is not None and reader.stdout.readline() == b"ready\n"
        assert in_read(reader.pid)
        time.sleep(1)  # past the one look through its files
        before = cpu_seconds(tpfs.proc.pid)
        started = time.monotonic()
        slowest = 0.0
        while time.monotonic() - started < 3:
            asked = time.monotonic()
            assert tpfs.read("tracing_on") == "1\n"
            slowest = max(slowest, time.monotonic() - asked)
            time.sleep(0.05)
        used = cpu_seconds(tpfs.proc.pid) - before
        assert reader.poll() is None  # still waiting all along
        # Idle but for the reads of tracing_on (a few ms of CPU in all).
        assert used < 0.5, f"the daemon used {used:.2f} s of CPU in 3 s"
        assert slowest < 0.25, f"a tracing_on read took {slowest:.3f} s"
    finally:
        reader.kill()
        tpfs.write("trace_marker", "wake up")
        reader.wait(5)


def test_idle_waiting_readers_keep_the_daemon_idle(mount_factory) -> None:
    """32 readers, one per CPU, wait for 3 s: the daemon's CPU stays low."""
    mount = mount_factory("--cpus", "32")
    fds = [os.open(mount / f"per_cpu/cpu{cpu}/trace_pipe", os.O_RDONLY) for cpu in range(32)]
    readers = [subprocess.Popen(["cat"], stdin=fd, stdout=subprocess.DEVNULL) for fd in fds]
    try:
        assert all(in_read(r.pid) for r in readers)
        time.sleep(0.5)
        before = cpu_seconds(mount.proc.pid)
        time.sleep(3)
        used = cpu_seconds(mount.proc.pid) - before
        assert all(r.poll() is None for r in readers)
        assert used < 0.3, f"32 waiting readers made the daemon use {used:.2f} s of CPU in 3 s"
    finally:
        for r in readers:
            r.kill()
        mount.write("events/sched/sched_switch/enable", "1")  # data on every CPU
        mount.write("fire", "".join(
            f"sched:sched_switch prev_pid=1 next_pid=2 @cpu={cpu}\n" for cpu in range(32)))
        mount.write("trace_marker", "wake up")
        for r in readers:
            r.wait(5)
        for fd in fds:
            os.close(fd)


def test_a_file_made_nonblocking_by_another_task_ends_the_wait(tpfs: Mount) -> None:
    """The flags are the open file's, whoever holds it: fcntl in the opener ends
    the wait of the child reading it (found in the reader's fd table)."""
    fd = os.open(tpfs / "trace_pipe", os.O_RDONLY)
    reader = subprocess.Popen([sys.executable, "-c",
                               "import os\ntry:\n    os.read(0, 100)\n"
                               "except BlockingIOError:\n    raise SystemExit(11)\n"],
                              stdin=fd)
    try:
        assert in_read(reader.pid)
        time.sleep(0.3)
        assert reader.poll() is None
        os.set_blocking(fd, False)
        assert reader.wait(3) == 11
    finally:
        if reader.poll() is None:
            reader.kill()
            tpfs.write("trace_marker", "wake up")
            reader.wait(5)
        os.close(fd)
