"""What an eprobe may attach to, and what a ``fire`` line may say once, through a mount.

``find_and_get_event`` (kernel/trace/trace_eprobe.c) skips events flagged
``TRACE_EVENT_FL_KPROBE``, ``_UPROBE``, ``_EPROBE`` or ``_IGNORE_ENABLE`` (the
``ftrace`` entries): an eprobe on one of them is ``alloc_event_probe``'s ENODEV,
logged as ``BAD_ATTACH_EVENT`` under the attached event's name, as for an event
that does not exist. A synthetic event is a trace event: an eprobe takes it.
This kernel has no eprobes, so these run on tpfs alone.
"""

from __future__ import annotations

import errno
import os

import pytest
from compat.kernel import errno_of, write

from tpfs.tools.mounting import Mount

APPEND = os.O_WRONLY | os.O_APPEND


def last_error(mount: Mount) -> str:
    return mount.read("error_log").rsplit("] ", 1)[1]


@pytest.mark.parametrize("target", [
    "uprobes.u1", "uprobes/u1", "kprobes.k1", "eprobes.ep1", "ftrace.print", "ftrace.function",
    "sched.nosuch",
])
def test_an_eprobe_attaches_only_to_a_trace_event(tpfs: Mount, target: str) -> None:
    write(tpfs / "uprobe_events", "p:u1 /bin/true:0x10\n", APPEND)
    write(tpfs / "kprobe_events", "p:k1 vfs_read\n", APPEND)
    write(tpfs / "dynamic_events", "e:ep1 sched.sched_switch p=$prev_pid\n", APPEND)
    before = tpfs.read("dynamic_events")
    line = f"e:x {target}"
    assert errno_of(write, tpfs / "dynamic_events", line + "\n", APPEND) == errno.ENODEV
    assert last_error(tpfs) == ("event_probe: error: Attached event does not exist\n"
                                f"  Command: {line}\n"
                                f"{' ' * len('  Command: e:x ')}^\n")
    assert tpfs.read("dynamic_events") == before
    assert not (tpfs / "events/eprobes/x").exists()


def test_an_eprobe_attaches_to_a_synthetic_event(tpfs: Mount) -> None:
    tpfs.write("synthetic_events", "lat u64 delta\n")
    write(tpfs / "dynamic_events", "e:on/lat synthetic.lat d=$delta\n", APPEND)
    tpfs.write("events/on/lat/enable", "1")
    tpfs.write("fire", "synthetic:lat delta=5\n")
    assert "lat:  d=5" in tpfs.read("trace")


@pytest.mark.parametrize("words", [
    "@count=2 @count=3", "@cpu=0 @cpu=1", "@cpu=1 @cpu=1", "@pid=5 @pid=6",
    "@comm=a @comm=b", "prev_pid=1 prev_pid=2",
])
def test_a_fire_line_says_each_word_once(tpfs: Mount, words: str) -> None:
    """Each ``@`` word, as each field, may appear once in a line: a second is
    EINVAL and the write fires nothing."""
    tpfs.write("events/sched/sched_switch/enable", "1")
    line = f"sched:sched_switch {words}\n"
    assert errno_of(write, tpfs / "fire", "sched:sched_switch\n" + line) == errno.EINVAL
    assert "sched_switch" not in tpfs.read("trace")
    tpfs.write("fire", "sched:sched_switch @cpu=0 @count=2 prev_pid=1\n")
    assert tpfs.read("trace").count("sched_switch") == 2
