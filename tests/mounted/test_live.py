"""``--live``: the machine's real events flow into tpfs through a kernel instance of its own.

Root only, with the kernel's tracefs; these tests take the kernel lock
(tests/conftest.py) since they change the kernel's tracing state (an
instance of tpfs's) while they run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tpfs.tools.mounting import Mount, is_mounted

GETPPID = "syscalls/sys_enter_getppid"
#: A line of ``trace``: its event's name, or a syscall's (``sys_getppid()``, as the kernel's).
LINE = re.compile(r" *(.+)-(\d+) +\[(\d{3})\] \S{5} +(\d+\.\d{6}): (\w+)[:(]")
#: Calls os.getppid() argv[1] times, and os.getpriority(PRIO_PROCESS, 0) argv[2] times;
#: prints its pid first.
CALLER = """
import os, sys
print(os.getpid(), flush=True)
for _ in range(int(sys.argv[1])):
    os.getppid()
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 0):
    os.getpriority(os.PRIO_PROCESS, 0)
"""


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Path]:
    """The kernel's tracefs, mounted for looking at (nothing is changed through it)."""
    if os.geteuid() != 0:
        pytest.skip("--live needs root")
    mnt = tmp_path / "kernel"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tracefs", "nodev", str(mnt)]).returncode:
        pytest.skip("the kernel's tracefs cannot be mounted here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture
def live(kernel: Path, mount_factory: Callable[..., Mount]) -> Mount:
    return mount_factory("--live")


def call(getppid: int, getpriority: int = 0) -> int:
    """Run a process that makes the calls; its pid."""
    done = subprocess.run([sys.executable, "-c", CALLER, str(getppid), str(getpriority)],
                          capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout.split()[0])


def events(mount: Mount, name: str = "trace") -> list[tuple[str, int, int, float, str]]:
    """(comm, pid, cpu, time stamp, event) of each line of ``name``."""
    out = []
    for line in mount.read(name).splitlines():
        if not line.startswith("#"):
            m = LINE.match(line)
            assert m is not None, line
            out.append((m[1].strip(), int(m[2]), int(m[3]), float(m[4]), m[5]))
    return out


def settle(mount: Mount, done: Callable[[], bool], timeout: float = 20) -> None:
    """Wait until ``done()`` (the reader has carried the kernel's records over)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, mount.read("trace")[-3000:]
        time.sleep(0.05)


def ours(kernel: Path) -> list[str]:
    return sorted(p.name for p in (kernel / "instances").iterdir()
                  if p.name.startswith("tpfs-live-"))


def test_a_processs_getppid_calls_appear_with_its_pid(live: Mount, kernel: Path) -> None:
    live.write(f"events/{GETPPID}/enable", "1")
    [name] = ours(kernel)
    assert (kernel / f"instances/{name}/events/{GETPPID}/enable").read_text() == "1\n"
    assert (kernel / f"events/{GETPPID}/enable").read_text() == "0\n"  # not the top level
    pid = call(200)
    # Opening trace brings in what the kernel recorded before: no waiting.
    mine = [e for e in events(live) if e[1] == pid]
    assert len(mine) == 200
    assert {e[4] for e in mine} == {"sys_getppid"}
    assert {e[0] for e in mine} == {Path(sys.executable).name[:15]}  # its comm
    live.write(f"events/{GETPPID}/enable", "0")
    assert (kernel / f"instances/{name}/events/{GETPPID}/enable").read_text() == "0\n"


def test_live_records_keep_the_kernels_time_stamps_when_read_late(live: Mount) -> None:
    """The daemon stopped while the calls are made: their records are read after it
    resumes, and still carry the time they happened on the monotonic clock."""
    live.write(f"events/{GETPPID}/enable", "1")
    before = time.monotonic()
    os.kill(live.proc.pid, signal.SIGSTOP)
    try:
        pid = call(20)
        after = time.monotonic()
        time.sleep(0.3)
    finally:
        os.kill(live.proc.pid, signal.SIGCONT)
    settle(live, lambda: sum(e[1] == pid for e in events(live)) >= 20)
    stamps = [e[3] for e in events(live) if e[1] == pid]
    assert before - 1e-5 <= min(stamps) and max(stamps) <= after + 1e-5, (before, stamps, after)


def test_reading_trace_ends_while_live_events_pour_in(live: Mount) -> None:
    """Each read of the mount makes the scheduler record more: ``trace`` shows what
    was there when it was opened (the kernel pauses recording meanwhile), or a
    reader could chase the events it causes forever."""
    live.write("events/sched/enable", "1")
    live.write("events/raw_syscalls/enable", "1")
    time.sleep(0.2)
    fd = os.open(live.path / "trace", os.O_RDONLY)
    try:
        read, deadline = 0, time.monotonic() + 60
        while chunk := os.read(fd, 256):  # many small reads: many switches recorded
            read += len(chunk)
            assert time.monotonic() < deadline, f"{read} bytes and counting"
    finally:
        os.close(fd)
    assert read > 1000  # the header and events
    live.write("events/sched/enable", "0")
    live.write("events/raw_syscalls/enable", "0")


def test_events_the_kernels_instance_lost_are_lost_in_tpfs(live: Mount, kernel: Path) -> None:
    """The daemon stopped while a task pinned to CPU 0 makes more calls than the kernel
    instance's buffer (made small here) holds: tpfs counts the overwritten ones lost."""
    live.write(f"events/{GETPPID}/enable", "1")
    [name] = ours(kernel)
    (kernel / f"instances/{name}/per_cpu/cpu0/buffer_size_kb").write_text("16")
    os.kill(live.proc.pid, signal.SIGSTOP)
    try:
        subprocess.run(["taskset", "-c", "0", sys.executable, "-c", CALLER, "5000"],
                       check=True, timeout=60, capture_output=True)
    finally:
        os.kill(live.proc.pid, signal.SIGCONT)

    def overrun(stats: str) -> int:
        return int(re.search(r"^overrun: (\d+)$", stats, re.M)[1])  # type: ignore[index]

    lost = overrun((kernel / f"instances/{name}/per_cpu/cpu0/stats").read_text())
    assert lost > 0
    settle(live, lambda: overrun(live.read("per_cpu/cpu0/stats")) >= lost)
    assert overrun(live.read("per_cpu/cpu0/stats")) == lost
    fd = os.open(live.path / "per_cpu/cpu0/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        first = os.read(fd, 4096)
    finally:
        os.close(fd)
    assert first.startswith(b"CPU:0 [LOST "), first[:200]


def test_an_instance_and_set_event_want_the_event_until_the_last_lets_go(
        live: Mount, kernel: Path) -> None:
    (live.path / "instances/a").mkdir()
    live.write("instances/a/set_event", "syscalls:sys_enter_getppid\n")
    live.write(f"events/{GETPPID}/enable", "1")
    [name] = ours(kernel)
    enable = kernel / f"instances/{name}/events/{GETPPID}/enable"
    assert enable.read_text() == "1\n"
    live.write(f"events/{GETPPID}/enable", "0")
    assert enable.read_text() == "1\n"  # the instance still wants it
    pid = call(30)
    settle(live, lambda: sum(e[1] == pid for e in events(live, "instances/a/trace")) >= 30)
    assert not [e for e in events(live) if e[1] == pid]  # the top level does not
    (live.path / "instances/a/set_event").write_text("")  # O_TRUNC clears it
    assert enable.read_text() == "0\n"


def test_a_fired_module_event_sits_between_two_bursts(live: Mount) -> None:
    live.write("modules/load", "livemod live:tick\n")
    live.write("events/live/tick/enable", "1")
    live.write(f"events/{GETPPID}/enable", "1")
    first = call(50)
    live.write("fire", "live:tick\n")
    second = call(50)
    settle(live, lambda: sum(e[1] == second for e in events(live)) >= 50)
    seen = events(live)
    tick = [e[3] for e in seen if e[4] == "tick"]
    assert len(tick) == 1
    assert max(e[3] for e in seen if e[1] == first) <= tick[0]
    assert tick[0] <= min(e[3] for e in seen if e[1] == second)
    order = [e[1] if e[4] != "tick" else "tick" for e in seen
             if e[1] in (first, second) or e[4] == "tick"]
    assert order == [first] * 50 + ["tick"] + [second] * 50


def test_filters_pid_filters_and_hists_act_on_live_records(live: Mount) -> None:
    live.write("events/syscalls/sys_enter_getpriority/filter", "who == 0")
    live.write("events/syscalls/sys_enter_getpriority/enable", "1")
    live.write(f"events/{GETPPID}/trigger", "hist:keys=common_pid")
    a = call(20, 7)
    settle(live, lambda: sum(e[1] == a and e[4] == "sys_getpriority"
                             for e in events(live)) >= 7)
    time.sleep(0.3)
    assert sum(e[1] == a and e[4] == "sys_getpriority" for e in events(live)) == 7
    # The getpriority calls of python's own start (who != 0) were filtered out.
    # getppid is not enabled: its hist trigger alone registers its probe.
    assert not [e for e in events(live) if e[4] == "sys_getppid"]
    hist = live.read(f"events/{GETPPID}/hist")
    assert re.search(rf"common_pid: +{a} .*hitcount: +20\n", hist), hist
    live.write("events/syscalls/sys_enter_getpriority/enable", "0")
    (live.path / "trace").write_text("")
    live.write(f"events/{GETPPID}/enable", "1")
    live.write("set_event_pid", str(os.getpid()))
    b = call(10)
    time.sleep(0.5)
    (live.path / "set_event_pid").write_text("")
    c = call(10)
    settle(live, lambda: sum(e[1] == c for e in events(live)) >= 10)
    assert b not in {e[1] for e in events(live)}


def test_an_eprobe_on_a_live_event_fires_with_it(live: Mount, kernel: Path) -> None:
    """An eprobe is tpfs's own (the kernel is not asked for it); while its attached
    host event is enabled somewhere (here in an instance), the eprobe records each
    live record of it."""
    live.write("dynamic_events", "e:ep/who syscalls/sys_enter_getpriority w=$who\n")
    live.write("events/ep/who/enable", "1")
    (live.path / "instances/a").mkdir()
    live.write("instances/a/events/syscalls/sys_enter_getpriority/enable", "1")
    [name] = ours(kernel)
    assert not (kernel / f"instances/{name}/events/ep").exists()
    pid = call(0, 5)
    mine = [e for e in events(live) if e[1] == pid]
    assert [e[4] for e in mine] == ["who"] * 5, mine
    assert "sys_getpriority(" not in live.read("trace")  # not enabled itself


@pytest.mark.parametrize("where", ["", "instances/a/"])
def test_an_eprobe_alone_asks_the_kernel_for_its_attached_event(live: Mount, kernel: Path,
                                                                 where: str) -> None:
    """Enabling an eprobe makes its attached event fire, as the kernel's trigger on it
    does (soft mode: ``0*``): tpfs's kernel instance enables the host event while the
    eprobe is enabled, though no tpfs instance enables the event itself, and its live
    records feed the eprobe."""
    live.write("dynamic_events", f"e:ep/ppid {GETPPID.replace('/', '.')}\n")
    if where:
        (live.path / where).mkdir()
    [name] = ours(kernel)
    host = kernel / f"instances/{name}/events/{GETPPID}/enable"
    assert host.read_text() == "0\n"
    live.write(f"{where}events/ep/ppid/enable", "1")
    assert host.read_text() == "1\n"
    assert live.read(f"{where}events/{GETPPID}/enable") == "0*\n"
    pid = call(40)
    mine = [e for e in events(live, f"{where}trace") if e[1] == pid]
    assert [e[4] for e in mine] == ["ppid"] * 40, mine
    live.write(f"{where}events/ep/ppid/enable", "0")
    assert host.read_text() == "0\n"
    assert live.read(f"{where}events/{GETPPID}/enable") == "0\n"


def test_a_synthetic_event_fed_by_live_records_asks_for_its_events(live: Mount,
                                                                    kernel: Path) -> None:
    """The hist triggers that feed a synthetic event (``onmatch``) put their events
    in soft mode, which registers their probes: the kernel instance enables both,
    though no tpfs instance enables either, and each call makes a synthetic record."""
    live.write("synthetic_events", "ppid_lat u64 lat\n")
    enter, leave = GETPPID, GETPPID.replace("enter", "exit")
    live.write(f"events/{enter}/trigger", "hist:keys=common_pid:ts0=common_timestamp.usecs")
    live.write(f"events/{leave}/trigger",
               "hist:keys=common_pid:lat=common_timestamp.usecs-$ts0:"
               "onmatch(syscalls.sys_enter_getppid).trace(ppid_lat,$lat)")
    live.write("events/synthetic/ppid_lat/enable", "1")
    [name] = ours(kernel)
    for event in (enter, leave):
        assert (kernel / f"instances/{name}/events/{event}/enable").read_text() == "1\n"
        assert live.read(f"events/{event}/enable") == "0*\n"
    pid = call(15)
    mine = [e for e in events(live) if e[1] == pid]
    assert [e[4] for e in mine] == ["ppid_lat"] * 15, mine


def test_every_host_event_enabled_leaves_other_requests_served(live: Mount,
                                                                kernel: Path) -> None:
    """``events/enable`` on a live mount floods the daemon with every event the machine
    makes; it carries them in short turns, so a small read still gets its answer in
    well under a second (before the turns were bounded by time: about 5 s)."""
    live.write("events/enable", "1")
    try:
        [name] = ours(kernel)
        assert (kernel / f"instances/{name}/events/sched/sched_switch/enable").read_text() \
            == "1\n"
        time.sleep(0.5)  # the flood is on
        took = []
        for _ in range(7):
            start = time.monotonic()
            assert live.read("tracing_on") == "1\n"
            took.append(time.monotonic() - start)
            time.sleep(0.05)
        assert sorted(took)[3] < 1.5, took
    finally:
        live.write("events/enable", "0")
    assert (kernel / f"instances/{name}/set_event").read_text() == ""


def test_the_instance_goes_with_the_daemon_and_a_killed_ones_with_the_next(
        kernel: Path, mount_factory: Callable[..., Mount]) -> None:
    before = ours(kernel)
    first = mount_factory("--live", name="first")
    assert len(ours(kernel)) == len(before) + 1
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(10) == 0
    assert ours(kernel) == before
    second = mount_factory("--live", name="second")
    [left] = set(ours(kernel)) - set(before)
    second.proc.kill()
    second.proc.wait(10)
    subprocess.run(["umount", "-l", str(second.path)], check=False)
    assert left in ours(kernel)  # SIGKILL: nothing could remove it
    third = mount_factory("--live", name="third")
    assert left not in ours(kernel)
    assert len(ours(kernel)) == len(before) + 1
    third.stop()
    assert ours(kernel) == before


def test_without_live_the_kernels_instances_stay_as_they_were(
        kernel: Path, mount_factory: Callable[..., Mount]) -> None:
    before = sorted(p.name for p in (kernel / "instances").iterdir())
    plain = mount_factory()
    plain.write(f"events/{GETPPID}/enable", "1")
    (plain.path / "instances/x").mkdir()
    call(5)
    assert sorted(p.name for p in (kernel / "instances").iterdir()) == before
    assert not [e for e in events(plain) if e[4] == "sys_getppid"]
    plain.stop()
    assert sorted(p.name for p in (kernel / "instances").iterdir()) == before


@pytest.mark.parametrize("exposing", [["--allow-other"], ["--gid", "0"]])
def test_live_is_root_s_alone_unless_the_exposure_is_accepted(
        kernel: Path, tmp_path: Path, exposing: list[str]) -> None:
    before = ours(kernel)
    mnt = tmp_path / "m"
    mnt.mkdir()
    err = tmp_path / "stderr"
    with open(err, "w") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "tpfs", str(mnt), "--foreground",
                                   "--live", *exposing], stderr=out)
    try:
        status = daemon.wait(20)
    finally:
        if daemon.poll() is None:  # it mounted: end it
            daemon.terminate()
            daemon.wait(10)
    said = err.read_text()
    assert status == 1 and "--live-expose-all" in said, said
    assert len(said.strip().splitlines()) == 1
    assert not is_mounted(mnt)
    assert ours(kernel) == before  # no instance made
