"""What the fire loop finds once a slice (each event's names and format, whether it
has eprobes, what admitting a record noted) is found again in the next: an eprobe
defined, or defined again with other fields, between two slices of one ``fire``
write fires with the firings after it, as its definition then says."""

from __future__ import annotations

import os

from tracefs.treefiles import SWITCH, TreeFiles

from tpfs.tracefs.vfs.nodes import Opener

OPENER = Opener(os.O_WRONLY, pid=100, comm_of=lambda pid: "writer")
APPEND = os.O_WRONLY | os.O_APPEND


def eprobes(files: TreeFiles) -> list[str]:
    """The eprobe's events in ``trace``."""
    lines = [line.split(": ", 1)[1] for line in files.read("trace").splitlines()
             if not line.startswith("#")]
    return [line for line in lines if line.startswith("f:")]


def test_an_eprobe_defined_or_redefined_between_slices_fires_with_the_firings_after() -> None:
    files = TreeFiles()
    files.write("events/sched/sched_switch/enable", "1")
    lines = "".join(f"{SWITCH} prev_pid={pid} next_pid={pid + 100}\n" for pid in range(1, 7))
    work = files.tree.firer.begin(lines.encode(), OPENER)
    assert not work.step(lambda: False)  # pid 1: no eprobe yet
    files.write("dynamic_events", "e:ep/f sched/sched_switch p=$prev_pid\n")
    files.write("events/ep/f/enable", "1")
    assert not work.step(lambda: False)  # pid 2
    assert not work.step(lambda: False)  # pid 3
    assert eprobes(files) == ["f:  p=2", "f:  p=3"]
    files.write("events/ep/f/enable", "0")  # (removing it empties the buffers)
    files.write("dynamic_events", "!e:ep/f\n", APPEND)
    files.write("dynamic_events", "e:ep/f sched/sched_switch q=$next_pid r=$prev_pid\n",
                APPEND)
    files.write("events/ep/f/enable", "1")
    while not work.step(lambda: False):  # pids 4 to 6
        pass
    assert eprobes(files) == ["f:  q=104 r=4", "f:  q=105 r=5", "f:  q=106 r=6"]


def test_an_event_whose_module_goes_between_slices_fires_no_more() -> None:
    files = TreeFiles()
    files.registry.module_coming("mymod", ["mymod:ev"])
    files.write("events/mymod/ev/enable", "1")
    work = files.tree.firer.begin(b"mymod:ev\n" * 3 + f"{SWITCH}\n".encode(), OPENER)
    assert not work.step(lambda: False)
    assert names(files) == ["ev"]
    files.write("events/mymod/ev/enable", "0")  # (which empties the buffers)
    files.registry.module_going("mymod")
    files.write("events/sched/sched_switch/enable", "1")
    while not work.step(lambda: True):
        pass
    assert names(files) == ["sched_switch"]


def names(files: TreeFiles) -> list[str]:
    """The names of the events in ``trace``."""
    return [line.split(": ", 2)[1] for line in files.read("trace").splitlines()
            if not line.startswith("#")]
