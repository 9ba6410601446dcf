"""Instances through a mount, where only tpfs can fire: every instance that enabled
an event records its firings, instances survive module churn, and removing
one takes its probes with it. (What the kernel does too is in
tests/compat/test_instances_options_compat.py.)"""

from __future__ import annotations

import errno
import os
import select
import threading
import time

import pytest
from model.kbuffer import decode

from tpfs.tools.mounting import Mount

SWITCH = "sched:sched_switch prev_comm=a prev_pid={} next_comm=b next_pid=2\n"
PROBE = "trace_event_raw_event_sched_switch"


def events_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_a_firing_records_into_every_instance_that_enabled_the_event(tpfs: Mount) -> None:
    os.mkdir(tpfs / "instances/one")
    os.mkdir(tpfs / "instances/two")
    tpfs.write("instances/one/events/sched/sched_switch/enable", "1")
    tpfs.write("events/sched/sched_switch/enable", "1")
    tpfs.write("instances/one/events/sched/sched_switch/filter", "prev_pid != 7")
    tpfs.write("fire", SWITCH.format(5) + SWITCH.format(7))
    assert len(events_of(tpfs.read("trace"))) == 2
    assert ["prev_pid=5" in line for line in events_of(tpfs.read("instances/one/trace"))] == [True]
    assert events_of(tpfs.read("instances/two/trace")) == []
    # One probe per instance, told apart by its data, as the kernel's trace_event_file.
    probes = tpfs.read("probes/sched:sched_switch").splitlines()
    assert sorted(line.rsplit(" ", 1)[0] for line in probes) == [f"{PROBE} 0x0", f"{PROBE} 0x1"]
    os.rmdir(tpfs / "instances/one")
    assert tpfs.read("probes/sched:sched_switch").splitlines() == [f"{PROBE} 0x0 2"]
    assert os.listdir(tpfs / "instances") == ["two"]


def test_instances_survive_module_churn(tpfs: Mount) -> None:
    os.mkdir(tpfs / "instances/churn")
    tpfs.write("modules/load", "mod m:ev\n")
    tpfs.write("instances/churn/events/m/ev/enable", "1")
    tpfs.write("fire", "m:ev\n")
    assert len(events_of(tpfs.read("instances/churn/trace"))) == 1
    tpfs.write("modules/unload", "mod\n")
    assert not (tpfs / "instances/churn/events/m").exists()
    assert tpfs.read("instances/churn/set_event") == ""
    assert events_of(tpfs.read("instances/churn/trace")) == []  # its records went with it
    tpfs.write("modules/load", "mod m:ev\n")
    assert tpfs.read("instances/churn/events/m/ev/enable") == "0\n"
    os.rmdir(tpfs / "instances/churn")


def test_instances_refuse_what_the_kernel_refuses(tpfs: Mount) -> None:
    for path, code in [("instances/x/y", errno.ENOENT), ("per_cpu/cpu9", errno.EPERM),
                       ("events/newsys", errno.EPERM)]:
        with pytest.raises(OSError) as exc:
            os.mkdir(tpfs / path)
        assert exc.value.errno == code, path
    os.mkdir(tpfs / "instances/busy")
    fd = os.open(tpfs / "instances/busy/events/sched/sched_switch/enable", os.O_RDONLY)
    try:
        with pytest.raises(OSError) as exc:
            os.rmdir(tpfs / "instances/busy")
        assert exc.value.errno == errno.EBUSY
    finally:
        os.close(fd)
    os.rmdir(tpfs / "instances/busy")


def test_an_instance_trace_pipe_waits_for_its_own_events(tpfs: Mount) -> None:
    os.mkdir(tpfs / "instances/pipe")
    tpfs.write("instances/pipe/events/sched/sched_switch/enable", "1")
    fd = os.open(tpfs / "instances/pipe/trace_pipe", os.O_RDONLY)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(os.read(fd, 4096)), daemon=True)
    try:
        reader.start()
        time.sleep(0.3)
        tpfs.write("trace_marker", "top level only")  # not for this instance
        time.sleep(0.3)
        assert not got
        tpfs.write("fire", SWITCH.format(3))
        reader.join(5)
        assert got and b"prev_pid=3" in got[0]
    finally:
        os.close(fd)
    os.rmdir(tpfs / "instances/pipe")


def test_trace_pipe_raw_pages_hold_fired_events_and_wait(tpfs: Mount) -> None:
    tpfs.write("events/sched/sched_switch/enable", "1")
    tpfs.write("buffer_percent", "0")
    fd = os.open(tpfs / "per_cpu/cpu1/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert select.select([fd], [], [], 0.1)[0] == []
        tpfs.write("fire", "".join(SWITCH.format(pid).rstrip("\n") + " @cpu=1\n"
                                   for pid in (11, 12)))
        assert select.select([fd], [], [], 1)[0] == [fd]
        first = os.read(fd, 100)  # a short read takes the start of the page
        page = first + os.read(fd, 4096 - 100)
        assert len(page) == 4096
        with pytest.raises(BlockingIOError):
            os.read(fd, 4096)
    finally:
        os.close(fd)
    pids = [int.from_bytes(e.data[24:28], "little") for e in decode(page).events]
    assert pids == [11, 12]


@pytest.mark.usefixtures("on_cpu0")  # its records are on the writer's CPU
def test_record_tgid_shows_the_tgid_column(tpfs: Mount) -> None:
    tpfs.write("events/sched/sched_switch/enable", "1")
    tpfs.write("options/record-tgid", "1")
    tpfs.write("fire", SWITCH.rstrip("\n").format(4) + " @pid=42 @comm=worker\n")
    text = tpfs.read("trace")
    assert "#           TASK-PID       TGID    CPU#  |||||  TIMESTAMP  FUNCTION\n" in text
    [line] = events_of(text)
    assert line.lstrip().startswith("worker-42      (     42) [000] ")
    assert tpfs.read("saved_tgids") == "42 42\n"
