"""Dynamic events without a mount: ``kprobe_events``, ``synthetic_events`` and
``dynamic_events`` on the tree object, the events each definition makes in every
instance, and what may not go while something uses it."""

from __future__ import annotations

import errno
import os

import pytest
from tracefs.treefiles import SWITCH, TreeFiles, refused

from tpfs.kernel.registry import Limits

APPEND = os.O_WRONLY | os.O_APPEND
KPROBE = "p:myprobe vfs_read arg1=$arg1\n"


@pytest.fixture
def files() -> TreeFiles:
    return TreeFiles()


def probes(files: TreeFiles, name: str) -> tuple[object, ...]:
    """The probes registered on ``name`` now."""
    entry = files.registry.get_tracepoint(name)
    return () if entry is None else entry.funcs


def events_of(text: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in text.splitlines() if not line.startswith("#")]


def test_a_definition_makes_its_event_in_every_instance_at_once(files: TreeFiles) -> None:
    files.mkdir("instances/before")
    files.write("kprobe_events", KPROBE)
    files.mkdir("instances/after")
    assert files.read("kprobe_events") == files.read("dynamic_events") == (
        "p:kprobes/myprobe vfs_read arg1=$arg1\n")
    assert files.read("synthetic_events") == ""
    ident = files.read("events/kprobes/myprobe/id")
    for where in ("", "instances/before/", "instances/after/"):
        assert files.listing(f"{where}events/kprobes/myprobe") == [
            "enable", "filter", "trigger", "format", "id", "hist"]
        assert files.read(f"{where}events/kprobes/myprobe/id") == ident
    assert "kprobes:myprobe\n" in files.read("available_events")
    assert files.listing("modules") == ["load", "unload"]  # its provider is not listed


def test_an_enabled_event_cannot_go_and_a_used_one_empties_its_buffers(
        files: TreeFiles) -> None:
    files.mkdir("instances/one")
    files.write("kprobe_events", KPROBE)
    files.write("instances/one/events/kprobes/myprobe/enable", "1")
    files.write("fire", "kprobes:myprobe __probe_ip=0x10 arg1=5\n")
    assert events_of(files.read("instances/one/trace")) == ["myprobe: (10) arg1=0x5"]
    assert events_of(files.read("trace")) == []
    assert refused(files.write, "kprobe_events", "-:myprobe\n", APPEND) == errno.EBUSY
    assert refused(files.truncate, "dynamic_events") == errno.EBUSY
    files.write("instances/one/events/kprobes/myprobe/enable", "0")
    files.write("kprobe_events", "-:kprobes/myprobe\n", APPEND)
    assert files.read("dynamic_events") == ""
    assert files.node("instances/one/events/kprobes") is None
    assert events_of(files.read("instances/one/trace")) == []
    assert refused(files.write, "kprobe_events", "-:myprobe\n", APPEND) == errno.ENOENT


def test_o_trunc_removes_every_definition_its_file_takes(files: TreeFiles) -> None:
    files.write("dynamic_events", KPROBE + "s:lat u64 v\n")
    files.truncate("synthetic_events")
    assert files.read("dynamic_events") == "p:kprobes/myprobe vfs_read arg1=$arg1\n"
    files.truncate("kprobe_events")
    assert files.read("dynamic_events") == ""


def test_a_synthetic_event_a_hist_action_fires_is_busy_in_any_instance(
        files: TreeFiles) -> None:
    files.write("synthetic_events", "seen int pid\n")
    files.mkdir("instances/one")
    trigger = "hist:keys=prev_pid:onmatch(sched.sched_switch).trace(seen,prev_pid)"
    files.write("instances/one/events/sched/sched_switch/trigger", trigger)
    assert files.read("events/synthetic/seen/enable") == "0\n"  # not enabled: used
    assert refused(files.write, "synthetic_events", "!seen\n", APPEND) == errno.EBUSY
    assert refused(files.truncate, "synthetic_events") == errno.EBUSY
    files.write("events/synthetic/seen/enable", "1")
    files.write("fire", f"{SWITCH} prev_pid=9\n")
    # fired by the instance's histogram, recorded where it is enabled: the top level
    assert events_of(files.read("trace")) == ["seen: pid=9"]
    files.write("instances/one/events/sched/sched_switch/trigger", "!" + trigger)
    files.write("events/synthetic/seen/enable", "0")
    files.write("synthetic_events", "!seen\n", APPEND)
    assert files.read("synthetic_events") == ""


def test_an_eprobe_fires_with_its_event_when_its_filter_passes(files: TreeFiles) -> None:
    files.write("dynamic_events", "e:ep/f sched/sched_switch p=$prev_pid if prev_pid == 42\n")
    files.mkdir("instances/one")
    files.write("instances/one/events/ep/f/enable", "1")
    files.write("fire", f"{SWITCH} prev_pid=7\n{SWITCH} prev_pid=42\n")
    assert events_of(files.read("instances/one/trace")) == ["f:  p=42"]
    assert events_of(files.read("trace")) == []
    files.write("instances/one/events/ep/f/enable", "0")
    files.write("dynamic_events", "!e:ep/f\n", APPEND)
    assert refused(files.write, "dynamic_events", "!e:ep/f\n", APPEND) == errno.ENOENT


def test_an_enabled_eprobe_holds_its_event_in_soft_mode_where_it_is_enabled(
        files: TreeFiles) -> None:
    """``enable_eprobe`` adds a trigger to the attached event's file and calls
    ``trace_event_trigger_enable_disable``: the event's probe is registered,
    soft-disabled unless it was enabled, and ``enable`` shows the ``*``
    (kernel/trace/trace_eprobe.c; this kernel has no CONFIG_EPROBE_EVENTS)."""
    files.write("dynamic_events", "e:ep/f sched/sched_switch p=$prev_pid\n")
    files.mkdir("instances/one")
    enable = "instances/one/events/sched/sched_switch/enable"
    files.write("instances/one/events/ep/f/enable", "1")
    assert files.read(enable) == "0*\n"
    assert files.read("events/sched/sched_switch/enable") == "0\n"  # not where it is off
    assert probes(files, SWITCH)  # the event's probe, soft-disabled
    files.write("fire", f"{SWITCH} prev_pid=7\n")
    assert events_of(files.read("instances/one/trace")) == ["f:  p=7"]  # the eprobe alone
    files.write(enable, "1")
    assert files.read(enable) == "1*\n"
    files.write("instances/one/events/ep/f/enable", "0")
    assert files.read(enable) == "1\n"
    files.write(enable, "0")
    files.write("instances/one/events/ep/f/enable", "1")
    files.write("instances/one/events/ep/f/enable", "0")
    assert files.read(enable) == "0\n"
    assert not probes(files, SWITCH)  # its probe went with the eprobe
    files.write("instances/one/events/ep/f/enable", "1")
    files.rmdir("instances/one")  # the instance going takes the soft mode with it
    assert not probes(files, SWITCH)


def test_an_eprobe_whose_event_cannot_enter_soft_mode_is_not_enabled(
        files: TreeFiles) -> None:
    files.write("dynamic_events", "e:ep/f sched/sched_switch p=$prev_pid\n")
    files.registry.limits = Limits(max_probes=1)  # the eprobe's own probe, not its event's
    assert refused(files.write, "events/ep/f/enable", "1") == errno.ENOSPC
    assert files.read("events/ep/f/enable") == "0\n"
    assert files.read("events/sched/sched_switch/enable") == "0\n"
    assert not probes(files, "ep:f") and not probes(files, SWITCH)


def test_an_eprobe_attaches_only_to_a_trace_event(files: TreeFiles) -> None:
    files.write("dynamic_events", KPROBE)
    before = files.read("dynamic_events")
    assert refused(files.write, "dynamic_events", "e:ep/on kprobes/myprobe\n",
                   APPEND) == errno.ENODEV  # find_and_get_event: no kprobe or uprobe
    assert files.read("dynamic_events") == before
    files.write("kprobe_events", "-:myprobe\n", APPEND)  # nothing holds it
    assert files.read("dynamic_events") == ""


def test_a_bad_definition_changes_nothing_and_is_logged(files: TreeFiles) -> None:
    assert refused(files.write, "kprobe_events", "p:bad vfs_read $retval\n") == errno.EINVAL
    assert files.read("dynamic_events") == ""
    assert "trace_kprobe: error: " in files.read("error_log")
    files.write("kprobe_events", KPROBE)
    assert refused(files.write, "kprobe_events", KPROBE, APPEND) == errno.EEXIST
