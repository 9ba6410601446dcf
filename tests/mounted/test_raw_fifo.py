"""The daemon's FIFOs for splicing readers (``tpfs/fuse/rawfifo.py``), through a mount.

Each CPU of the top-level buffer has a FIFO in ``fifo_dir(st_dev of the
mount)`` while the daemon runs. Pages move into it only while a reader holds
it, and all of a firing write's pages are in it when the write returns, so a
reader's non-blocking reads right after find every event; ``splice()`` from it
into a pipe moves them. Each instance has its FIFOs while it exists, fed from its
own buffer; ``exec-as-tracefs`` binds those of the instances there when it
starts. (trace-cmd through them is tested in tests/clients/test_recorders.py.)
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from model.kbuffer import decode

from tpfs.fuse.rawfifo import fifo_dir
from tpfs.tools.mounting import Mount

PAGE = 4096
SWITCH = "sched:sched_switch @cpu={cpu} prev_comm=a prev_pid={pid} next_comm=b next_pid=2\n"


def fifos(mount: Mount) -> Path:
    return fifo_dir(os.stat(mount.path).st_dev)


def fire(mount: Mount, cpu: int, pids: range) -> None:
    mount.write("fire", "".join(SWITCH.format(cpu=cpu, pid=pid) for pid in pids))


def pids_of(data: bytes) -> list[int]:
    assert len(data) % PAGE == 0, len(data)
    return [int.from_bytes(event.data[24:28], "little")
            for at in range(0, len(data), PAGE) for event in decode(data[at:at + PAGE]).events]


def open_reader(mount: Mount, cpu: int) -> int:
    """A non-blocking reader of the CPU's FIFO: the daemon holds its write end
    from the start, so an empty FIFO is EAGAIN, not the end of the file."""
    fd = os.open(fifos(mount) / f"cpu{cpu}", os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.read(fd, PAGE)
    except BlockingIOError:
        return fd
    os.close(fd)
    raise AssertionError("the FIFO has no writer")


def drain(fd: int) -> bytes:
    out = b""
    while True:
        try:
            out += os.read(fd, PAGE)
        except BlockingIOError:
            return out


def test_one_fifo_per_cpu_while_mounted(mount_factory) -> None:
    mount = mount_factory("--cpus", "3")
    directory = fifos(mount)
    assert sorted(p.name for p in directory.iterdir()) == ["cpu0", "cpu1", "cpu2"]
    assert all(stat.S_ISFIFO(p.stat().st_mode) for p in directory.iterdir())
    assert mount.stop() == 0
    assert not directory.exists()


def test_a_firing_write_is_in_the_fifo_when_it_returns(tpfs: Mount) -> None:
    tpfs.write("events/sched/sched_switch/enable", "1")
    fd = open_reader(tpfs, 1)
    try:
        fire(tpfs, 1, range(1, 321))  # over five pages
        data = drain(fd)  # at once: no waiting for the daemon's next tick
        assert pids_of(data) == list(range(1, 321))
        fire(tpfs, 0, range(1, 4))  # another CPU's FIFO, which has no reader
        assert drain(fd) == b""
        fire(tpfs, 1, range(301, 401))
        r, w = os.pipe()
        try:
            moved = os.splice(fd, w, 1 << 16, flags=os.SPLICE_F_NONBLOCK)
            assert pids_of(os.read(r, moved)) == list(range(301, 401))
        finally:
            os.close(r)
            os.close(w)
    finally:
        os.close(fd)
    # the buffer gave them up to the FIFO; CPU 0's stay in it
    raw = os.open(tpfs / "per_cpu/cpu1/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert drain(raw) == b""
    finally:
        os.close(raw)
    assert "prev_pid=3 " in tpfs.read("per_cpu/cpu0/trace")


def test_no_page_moves_without_a_reader(tpfs: Mount) -> None:
    """Before any reader, and after the reader closed: the events stay in the
    buffer for ``trace`` and ``trace_pipe_raw``'s own reads."""
    tpfs.write("events/sched/sched_switch/enable", "1")
    raw = os.open(tpfs / "per_cpu/cpu0/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
    try:
        fire(tpfs, 0, range(1, 3))
        time.sleep(0.1)  # ten of the daemon's ticks
        assert pids_of(drain(raw)) == [1, 2]
        fd = open_reader(tpfs, 0)
        fire(tpfs, 0, range(3, 5))
        assert pids_of(drain(fd)) == [3, 4]
        os.close(fd)  # came and went: the daemon keeps the write end
        fire(tpfs, 0, range(5, 7))
        time.sleep(0.1)
        assert pids_of(drain(raw)) == [5, 6]
    finally:
        os.close(raw)


READ_IN_NAMESPACE = r"""
import os, stat, sys
path = "/sys/kernel/tracing/per_cpu/cpu%s/trace_pipe_raw" % sys.argv[1]
fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
assert stat.S_ISFIFO(os.fstat(fd).st_mode), "not the FIFO"
out = b""
while True:
    try:
        out += os.read(fd, 4096)
    except BlockingIOError:
        break
sys.stdout.buffer.write(out)
"""


def test_a_reader_in_exec_as_tracefs_finds_what_was_buffered(tpfs: Mount) -> None:
    """libtracefs's way: open non-blocking and read at once. The walk to the bound
    FIFO looks up the tpfs file under it, and the daemon fills the FIFO then;
    ``trace`` still showed the events before (setting up the namespace moved none)."""
    if os.geteuid() != 0:
        pytest.skip("exec-as-tracefs needs root")
    tpfs.write("events/sched/sched_switch/enable", "1")
    fire(tpfs, 1, range(1, 101))
    shown = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tpfs.path),
                            "--", "cat", "/sys/kernel/tracing/trace"],
                           capture_output=True, text=True, timeout=60)
    assert shown.stdout.count(" sched_switch: ") == 100, shown.stderr
    res = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tpfs.path),
                          "--", sys.executable, "-c", READ_IN_NAMESPACE, "1"],
                         capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert pids_of(res.stdout) == list(range(1, 101))


def test_an_instance_has_fifos_while_it_exists(mount_factory) -> None:
    """Made at ``mkdir`` (``instances/NAME/cpuN``), removed at ``rmdir``, and made again
    for an instance made again under the same name; all gone when the daemon ends."""
    mount = mount_factory("--cpus", "3")
    directory = fifos(mount)
    for name in ("one", "two words"):
        (mount.path / "instances" / name).mkdir()
    made = directory / "instances"
    assert sorted(p.name for p in made.iterdir()) == ["one", "two words"]
    assert sorted(p.name for p in (made / "two words").iterdir()) == ["cpu0", "cpu1", "cpu2"]
    assert all(stat.S_ISFIFO(p.stat().st_mode) for p in (made / "one").iterdir())
    (mount.path / "instances" / "one").rmdir()
    assert sorted(p.name for p in made.iterdir()) == ["two words"]
    (mount.path / "instances" / "one").mkdir()
    assert stat.S_ISFIFO((made / "one" / "cpu0").stat().st_mode)
    with pytest.raises(FileExistsError):  # a refused mkdir changes nothing
        (mount.path / "instances" / "one").mkdir()
    assert sorted(p.name for p in made.iterdir()) == ["one", "two words"]
    assert mount.stop() == 0
    assert not directory.exists()


def test_an_instances_fifo_gets_its_buffers_pages(tpfs: Mount) -> None:
    """A reader of an instance's FIFO gets the events fired into that instance, and
    the top level's FIFO for the same CPU none of them."""
    (tpfs.path / "instances" / "inst").mkdir()
    tpfs.write("instances/inst/events/sched/sched_switch/enable", "1")
    top = open_reader(tpfs, 1)
    fd = os.open(fifos(tpfs) / "instances" / "inst" / "cpu1", os.O_RDONLY | os.O_NONBLOCK)
    try:
        fire(tpfs, 1, range(1, 201))
        assert pids_of(drain(fd)) == list(range(1, 201))
        assert drain(top) == b""
    finally:
        os.close(fd)
        os.close(top)


READ_INSTANCE_IN_NAMESPACE = r"""
import os, stat, sys
tracing = "/sys/kernel/tracing/instances/"
os.mkdir(tracing + "later")
later = os.stat(tracing + "later/per_cpu/cpu1/trace_pipe_raw")
assert stat.S_ISREG(later.st_mode), "an instance made in the namespace has a FIFO bound"
fd = os.open(tracing + "inst/per_cpu/cpu1/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
assert stat.S_ISFIFO(os.fstat(fd).st_mode), "not the FIFO"
out = b""
while True:
    try:
        out += os.read(fd, 4096)
    except BlockingIOError:
        break
sys.stdout.buffer.write(out)
"""


def test_exec_as_tracefs_binds_the_fifos_of_the_instances_there(tpfs: Mount) -> None:
    """An instance made before ``exec-as-tracefs`` starts has its FIFOs bound there, and
    a non-blocking reader finds what the instance's buffer held; one made inside
    keeps its tpfs ``trace_pipe_raw``."""
    if os.geteuid() != 0:
        pytest.skip("exec-as-tracefs needs root")
    (tpfs.path / "instances" / "inst").mkdir()
    tpfs.write("instances/inst/events/sched/sched_switch/enable", "1")
    fire(tpfs, 1, range(1, 101))
    res = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tpfs.path),
                          "--", sys.executable, "-c", READ_INSTANCE_IN_NAMESPACE],
                         capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert pids_of(res.stdout) == list(range(1, 101))
    assert sorted(p.name for p in (tpfs.path / "instances").iterdir()) == ["inst", "later"]
