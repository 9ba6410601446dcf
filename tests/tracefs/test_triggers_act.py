"""Filters and triggers acting on firings, without a mount: the event layer,
the trace array and the fire file's firer, as the kernel orders them.

The orderings were read from a Linux 6.18 tracefs instance, firing
syscalls:sys_enter_pwrite64 (an unfiltered ``traceoff`` keeps the event that
tripped it; ``traceon if ...`` on an unfiltered event comes too late for it
but in time for a filtered one; ``disable_event`` of the event itself keeps
it out; ``enable`` shows ``0*``/``1*`` in soft mode; set_event lists events
in soft mode).
"""

from __future__ import annotations

import errno
import os

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.events import COMMON_FIELDS, EventLayer
from tpfs.tracefs.events.own_probe import EventProbes
from tpfs.tracefs.fire import Firer
from tpfs.tracefs.trace.record import KERNEL_STACK_FORMAT, layout
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import TraceArray
from tpfs.tracefs.vfs.nodes import Opener

SWITCH_FORMAT = (
    f"name: sched_switch\nID: 372\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    "\tfield:char next_comm[16];\toffset:28;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t next_pid;\toffset:44;\tsize:4;\tsigned:1;\n"
    '\nprint fmt: "prev_pid=%d next_pid=%d", REC->prev_pid, REC->next_pid\n'
)
SWITCH, WAKE, OTHER = "sched:sched_switch", "sched:sched_wakeup", "irq:other"
STACK_ID = layout(KERNEL_STACK_FORMAT).id


class Rig:
    """An event layer, a trace array and a firer over one registry."""

    def __init__(self) -> None:
        self.registry = Registry([SWITCH, WAKE, OTHER], seed=1)
        catalog = Catalog((CatalogEvent("sched", "sched_switch", 372, SWITCH_FORMAT),))
        self.tracing = Tracing()
        self.trace = TraceArray(self.tracing)
        self.layer = EventLayer(self.registry, catalog, self.trace, ncpus=4)
        probes = EventProbes(self.registry, self.layer, {0: (self.layer, self.trace)},
                             lambda firing: ())
        self.firer = Firer(self.registry, self.layer, probes, lambda name: None)

    def fire(self, text: str) -> None:
        self.firer.write(text.encode(), Opener(os.O_WRONLY, pid=100))

    def recorded(self) -> list[tuple[int, int]]:
        """(event id, prev_pid or 0) of each recorded event, in order."""
        out = []
        for event in self.trace.buffer.events({}):
            ident = int.from_bytes(event.payload[:2], "little")
            pid = int.from_bytes(event.payload[24:28], "little") if ident == 372 else 0
            out.append((ident, pid))
        return out

    def pids(self) -> list[int]:
        return [pid for ident, pid in self.recorded() if ident == 372]

    def trigger(self, text: str, name: str = SWITCH) -> None:
        self.layer.set_trigger(name, text.encode())


def switch(pid: int, extra: str = "") -> str:
    return f"{SWITCH} prev_pid={pid} prev_comm=p{pid} {extra}\n"


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_filter_lets_through_only_what_matches(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.layer.set_filter(SWITCH, b"prev_pid > 2 && COMM != \"hidden\"")
    rig.fire(switch(1) + switch(3) + switch(4, "@comm=hidden") + switch(5, "@cpu=1"))
    assert rig.pids() == [3, 5]
    rig.layer.set_filter(SWITCH, b"CPU == 1")
    rig.fire(switch(6) + switch(7, "@cpu=1"))
    assert rig.pids()[2:] == [7]


def test_a_filter_goes_with_its_text(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.layer.set_filter(SWITCH, b"prev_pid == 1")
    assert rig.layer.predicate(SWITCH) is not None
    rig.layer.set_filter(SWITCH, b"0")
    assert rig.layer.predicate(SWITCH) is None
    rig.layer.set_filter(SWITCH, b"prev_pid == 1")
    with pytest.raises(TpfsError):
        rig.layer.set_filter(SWITCH, b"prev_pid == \"x\"")  # a failed filter filters nothing
    assert rig.layer.predicate(SWITCH) is None
    rig.fire(switch(2))
    assert rig.pids() == [2]


def test_a_subsystem_filter_compiles_for_each_event_it_fits(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH, WAKE], True)
    rig.layer.set_subsystem_filter("sched", b"prev_pid == 3")
    assert rig.layer.predicate(SWITCH) is not None
    assert rig.layer.predicate(WAKE) is None  # no prev_pid there: its error, no filter
    rig.fire(switch(1) + switch(3) + f"{WAKE}\n")
    assert rig.pids() == [3]
    assert len(rig.recorded()) == 2
    rig.layer.set_subsystem_filter("sched", b"common_pid == 100")
    assert rig.layer.predicate(WAKE) is not None
    rig.layer.set_subsystem_filter("sched", b"0")
    assert rig.layer.predicate(SWITCH) is None and rig.layer.predicate(WAKE) is None


def test_an_unfiltered_traceoff_keeps_the_event_that_tripped_it(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("traceoff")
    rig.fire(switch(1) + switch(2))
    assert rig.pids() == [1]
    assert not rig.tracing.tracing_on


def test_an_unfiltered_traceon_comes_before_the_event(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("traceon")
    rig.tracing.tracing_on = False
    rig.fire(switch(1))
    assert rig.pids() == [1]


def test_a_filtered_traceon_comes_after_an_unfiltered_event_was_reserved(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("traceon if prev_pid == 1")
    rig.tracing.tracing_on = False
    rig.fire(switch(1) + switch(2))
    assert rig.pids() == [2]  # the first was reserved while tracing was off


def test_a_filtered_traceon_is_in_time_for_a_filtered_event(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.layer.set_filter(SWITCH, b"prev_pid < 10")
    rig.trigger("traceon if prev_pid == 1")
    rig.tracing.tracing_on = False
    rig.fire(switch(1) + switch(2))
    assert rig.pids() == [1, 2]  # copied from the side buffer at commit, tracing on


def test_traceon_counts_only_when_it_turns_tracing_on(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("traceon:1")
    rig.fire(switch(1))  # on already: not counted
    assert rig.layer.trigger_text(SWITCH) == "traceon:count=1\n"
    rig.tracing.tracing_on = False
    rig.fire(switch(2) + switch(3))
    assert rig.layer.trigger_text(SWITCH) == "traceon:count=0\n"
    rig.tracing.tracing_on = False
    rig.fire(switch(4))
    assert rig.pids() == [1, 2, 3]
    assert not rig.tracing.tracing_on


def test_traceoff_counts_only_when_it_turns_tracing_off(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("traceoff:2")
    rig.tracing.tracing_on = False
    rig.fire(switch(1))  # off already: not counted
    assert rig.layer.trigger_text(SWITCH) == "traceoff:count=2\n"
    rig.tracing.tracing_on = True
    rig.fire(switch(2) + switch(3))
    assert rig.layer.trigger_text(SWITCH) == "traceoff:count=1\n"
    assert rig.pids() == [2]


def test_a_trigger_filter_picks_the_firings_it_acts_on(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("traceoff if prev_comm ~ \"p4*\"")
    rig.fire(switch(1) + switch(4) + switch(5))
    assert rig.pids() == [1, 4]


def test_a_trigger_acts_on_an_event_that_is_not_enabled(rig: Rig) -> None:
    rig.trigger("traceoff")
    assert rig.layer.enable_text(SWITCH) == "0*\n"
    rig.fire(switch(1))
    assert rig.pids() == []
    assert not rig.tracing.tracing_on


def test_stacktrace_records_a_kernel_stack_after_the_event(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("stacktrace:2")
    rig.fire(switch(1) + switch(2) + switch(3))
    assert rig.recorded() == [(372, 1), (STACK_ID, 0), (372, 2), (STACK_ID, 0), (372, 3)]
    [first_stack] = [e.payload for e in rig.trace.buffer.events({})][1:2]
    assert first_stack[4:8] == (100).to_bytes(4, "little")  # the firing task's
    assert first_stack[8:12] == bytes(4)  # an empty stack: tpfs has no kernel stack


def test_enable_event_soft_enables_another_event(rig: Rig) -> None:
    rig.trigger("enable_event:sched:sched_wakeup:1 if prev_pid == 2")
    assert rig.layer.enable_text(WAKE) == "0*\n"
    assert rig.layer.enable_text(SWITCH) == "0*\n"
    assert rig.layer.set_event_text() == f"{SWITCH}\n{WAKE}\n"  # both have their probe
    rig.fire(f"{WAKE}\n" + switch(1) + f"{WAKE}\n" + switch(2) + f"{WAKE}\n")
    assert len(rig.recorded()) == 1  # only the wakeup after the trigger acted
    assert rig.layer.enable_text(WAKE) == "1*\n"
    assert rig.layer.trigger_text(SWITCH).startswith("enable_event:sched:sched_wakeup:count=0")
    rig.layer.set_enabled([WAKE], False)  # by hand, in soft mode: soft-disabled, probe kept
    assert rig.layer.enable_text(WAKE) == "0*\n" and rig.layer.enabled(WAKE)
    rig.layer.set_enabled([WAKE], True)
    assert rig.layer.enable_text(WAKE) == "1*\n"
    rig.trigger("!enable_event:sched:sched_wakeup")
    assert rig.layer.enable_text(WAKE) == "1\n"  # enabled by hand: it stays
    assert rig.layer.enable_text(SWITCH) == "0\n" and not rig.layer.enabled(SWITCH)


def test_leaving_soft_mode_drops_a_soft_disabled_probe(rig: Rig) -> None:
    rig.trigger("enable_event:sched:sched_wakeup")
    rig.layer.set_enabled([WAKE], False)
    rig.trigger("!enable_event:sched:sched_wakeup")
    assert not rig.layer.enabled(WAKE) and rig.layer.enable_text(WAKE) == "0\n"
    assert rig.registry.entries.get(SWITCH) is None or not rig.registry.entries[SWITCH].funcs


def test_disable_event_of_itself_keeps_the_firing_out(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("disable_event:sched:sched_switch")
    rig.fire(switch(1) + switch(2))
    assert rig.pids() == []
    assert rig.layer.enable_text(SWITCH) == "0*\n"


def test_a_filtered_disable_event_of_itself_still_comes_before_the_commit(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.trigger("disable_event:sched:sched_switch if prev_pid == 2")
    rig.fire(switch(1) + switch(2) + switch(3))
    assert rig.pids() == [1]


def test_pid_filtering_does_not_stop_unconditional_triggers(rig: Rig) -> None:
    rig.layer.set_enabled([SWITCH], True)
    rig.tracing.event_pids.add(7)
    rig.trigger("traceoff:1")  # a post trigger: the event waits for its record
    rig.fire(switch(1))  # pid 100: not traced, and no trigger runs
    assert rig.tracing.tracing_on
    rig.trigger("!traceoff")
    rig.trigger("enable_event:irq:other")
    rig.fire(switch(1))  # no record needed: the trigger runs before the pid check
    assert rig.layer.enable_text(OTHER) == "1*\n"


def test_triggers_go_with_the_module_of_their_event_or_target(rig: Rig) -> None:
    rig.registry.module_coming("mod", ["mod:ev"])
    rig.trigger("enable_event:mod:ev")
    rig.trigger("traceoff", "mod:ev")
    assert rig.layer.enable_text("mod:ev") == "0*\n"
    rig.registry.module_going("mod")
    assert rig.layer.trigger_text(SWITCH).startswith("# Available triggers")
    assert rig.layer.enable_text(SWITCH) == "0\n" and not rig.layer.enabled(SWITCH)
    rig.registry.module_coming("mod", ["mod:ev"])
    assert rig.layer.enable_text("mod:ev") == "0\n"
    assert rig.layer.trigger_text("mod:ev").startswith("# Available triggers")


def test_a_refused_soft_mode_changes_nothing(rig: Rig) -> None:
    rig.registry.limits = type(rig.registry.limits)(max_probes=0)
    with pytest.raises(TpfsError) as exc:
        rig.trigger("enable_event:sched:sched_wakeup")
    assert exc.value.errno == errno.ENOSPC
    assert rig.layer.trigger_text(SWITCH).startswith("# Available triggers")
    assert rig.layer.enable_text(WAKE) == "0\n" and rig.layer.enable_text(SWITCH) == "0\n"
