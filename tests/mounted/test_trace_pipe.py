"""trace_pipe through a mount, where only tpfs can be tested: waiting reads that
hold up nothing else, Ctrl-C, unmounting under them, the cap on waiting
reads, and ``--cpus`` with ``tracing_cpumask``. (What the kernel's tracefs
does too is in tests/compat/test_trace_pipe_compat.py.)"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tpfs.tools.mounting import Mount, fuse_unmount, is_mounted

SWITCH = "sched:sched_switch prev_comm=a prev_pid=1 next_comm=b next_pid=2"


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if not ln.startswith("#")]


def blocked_reader(path: Path, size: int = 4096) -> tuple[threading.Thread, list[bytes], int]:
    fd = os.open(path, os.O_RDONLY)
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(os.read(fd, size)), daemon=True)
    thread.start()
    return thread, got, fd


@pytest.mark.usefixtures("on_cpu0")  # its records are on the writer's CPU
def test_waiting_readers_hold_up_nothing_else(tpfs: Mount) -> None:
    """Two reads wait, one per CPU; the mount serves everything else meanwhile,
    and a firing wakes only the reader of its CPU."""
    tpfs.write("events/sched/sched_switch/enable", "1")
    cpu0, got0, fd0 = blocked_reader(tpfs / "per_cpu/cpu0/trace_pipe")
    cpu1, got1, fd1 = blocked_reader(tpfs / "per_cpu/cpu1/trace_pipe")
    try:
        time.sleep(0.3)

        def other_requests() -> None:
            for _ in range(20):
                assert "sched:sched_switch" in tpfs.read("available_events")
                assert os.listdir(tpfs / "events/sched")
                tpfs.write("trace_marker", "not cpu1")

        others = threading.Thread(target=other_requests, daemon=True)
        others.start()
        others.join(10)
        if others.is_alive():  # a daemon stuck in a waiting read: end it, then fail
            tpfs.proc.kill()
            pytest.fail("the waiting reads held the daemon up")
        assert not got1 and cpu1.is_alive()
        tpfs.write("fire", f"{SWITCH} @cpu=1\n")
        cpu1.join(5)
        assert got1 and b"[001]" in got1[0] and b"sched_switch:" in got1[0]
        cpu0.join(5)  # the markers went to cpu0
        assert got0 and b"not cpu1" in got0[0]
    finally:
        os.close(fd0)
        os.close(fd1)


@pytest.mark.parametrize("program", ["cat", "python"])
def test_ctrl_c_ends_a_waiting_reader_within_a_second(tpfs: Mount, program: str) -> None:
    cmd = (["cat", str(tpfs / "trace_pipe")] if program == "cat" else
           [sys.executable, "-c", "import os, sys\n"
            f"fd = os.open({str(tpfs / 'trace_pipe')!r}, os.O_RDONLY)\n"
            "try:\n    os.read(fd, 10)\nexcept KeyboardInterrupt:\n    sys.exit(42)\n"])
    reader = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert reader.poll() is None  # waiting
        sent = time.monotonic()
        reader.send_signal(signal.SIGINT)
        status = reader.wait(5)
        assert time.monotonic() - sent < 1
        assert status == (-signal.SIGINT if program == "cat" else 42)
    finally:
        if reader.poll() is None:  # still waiting: a marker ends its read, SIGKILL the rest
            reader.kill()
            tpfs.write("trace_marker", "wake up")
        reader.wait(5)
    # The reader's claim on the CPUs went with it: the pipe opens again.
    os.close(os.open(tpfs / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK))


def test_sigterm_with_waiting_readers_unmounts_at_once(mount_factory) -> None:
    mount = mount_factory()
    readers = [subprocess.Popen(["cat", str(mount / f"per_cpu/cpu{cpu}/trace_pipe")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for cpu in (0, 1)]
    try:
        time.sleep(0.5)
        assert all(r.poll() is None for r in readers)
        sent = time.monotonic()
        mount.proc.send_signal(signal.SIGTERM)
        assert mount.proc.wait(5) == 0
        assert time.monotonic() - sent < 3
        assert not is_mounted(mount.path)
        assert all(r.wait(5) != 0 for r in readers)  # their reads failed
    finally:
        if mount.proc.poll() is None:  # a daemon stuck with the reads: end it
            mount.proc.kill()
        for r in readers:
            r.kill()
            r.wait(5)


def test_waiting_reads_are_capped(mount_factory) -> None:
    """Past the cap a read is EAGAIN, and the mount still answers."""
    mount = mount_factory("--cpus", "3", "--max-waiting-reads", "2")
    waiting = [blocked_reader(mount / f"per_cpu/cpu{cpu}/trace_pipe") for cpu in (0, 1)]
    fd = os.open(mount / "per_cpu/cpu2/trace_pipe", os.O_RDONLY)
    try:
        time.sleep(0.5)
        assert all(thread.is_alive() for thread, _, _ in waiting)
        with pytest.raises(BlockingIOError):
            os.read(fd, 100)
        assert mount.read("tracing_on") == "1\n"
        mount.write("events/sched/sched_switch/enable", "1")
        mount.write("fire", "".join(f"{SWITCH} @cpu={cpu}\n" for cpu in range(3)))
        for thread, got, _ in waiting:
            thread.join(5)
            assert got and b"sched_switch:" in got[0]
        assert b"[002]" in os.read(fd, 4096)  # not waiting: the cap is free again
    finally:
        os.close(fd)
        for _, _, reader_fd in waiting:
            os.close(reader_fd)


def test_cpus_sets_the_buffers_files_and_mask(mount_factory) -> None:
    mount = mount_factory("--cpus", "3")
    assert sorted(os.listdir(mount / "per_cpu")) == ["cpu0", "cpu1", "cpu2"]
    assert mount.read("tracing_cpumask") == "7\n"
    mount.write("buffer_size_kb", "100")
    assert mount.read("buffer_size_kb") == "103\n"  # 26 whole pages of 4,080 bytes
    assert mount.read("buffer_total_size_kb") == "309\n"
    mount.write("events/sched/sched_switch/enable", "1")
    with pytest.raises(OSError) as exc:
        mount.write("fire", f"{SWITCH} @cpu=3\n")
    assert exc.value.errno == errno.EINVAL
    mount.write("tracing_cpumask", "5")  # cpu1 out: its firings are not recorded
    mount.write("fire", "".join(f"{SWITCH} @cpu={cpu}\n" for cpu in range(3)))
    assert [ln.split("[")[1][:3] for ln in lines(mount.read("trace"))] == ["000", "002"]
    assert "#P:3" in mount.read("trace")


@pytest.mark.parametrize("value", ["0", "65", "abc"])
def test_cpus_refuses_what_cannot_be(mount_factory, tmp_path: Path, value: str) -> None:
    done = subprocess.run([sys.executable, "-m", "tpfs", str(tmp_path), "--cpus", value],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "--cpus" in done.stderr


def test_o_nonblock_set_after_the_open_is_honoured(tpfs: Mount) -> None:
    """trace-cmd sets O_NONBLOCK with fcntl before its last reads; pyfuse3 does not
    pass it on, so the daemon finds it in /proc."""
    fd = os.open(tpfs / "per_cpu/cpu0/trace_pipe_raw", os.O_RDONLY)
    try:
        os.set_blocking(fd, False)
        started = time.monotonic()
        with pytest.raises(BlockingIOError):
            os.read(fd, 4096)
        assert time.monotonic() - started < 1
    finally:
        os.close(fd)


def test_o_nonblock_set_while_a_read_waits_ends_the_wait(tpfs: Mount) -> None:
    fd = os.open(tpfs / "trace_pipe", os.O_RDONLY)
    result: list[BaseException | bytes] = []

    def read() -> None:
        try:
            result.append(os.read(fd, 100))
        except OSError as exc:
            result.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        time.sleep(0.3)
        assert not result  # waiting
        os.set_blocking(fd, False)
        reader.join(2)
        assert result and isinstance(result[0], BlockingIOError)
    finally:
        if reader.is_alive():
            tpfs.write("trace_marker", "wake up")
        os.close(fd)


def test_a_lazy_unmount_ends_waiting_readers_and_the_daemon(mount_factory) -> None:
    mount = mount_factory()
    reader = subprocess.Popen(["cat", str(mount / "trace_pipe")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert reader.poll() is None
        fuse_unmount(mount.path)  # lazy: the reader's file keeps the mount alive
        assert reader.wait(3) == 0  # its read ended as at the end of the file
        assert mount.proc.wait(5) == 0
    finally:
        if reader.poll() is None:
            mount.proc.kill()
            reader.kill()
        reader.wait(5)


def test_o_nonblock_cleared_after_the_open_makes_reads_wait(tpfs: Mount) -> None:
    """The other way round: opened O_NONBLOCK, then made blocking with fcntl."""
    fd = os.open(tpfs / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    got: list[bytes] = []
    try:
        with pytest.raises(BlockingIOError):
            os.read(fd, 100)
        os.set_blocking(fd, True)
        reader = threading.Thread(target=lambda: got.append(os.read(fd, 4096)), daemon=True)
        reader.start()
        time.sleep(0.5)
        assert not got  # waiting, not EAGAIN
        tpfs.write("trace_marker", "now")
        reader.join(5)
        assert got and got[0].endswith(b"tracing_mark_write: now\n")
    finally:
        if not got:
            tpfs.write("trace_marker", "wake up")
        os.close(fd)
