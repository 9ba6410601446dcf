"""Filters and triggers that act, through a mount: events fired through the
fire file pass or not, and triggers turn tracing and other events on and off."""

from __future__ import annotations

import os

from tpfs.tools.mounting import Mount

EVENT = "events/sched/sched_switch/"
WAKEUP = "events/sched/sched_wakeup/"


def events_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def switch(prev: int, extra: str = "", prev_comm: str = "a") -> str:
    return (f"sched:sched_switch prev_comm={prev_comm} prev_pid={prev} next_comm=b next_pid=2"
            f" {extra}\n")


def prev_pids(mount: Mount) -> list[int]:
    return [int(line.split("prev_pid=")[1].split()[0])
            for line in events_of(mount.read("trace")) if "sched_switch:" in line]


def test_a_filter_passes_and_blocks_by_numeric_and_string_fields(tpfs: Mount) -> None:
    tpfs.write(EVENT + "enable", "1")
    tpfs.write(EVENT + "filter", 'prev_pid >= 3 && prev_comm ~ "sh*"')
    tpfs.write("fire", switch(1, prev_comm="sh") + switch(3, prev_comm="sh")
               + switch(4, prev_comm="bash") + switch(5, prev_comm="shell"))
    assert prev_pids(tpfs) == [3, 5]
    tpfs.write(EVENT + "filter", "0")
    assert tpfs.read(EVENT + "filter") == "none\n"
    tpfs.write("fire", switch(1))
    assert prev_pids(tpfs) == [3, 5, 1]


def test_a_filter_on_the_task_and_the_cpu(tpfs: Mount, on_cpu0: None) -> None:
    tpfs.write(EVENT + "enable", "1")
    tpfs.write(EVENT + "filter", 'COMM == "worker" || CPU == 1')
    tpfs.write("fire", switch(1, "@comm=worker @pid=9") + switch(2, "@comm=other @pid=9")
               + switch(3))
    if (os.cpu_count() or 1) > 1:
        tpfs.write("fire", switch(4, "@cpu=1"))
        assert prev_pids(tpfs) == [1, 4]
    else:
        assert prev_pids(tpfs) == [1]


def test_a_subsystem_filter_filters_the_events_it_fits(tpfs: Mount) -> None:
    tpfs.write("events/sched/enable", "1")
    tpfs.write("events/sched/filter", "prev_pid == 3")
    assert tpfs.read(EVENT + "filter") == "prev_pid == 3\n"
    tpfs.write("fire", switch(1) + switch(3) + "sched:sched_wakeup pid=7\n")
    lines = events_of(tpfs.read("trace"))
    assert prev_pids(tpfs) == [3]
    assert sum("sched_wakeup:" in line for line in lines) == 1  # no prev_pid: unfiltered
    tpfs.write("events/sched/filter", "0")
    tpfs.write("fire", switch(1))
    assert prev_pids(tpfs) == [3, 1]


def test_traceoff_stops_recording_after_the_event_that_tripped_it(tpfs: Mount) -> None:
    tpfs.write(EVENT + "enable", "1")
    tpfs.write(EVENT + "trigger", "traceoff")
    tpfs.write("fire", switch(1) + switch(2))
    assert prev_pids(tpfs) == [1]
    assert tpfs.read("tracing_on") == "0\n"
    assert tpfs.read(EVENT + "trigger") == "traceoff:unlimited\n"


def test_traceon_with_a_count(tpfs: Mount) -> None:
    tpfs.write(EVENT + "enable", "1")
    tpfs.write(EVENT + "trigger", "traceon:1")
    tpfs.write("tracing_on", "0")
    tpfs.write("fire", switch(1))
    assert tpfs.read("tracing_on") == "1\n"
    assert tpfs.read(EVENT + "trigger") == "traceon:count=0\n"
    tpfs.write("tracing_on", "0")
    tpfs.write("fire", switch(2))
    assert tpfs.read("tracing_on") == "0\n"
    assert prev_pids(tpfs) == [1]


def test_a_trigger_with_a_filter_acts_on_the_firings_it_matches(tpfs: Mount) -> None:
    tpfs.write(EVENT + "enable", "1")
    tpfs.write(EVENT + "trigger", "traceoff if prev_pid == 2")
    tpfs.write("fire", switch(1) + switch(3))
    assert tpfs.read("tracing_on") == "1\n"
    tpfs.write("fire", switch(2) + switch(4))
    assert tpfs.read("tracing_on") == "0\n"
    assert prev_pids(tpfs) == [1, 3, 2]
    assert tpfs.read(EVENT + "trigger") == "traceoff:unlimited if prev_pid == 2\n"


def test_enable_event_turns_on_another_event(tpfs: Mount) -> None:
    tpfs.write(EVENT + "trigger", "enable_event:sched:sched_wakeup:1")
    tpfs.write("fire", "sched:sched_wakeup pid=7\n" + switch(1) + "sched:sched_wakeup pid=8\n")
    [line] = events_of(tpfs.read("trace"))  # only the wakeup after the switch
    assert "sched_wakeup:" in line and "pid=8" in line
    assert tpfs.read(EVENT + "trigger") == "enable_event:sched:sched_wakeup:count=0\n"
    assert tpfs.read("set_event") == "sched:sched_switch\nsched:sched_wakeup\n"


def test_soft_mode_shows_in_enable(tpfs: Mount) -> None:
    tpfs.write(EVENT + "trigger", "enable_event:sched:sched_wakeup")
    assert tpfs.read(WAKEUP + "enable") == "0*\n"
    assert tpfs.read(EVENT + "enable") == "0*\n"
    tpfs.write("fire", switch(1))
    assert tpfs.read(WAKEUP + "enable") == "1*\n"


def test_stacktrace_records_a_kernel_stack(tpfs: Mount) -> None:
    tpfs.write(EVENT + "enable", "1")
    tpfs.write(EVENT + "trigger", "stacktrace")
    tpfs.write("fire", switch(1, "@comm=worker @pid=9"))
    lines = events_of(tpfs.read("trace"))
    assert "sched_switch:" in lines[0]
    # As the kernel prints it, with no callers: tpfs has no kernel stack to walk.
    assert lines[1].lstrip().startswith("worker-9 ") and lines[1].endswith(": <stack trace>")
