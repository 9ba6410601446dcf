"""A ``fire`` write applied a step at a time, without a mount: checked whole first,
then fired in order across steps, each firing seeing the state then."""

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
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import TraceArray
from tpfs.tracefs.vfs.nodes import Opener

SWITCH = "sched:sched_switch"
SWITCH_FORMAT = (
    f"name: sched_switch\nID: 372\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:pid_t prev_pid;\toffset:8;\tsize:4;\tsigned:1;\n"
    '\nprint fmt: "prev_pid=%d", REC->prev_pid\n'
)
OPENER = Opener(os.O_WRONLY, pid=100)


@pytest.fixture
def rig() -> tuple[Firer, TraceArray]:
    registry = Registry([SWITCH], seed=1)
    trace = TraceArray(Tracing())
    layer = EventLayer(registry, Catalog((CatalogEvent("sched", "sched_switch", 372,
                                                       SWITCH_FORMAT),)), trace, ncpus=2)
    probes = EventProbes(registry, layer, {0: (layer, trace)}, lambda firing: ())
    firer = Firer(registry, layer, probes, lambda name: None)
    layer.set_enabled([SWITCH], True)
    return firer, trace


def pids(trace: TraceArray) -> list[int]:
    return [int.from_bytes(event.payload[8:12], "little")
            for event in trace.buffer.events({})]


def test_each_step_fires_at_least_once_and_the_whole_write_in_order(rig) -> None:
    firer, trace = rig
    work = firer.begin(f"{SWITCH} prev_pid=5 @count=3\n{SWITCH} prev_pid=6\n".encode(), OPENER)
    seen = []
    steps = 0
    while not work.step(lambda: False):  # the driver never allows more than one
        steps += 1
        seen.append(pids(trace))
    assert seen == [[5], [5, 5], [5, 5, 5]]
    assert steps == 3 and pids(trace) == [5, 5, 5, 6]
    assert work.step(lambda: False)  # done stays done, firing nothing more
    assert pids(trace) == [5, 5, 5, 6]


def test_a_step_goes_on_while_the_driver_allows(rig) -> None:
    firer, trace = rig
    allowed = iter([True, True, False])
    work = firer.begin(f"{SWITCH} prev_pid=7 @count=10\n".encode(), OPENER)
    assert not work.step(lambda: next(allowed))
    assert pids(trace) == [7] * 3  # one, then one more per True
    assert work.step(lambda: True)
    assert pids(trace) == [7] * 10


@pytest.mark.parametrize("bad", [f"{SWITCH} @count=0\n", "sched:nosuch\n",
                                  f"{SWITCH} @count=99999\n{SWITCH} @count=2\n"])
def test_a_bad_line_anywhere_refuses_the_write_before_anything_fires(rig, bad: str) -> None:
    firer, trace = rig
    with pytest.raises(TpfsError) as exc:
        firer.begin(f"{SWITCH} prev_pid=1 @count=1000\n{bad}".encode(), OPENER)
    assert exc.value.errno in (errno.EINVAL, errno.ENOENT)
    assert pids(trace) == []


def test_firings_after_a_step_see_the_state_left_between_steps(rig) -> None:
    firer, trace = rig
    work = firer.begin(f"{SWITCH} prev_pid=8 @count=4\n".encode(), OPENER)
    assert not work.step(lambda: False)
    assert not work.step(lambda: False)
    trace.tracing.tracing_on = False  # another request, served between two steps
    assert work.step(lambda: True)
    assert pids(trace) == [8, 8]
