"""Events fire into per-CPU buffers and read back from trace, through a mount:
the fire file, trace_marker, per_cpu/, saved_cmdlines and probe hit counts."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tpfs.tools.mounting import Mount

SWITCH = "events/sched/sched_switch/enable"
FIRE_SWITCH = "sched:sched_switch prev_comm=a prev_pid=1 next_comm=b next_pid=2"
SWITCH_TEXT = ("sched_switch: prev_comm=a prev_pid=1 prev_prio=0 prev_state=R ==> "
               "next_comm=b next_pid=2 next_prio=0")


def events_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def fails(mount: Mount, name: str, text: str, code: int) -> None:
    with pytest.raises(OSError) as exc:
        mount.write(name, text)
    assert exc.value.errno == code, (name, text)


@pytest.mark.usefixtures("on_cpu0")  # its records are on the writer's CPU
def test_an_enabled_event_fires_into_trace_as_the_kernel_prints_it(tpfs: Mount) -> None:
    tpfs.write(SWITCH, "1")
    tpfs.write("fire", f"{FIRE_SWITCH} @pid=7\n")
    [line] = events_of(tpfs.read("trace"))
    assert line.startswith("           <...>-7       [000] ..... ")
    assert line.endswith(f": {SWITCH_TEXT}")
    assert "entries-in-buffer/entries-written: 1/1   #P:" in tpfs.read("trace")
    assert tpfs.read("probes/sched:sched_switch") == "trace_event_raw_event_sched_switch 0x0 1\n"
    tpfs.write("fire", f"{FIRE_SWITCH}\n")  # as the writer, by default
    comm = Path("/proc/self/comm").read_text().strip()
    assert events_of(tpfs.read("trace"))[1].lstrip().startswith(f"{comm}-{os.getpid()} ")


def test_a_disabled_event_records_nothing_but_its_probes_count_hits(tpfs: Mount) -> None:
    tpfs.write("probes/register", "sched:sched_switch myprobe 0x10\n")
    tpfs.write("fire", f"{FIRE_SWITCH} @count=3\n")
    assert events_of(tpfs.read("trace")) == []
    assert tpfs.read("probes/sched:sched_switch") == "myprobe 0x10 3\n"


@pytest.mark.usefixtures("on_cpu0")  # its records are on the writer's CPU
def test_cpu_comm_count_and_the_per_cpu_files(tpfs: Mount) -> None:
    tpfs.write(SWITCH, "1")
    tpfs.write("fire", f"{FIRE_SWITCH} @cpu=1 @comm=worker @pid=42 @count=3\n"
                       f"{FIRE_SWITCH} @pid=9\n")
    lines = events_of(tpfs.read("trace"))
    assert len(lines) == 4
    assert sum(line.startswith("          worker-42      [001] ") for line in lines) == 3
    assert len(events_of(tpfs.read("per_cpu/cpu1/trace"))) == 3
    assert len(events_of(tpfs.read("per_cpu/cpu0/trace"))) == 1
    stats = dict(line.split(": ", 1) for line in tpfs.read("per_cpu/cpu1/stats").splitlines())
    assert stats["entries"] == "3" and stats["overrun"] == "0"
    assert "42 worker" in tpfs.read("saved_cmdlines").splitlines()
    with open(tpfs / "trace", "w"):  # echo > trace clears every buffer
        pass
    assert events_of(tpfs.read("trace")) == []


def test_a_bad_fire_batch_fires_nothing(tpfs: Mount) -> None:
    tpfs.write(SWITCH, "1")
    for text, code in [(f"{FIRE_SWITCH}\nsched:sched_switch bogus=1\n", errno.EINVAL),
                       (f"{FIRE_SWITCH}\nsched:sched_switch prev_pid=4294967296\n",
                        errno.EINVAL),
                       (f"{FIRE_SWITCH}\nsched:sched_switch prev_comm={'x' * 16}\n",
                        errno.EINVAL),
                       (f"{FIRE_SWITCH}\nnosuch:event\n", errno.ENOENT),
                       (f"{FIRE_SWITCH} @cpu=4096\n", errno.EINVAL),
                       (f"{FIRE_SWITCH} @count=0\n", errno.EINVAL),
                       (f"{FIRE_SWITCH} @count=100000\n{FIRE_SWITCH}\n", errno.EINVAL),
                       ("bad name\n", errno.EINVAL)]:
        fails(tpfs, "fire", text, code)
    assert events_of(tpfs.read("trace")) == []
    assert tpfs.read("probes/sched:sched_switch").endswith(" 0\n")


def test_tracing_off_and_pid_filters_keep_events_out(tpfs: Mount) -> None:
    tpfs.write(SWITCH, "1")
    tpfs.write("tracing_on", "0")
    tpfs.write("fire", f"{FIRE_SWITCH}\n")
    fails(tpfs, "trace_marker", "lost\n", errno.EBADF)
    tpfs.write("tracing_on", "1")
    tpfs.write("set_event_pid", "5")
    wakeup = "sched:sched_wakeup comm=w pid={woken} @pid={pid}"
    # a wakeup is kept when the current task or the woken one is traced
    tpfs.write("events/sched/sched_wakeup/enable", "1")
    tpfs.write("fire", "\n".join(wakeup.format(woken=w, pid=p)
                                 for w, p in ((6, 6), (6, 5), (5, 6))) + "\n")
    tpfs.write("set_event_notrace_pid", "5")
    tpfs.write("fire", wakeup.format(woken=5, pid=5) + "\n")
    lines = events_of(tpfs.read("trace"))
    assert [ln.split("pid=", 1)[1].split()[0] for ln in lines] == ["6", "5"]
    assert "-5  " in lines[0] and "-6  " in lines[1]


def test_a_switch_is_filtered_by_the_tasks_it_switches(tpfs: Mount) -> None:
    """``event_filter_pid_sched_switch_probe_pre``: a switch is kept when its prev or
    next task is in ``set_event_pid``, and left out by notrace only when both are."""
    tpfs.write(SWITCH, "1")
    tpfs.write("set_event_pid", "5")
    switch = "sched:sched_switch prev_comm=a prev_pid={} next_comm=b next_pid={} @pid=9\n"
    tpfs.write("fire", "".join(switch.format(p, n) for p, n in ((1, 2), (5, 2), (1, 5))))
    os.close(os.open(tpfs / "set_event_pid", os.O_WRONLY | os.O_TRUNC))  # none listed
    assert tpfs.read("set_event_pid") == ""
    tpfs.write("set_event_notrace_pid", "5")
    tpfs.write("fire", "".join(switch.format(p, n) for p, n in ((5, 2), (5, 5))))
    pairs = [(ln.split("prev_pid=")[1].split()[0], ln.split("next_pid=")[1].split()[0])
             for ln in events_of(tpfs.read("trace"))]
    assert pairs == [("5", "2"), ("1", "5"), ("5", "2")]


def test_trace_marker_records_the_writers_pid(tpfs: Mount) -> None:
    fd = os.open(tpfs / "trace_marker", os.O_WRONLY)
    try:
        assert os.write(fd, b"hello") == 5
    finally:
        os.close(fd)
    [line] = events_of(tpfs.read("trace"))
    assert line.endswith(": tracing_mark_write: hello")
    assert line.lstrip().startswith(f"<...>-{os.getpid()} ") and " ...1. " in line


@pytest.mark.usefixtures("on_cpu0")  # its records are on the writer's CPU
def test_a_full_buffer_overwrites_the_oldest_and_counts_them(tpfs: Mount) -> None:
    tpfs.write("buffer_size_kb", "8")  # two pages a CPU: the kernel's minimum
    tpfs.write("trace_clock", "counter")
    tpfs.write(SWITCH, "1")
    tpfs.write("fire", f"{FIRE_SWITCH} @count=1000\n")
    stats = dict(line.split(": ", 1) for line in tpfs.read("per_cpu/cpu0/stats").splitlines())
    kept, overrun = int(stats["entries"]), int(stats["overrun"])
    assert 0 < kept < 1000 and kept + overrun == 1000
    lines = events_of(tpfs.read("per_cpu/cpu0/trace"))
    assert len(lines) == kept
    stamps = [float(line.split("]")[1].split()[1].rstrip(":")) for line in lines]
    assert stamps == sorted(stamps)  # the newest survive, in order
    assert f"entries-written: {kept}/1000" in tpfs.read("trace")
    fails(tpfs, "buffer_size_kb", "1000000", errno.ENOMEM)


def read_in(path: Path, size: int, between=lambda: None) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        parts, total = [], 0
        while chunk := os.read(fd, size):
            parts.append(chunk)
            total += len(chunk)
            assert total < 1 << 20, "the listing does not end"
            between()
        return b"".join(parts)
    finally:
        os.close(fd)


def test_trace_reads_as_a_seq_file_at_any_size_and_under_overwrite(tpfs: Mount) -> None:
    tpfs.write("buffer_size_kb", "8")
    tpfs.write(SWITCH, "1")
    tpfs.write("fire", f"{FIRE_SWITCH} @pid=3 @count=300\n")
    whole = (tpfs / "trace").read_bytes()
    assert read_in(tpfs / "trace", 7) == whole == read_in(tpfs / "trace", 4096)
    # Events overwritten while a reader is part way: it never sees a torn or
    # repeated line, and what it sees stays in time order.
    reads = iter(range(1_000_000))

    def now_and_then() -> None:  # a reader outpaces these firings, so it ends
        if next(reads) % 10 == 0:
            tpfs.write("fire", f"{FIRE_SWITCH} @pid=3\n")

    churned = read_in(tpfs / "trace", 50, now_and_then)
    lines = events_of(churned.decode())
    assert all(line.endswith(SWITCH_TEXT) for line in lines)
    stamps = [int(line.split("]")[1].split()[1].rstrip(":").replace(".", "")) for line in lines]
    assert stamps == sorted(stamps) and len(lines) == len(set(lines))


def test_a_module_whose_events_were_used_empties_the_buffers_when_it_goes(tpfs: Mount) -> None:
    """As the kernel: no record may outlive its event's format (its id is reused)."""
    tpfs.write(SWITCH, "1")
    tpfs.write("modules/load", "quiet q:unused\nbusy b:ev\n")
    tpfs.write("fire", f"{FIRE_SWITCH}\n")
    tpfs.write("modules/unload", "quiet\n")  # its events were never enabled
    assert len(events_of(tpfs.read("trace"))) == 1
    tpfs.write("events/b/ev/enable", "1")
    tpfs.write("fire", "b:ev\n")
    assert len(events_of(tpfs.read("trace"))) == 2
    tpfs.write("modules/unload", "busy\n")
    assert events_of(tpfs.read("trace")) == []
    assert "entries-in-buffer/entries-written: 0/0 " in tpfs.read("trace")


def test_saved_cmdlines_keeps_a_slot_per_pid(tpfs: Mount) -> None:
    """``trace_save_cmdline``: a known pid takes its new name in its own slot."""
    tpfs.write(SWITCH, "1")
    tpfs.write("fire", f"{FIRE_SWITCH} @pid=5 @comm=first\n{FIRE_SWITCH} @pid=6 @comm=other\n"
                       f"{FIRE_SWITCH} @pid=5 @comm=renamed\n")
    assert tpfs.read("saved_cmdlines") == "5 renamed\n6 other\n"


def test_the_buffer_shows_its_boot_size_until_something_uses_it(mount_factory) -> None:
    """``ring_buffer_expanded``: the top level shows ``7 (expanded: 1408)`` until a
    tracer is set (even ``nop``, as ``tracing_set_tracer`` expands first) or an
    event is enabled; an instance is made expanded."""
    for use in (("current_tracer", "nop"), ("events/sched/sched_switch/enable", "1"),
                ("set_event", "sched:sched_wakeup")):
        mount = mount_factory(name=use[0].replace("/", "_"))
        (mount / "instances/fresh").mkdir()
        assert mount.read("instances/fresh/buffer_size_kb") == "1410\n"
        assert mount.read("buffer_size_kb") == "7 (expanded: 1408)\n"
        assert "(expanded:" in mount.read("buffer_total_size_kb")
        mount.write(*use)
        size = mount.read("per_cpu/cpu0/buffer_size_kb")
        assert mount.read("buffer_size_kb") == size == "1410\n", use
        (mount / "instances/fresh").rmdir()


def test_event_fork_follows_forks_into_the_pid_lists(tpfs: Mount) -> None:
    """``options/event-fork``: a fork adds the child to each pid list holding its
    parent, and the task's ``sched_process_free`` takes it out; off, they don't."""
    fork = "sched:sched_process_fork parent_comm=p parent_pid={} child_comm=c child_pid={}\n"
    tpfs.write("set_event_pid", "500")
    tpfs.write("set_event_notrace_pid", "600")
    tpfs.write("fire", fork.format(500, 501))
    assert tpfs.read("set_event_pid") == "500\n"  # the option is off
    tpfs.write("options/event-fork", "1")
    tpfs.write("fire", fork.format(500, 501) + fork.format(7, 8) + fork.format(600, 601))
    assert tpfs.read("set_event_pid") == "500\n501\n"
    assert tpfs.read("set_event_notrace_pid") == "600\n601\n"
    tpfs.write("fire", "sched:sched_process_free comm=p pid=500 prio=120\n")
    assert tpfs.read("set_event_pid") == "501\n"
    tpfs.write("events/sched/sched_wakeup/enable", "1")  # the child's events record
    tpfs.write("fire", "sched:sched_wakeup comm=c pid=9 @pid=501\n"
                       "sched:sched_wakeup comm=c pid=9 @pid=500\n")
    assert [ln.split("-", 1)[1].split()[0] for ln in tpfs.read("trace").splitlines()
            if "sched_wakeup:" in ln] == ["501"]
