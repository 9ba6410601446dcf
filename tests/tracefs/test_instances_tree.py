"""Instances without a mount: ``instances/`` on the tree object (mkdir, rmdir and their
errnos), and each instance one trace array, its parts made whole at once."""

from __future__ import annotations

import errno

import pytest
from tracefs.treefiles import SWITCH, TreeFiles, refused

from tpfs.tracefs import instance as instance_module


@pytest.fixture
def files() -> TreeFiles:
    return TreeFiles()


def switch(pid: int) -> str:
    return f"{SWITCH} prev_pid={pid} @comm=task\n"


def test_mkdir_makes_a_whole_instance_and_rmdir_takes_it(files: TreeFiles) -> None:
    files.mkdir("instances/one")
    assert files.listing("instances") == ["one"]
    top = set(files.listing(""))
    inst = set(files.listing("instances/one"))
    assert inst < top and {"fire", "instances", "dynamic_events", "modules"} <= top - inst
    assert {"trace", "trace_marker", "per_cpu", "events", "tracing_on", "options"} <= inst
    assert files.read("instances/one/tracing_on") == "1\n"
    assert files.read("instances/one/buffer_size_kb") == "1410\n"  # made expanded
    files.rmdir("instances/one")
    assert files.listing("instances") == []
    assert files.node("instances/one/trace") is None


def test_instance_names_and_their_errnos(files: TreeFiles, monkeypatch) -> None:
    files.mkdir("instances/a")
    assert refused(files.mkdir, "instances/a") == errno.EEXIST
    assert refused(files.mkdir, "instances/..") == errno.EINVAL
    assert refused(files.rmdir, "instances/nosuch") == errno.ENOENT
    assert refused(files.mkdir, "events/x") == errno.EPERM  # only instances/ takes mkdir
    assert refused(files.rmdir, "events/sched") == errno.EPERM
    monkeypatch.setattr(instance_module, "MAX_INSTANCES", 2)
    files.mkdir("instances/b")
    assert refused(files.mkdir, "instances/c") == errno.ENOSPC
    assert files.listing("instances") == ["a", "b"]


@pytest.mark.parametrize("path", ["trace", "trace_pipe", "events/sched/sched_switch/enable",
                                  "per_cpu/cpu1/stats", "options/overwrite"])
def test_rmdir_is_ebusy_while_any_of_the_instances_files_is_open(files: TreeFiles,
                                                                path: str) -> None:
    files.mkdir("instances/busy")
    with files.opened(f"instances/busy/{path}"):
        assert refused(files.rmdir, "instances/busy") == errno.EBUSY
        assert files.listing("instances") == ["busy"]
    files.rmdir("instances/busy")
    assert files.listing("instances") == []


def test_a_top_level_file_open_holds_no_instance(files: TreeFiles) -> None:
    files.mkdir("instances/free")
    files.mkdir("instances/other")
    with files.opened("trace"), files.opened("tracing_on"), files.opened(
            "instances/other/trace"):
        files.rmdir("instances/free")


def test_each_instance_records_what_it_enabled_into_its_own_buffer(files: TreeFiles) -> None:
    files.mkdir("instances/one")
    files.write("instances/one/events/sched/sched_switch/enable", "1")
    files.write("fire", switch(7))
    assert len(files.trace_lines("instances/one/trace")) == 1
    assert files.trace_lines() == []
    files.write("events/sched/sched_switch/enable", "1")
    files.write("instances/one/tracing_on", "0")
    files.write("fire", switch(8))
    assert len(files.trace_lines("instances/one/trace")) == 1
    assert len(files.trace_lines()) == 1


def test_rmdir_takes_the_instances_probes_and_triggers(files: TreeFiles) -> None:
    files.mkdir("instances/one")
    files.write("instances/one/events/sched/sched_switch/enable", "1")
    files.write("instances/one/events/irq/other/trigger", "traceoff")
    probes = files.registry.entries[SWITCH].funcs
    assert len(probes) == 1
    files.rmdir("instances/one")
    assert SWITCH not in files.registry.entries and "irq:other" not in files.registry.entries


def test_buffer_size_kb_resizes_the_instances_own_buffers(files: TreeFiles) -> None:
    top = files.read("per_cpu/cpu0/buffer_size_kb")
    files.mkdir("instances/one")
    files.write("instances/one/buffer_size_kb", "100")
    size = int(files.read("instances/one/per_cpu/cpu1/buffer_size_kb"))
    assert 100 <= size < 100 + 4  # whole pages
    assert files.read("instances/one/buffer_size_kb") == f"{size}\n"
    assert files.read("instances/one/buffer_total_size_kb") == f"{2 * size}\n"
    files.write("instances/one/per_cpu/cpu0/buffer_size_kb", "8")
    assert files.read("instances/one/buffer_size_kb") == "X\n"
    assert files.read("per_cpu/cpu0/buffer_size_kb") == top  # the top's are its own
    files.write("instances/one/free_buffer", "")
    assert files.read("instances/one/per_cpu/cpu1/buffer_size_kb") == "7\n"  # two pages


def test_enabling_an_event_expands_the_top_levels_buffer(files: TreeFiles) -> None:
    assert files.read("buffer_size_kb") == "7 (expanded: 1408)\n"
    files.write("events/sched/sched_switch/enable", "1")
    assert files.read("buffer_size_kb") == "1410\n"


def test_a_marker_runs_its_own_instances_print_triggers(files: TreeFiles) -> None:
    files.mkdir("instances/one")
    files.write("instances/one/events/ftrace/print/trigger", "traceoff")
    files.write("trace_marker", "top")
    assert files.read("instances/one/tracing_on") == "1\n"
    files.write("instances/one/trace_marker", "here")
    assert files.read("instances/one/tracing_on") == "0\n"
    assert files.read("tracing_on") == "1\n"
    assert [line.rsplit(": ", 1)[1] for line in files.trace_lines("instances/one/trace")] == [
        "here"]


def test_a_used_modules_going_empties_the_buffers_that_used_it(files: TreeFiles) -> None:
    files.registry.module_coming("m", ["m:ev"])
    files.mkdir("instances/one")
    files.write("instances/one/events/m/ev/enable", "1")
    files.write("events/sched/sched_switch/enable", "1")
    files.write("instances/one/events/sched/sched_switch/enable", "1")
    files.write("fire", "m:ev\n" + switch(3))
    assert len(files.trace_lines("instances/one/trace")) == 2
    files.registry.module_going("m")
    assert files.trace_lines("instances/one/trace") == []
    assert len(files.trace_lines()) == 1  # the top level never used it


def test_a_hist_trigger_with_time_stamps_sets_its_instances_clock(files: TreeFiles) -> None:
    files.mkdir("instances/one")
    files.write("instances/one/events/sched/sched_switch/trigger",
                "hist:keys=prev_pid:ts=common_timestamp:clock=mono")
    assert "[mono]" in files.read("instances/one/trace_clock")
    assert "[local]" in files.read("trace_clock")


def test_the_overwrite_option_reaches_the_instances_buffer(files: TreeFiles) -> None:
    files.mkdir("instances/one")
    files.write("instances/one/options/overwrite", "0")
    files.write("instances/one/buffer_size_kb", "4")
    files.write("instances/one/events/sched/sched_switch/enable", "1")
    files.write("fire", f"{SWITCH} prev_pid=1 @count=2000\n")
    stats = files.read("instances/one/per_cpu/cpu0/stats")
    assert "\noverrun: 0\n" in stats and "dropped events: 0\n" not in stats
    files.write("instances/one/options/overwrite", "1")
    files.write("fire", f"{SWITCH} prev_pid=1 @count=2000\n")
    stats = files.read("instances/one/per_cpu/cpu0/stats")
    assert "\noverrun: 0\n" not in stats
