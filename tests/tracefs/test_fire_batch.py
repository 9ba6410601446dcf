"""Firing a slice's common-case records in one batch per CPU (``CommitBatch`` and
``RingBuffer.write_many``) against recording each as it fires (``TraceArray.record``):
the same raw pages, the same ``trace`` text, the same counters, in two instances
with different events enabled, small buffers (each CPU's its own size) in overwrite
and non-overwrite mode,
time stamps that need time extends, and a filter or a trigger set between slices."""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.commit_batch import CommitBatch
from tpfs.tracefs.events.events import COMMON_FIELDS, EventLayer
from tpfs.tracefs.events.firing import Firing
from tpfs.tracefs.events.own_probe import EventProbes
from tpfs.tracefs.fire import Firer, Firings
from tpfs.tracefs.trace.ftrace_settings import SavedCmdlines, SavedTgids
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import TraceArray
from tpfs.tracefs.vfs.nodes import Opener

SWITCH, WAKE = "sched:sched_switch", "sched:sched_wakeup"
SWITCH_FORMAT = (
    f"name: sched_switch\nID: 372\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:pid_t prev_pid;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:pid_t next_pid;\toffset:12;\tsize:4;\tsigned:1;\n"
    "\tfield:__data_loc char[] note;\toffset:16;\tsize:4;\tsigned:0;\n"
    '\nprint fmt: "prev_pid=%d next_pid=%d note=%s", REC->prev_pid, REC->next_pid, '
    "__get_str(note)\n"
)
WAKE_FORMAT = (
    f"name: sched_wakeup\nID: 373\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n"
    '\nprint fmt: "pid=%d", REC->pid\n'
)
FORMATS = {SWITCH: SWITCH_FORMAT, WAKE: WAKE_FORMAT}
OPENER = Opener(os.O_WRONLY, pid=100, comm_of=lambda pid: "writer")


class Immediate(CommitBatch):
    """The reference: each record written as it fires, as ``TraceArray.record`` does."""

    def add(self, trace: TraceArray, cpu: int, record: bytes, comm: str | None, subsys: str,
            fmt: str, ts: int | None) -> None:
        trace.record(cpu, record, comm, subsys, fmt, ts)


class Rig:
    """A registry, a top-level instance and one more, each with its own buffer."""

    def __init__(self, immediate: bool, pages: tuple[int, int], overwrite: tuple[bool, bool],
                 saved: int | None = None):
        """``saved``: the instances share one saved-comms table of that many slots (as
        the daemon's do), else each has its own of the default size."""
        self.registry = registry = Registry([SWITCH, WAKE], seed=1)
        catalog = Catalog((CatalogEvent("sched", "sched_switch", 372, SWITCH_FORMAT),
                           CatalogEvent("sched", "sched_wakeup", 373, WAKE_FORMAT)))
        shared = {} if saved is None else {"cmdlines": SavedCmdlines(saved),
                                           "tgids": SavedTgids()}
        self.traces = [TraceArray(Tracing(ncpus=2), **shared) for _ in range(2)]
        self.layers = []
        for data, (trace, n, ow) in enumerate(zip(self.traces, pages, overwrite, strict=True)):
            trace.tracing.clock = "mono"
            trace.buffer.resize(n * 4)
            trace.buffer.resize(n * 4 + 8, cpu=1)  # CPUs of different sizes
            trace.buffer.overwrite = ow
            self.layers.append(EventLayer(registry, catalog, trace, ncpus=2, probe_data=data,
                                          shared=self.layers[0] if data else None))
        targets = {i: (layer, trace) for i, (layer, trace)
                   in enumerate(zip(self.layers, self.traces, strict=True))}
        self.probes = EventProbes(registry, self.layers[0], targets, lambda firing: ())
        if immediate:
            self.probes.batch = Immediate()
        self.firer = Firer(registry, self.layers[0], self.probes, lambda name: None)

    def fire(self, firings: list[Firing], slice_len: int) -> None:
        """Apply ``firings`` as a ``fire`` write is, ``slice_len`` firings a slice."""
        work = Firings(self.firer, firings)
        while True:
            left = [slice_len]

            def more(left: list[int] = left) -> bool:
                left[0] -= 1
                return left[0] > 0

            if work.step(more):
                return

    def seen(self) -> list[object]:
        """Every instance's counters, ``trace`` text and raw pages (consumed last)."""
        out: list[object] = []
        for trace in self.traces:
            buffer = trace.buffer
            out.append([buffer.stats(cpu, 0) for cpu in range(2)])
            out.append([trace.line(event) for event in buffer.events()])
            for cpu in range(2):
                while (page := buffer.read_page(cpu)) is not None:
                    out.append((cpu, page))
        return out


@st.composite
def firings(draw: st.DrawFn) -> list[Firing]:
    out = []
    ts = draw(st.integers(1, 1 << 30))
    for _ in range(draw(st.integers(1, 250))):
        name = draw(st.sampled_from([SWITCH, SWITCH, WAKE]))
        ts += draw(st.one_of(st.integers(0, 5000),
                             st.sampled_from([1 << 27, (1 << 27) + 1, 1 << 45, 1 << 59, -100])))
        ts = min(max(ts, 0), 1 << 62)
        pid = draw(st.integers(1, 3))
        values = ({"prev_pid": pid, "next_pid": draw(st.integers(1, 3)),
                   "note": "n" * draw(st.sampled_from([0, 3, 150]))}
                  if name == SWITCH else {"pid": pid})
        record = layout(FORMATS[name]).encode(values, pid=pid)
        out.append(Firing(name, draw(st.integers(0, 1)), pid, f"t{pid}",
                          draw(st.sampled_from([1, 1, 1, 7])), record, ts))
    return out


@settings(max_examples=80, deadline=None)
@given(steps=firings(), slice_len=st.sampled_from([1, 3, 50, 10_000]),
       pages=st.tuples(st.integers(2, 4), st.integers(2, 4)),
       overwrite=st.tuples(st.booleans(), st.booleans()),
       between=st.sampled_from(["nothing", "filter", "trigger", "stacktrace", "soft",
                                "tracing_off", "pid"]))
def test_batched_firing_matches_recording_each(steps, slice_len, pages, overwrite,
                                               between) -> None:
    rigs = [Rig(immediate, pages, overwrite) for immediate in (True, False)]
    half = len(steps) // 2
    for rig in rigs:
        rig.layers[0].set_enabled([SWITCH, WAKE], True)
        rig.layers[1].set_enabled([SWITCH], True)  # the other instance: the switch only
        rig.fire(steps[:half], slice_len)
        if between == "filter":
            rig.layers[0].set_filter(SWITCH, b"prev_pid != 2")
        elif between == "trigger":  # a trigger on the switch: no longer the common case,
            # while the wakeups beside it in the same buffer still are
            rig.layers[0].set_trigger(SWITCH, b"traceoff if next_pid == 3")
        elif between == "stacktrace":  # a trigger that writes a record of its own
            rig.layers[0].set_trigger(SWITCH, b"stacktrace if next_pid == 3")
        elif between == "soft":  # a trigger that changes another event's state mid-slice
            rig.layers[0].set_trigger(SWITCH, b"disable_event:sched:sched_wakeup if next_pid == 3")
        elif between == "tracing_off":
            rig.traces[1].tracing.tracing_on = False
        elif between == "pid":
            rig.traces[0].tracing.event_pids.add(1)
        rig.fire(steps[half:], slice_len)
    assert rigs[0].seen() == rigs[1].seen()


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_full_buffer_in_one_slice_overruns_or_drops_as_recording_each(overwrite) -> None:
    steps = [Firing(SWITCH, i % 2, 5, "t", 1,
                    layout(SWITCH_FORMAT).encode({"prev_pid": i, "note": "x" * (i % 40)}, pid=5),
                    1000 + 10 * i) for i in range(3000)]
    rigs = [Rig(immediate, (2, 3), (overwrite, overwrite)) for immediate in (True, False)]
    for rig in rigs:
        rig.layers[0].set_enabled([SWITCH], True)
        rig.layers[1].set_enabled([SWITCH], True)
        rig.fire(steps, 100_000)
    counters = rigs[1].traces[0].buffer.stats(0, 0)
    assert (counters.overrun if overwrite else counters.dropped_events) > 0
    assert rigs[0].seen() == rigs[1].seen()


@st.composite
def task_firings(draw: st.DrawFn) -> list[Firing]:
    """Firings of a few tasks, some with two names or none, switches and wakeups."""
    out = []
    for i in range(draw(st.integers(1, 120))):
        name = draw(st.sampled_from([SWITCH, WAKE]))
        pid = draw(st.integers(1, 3))
        comm = draw(st.sampled_from([f"t{pid}", f"t{pid}", f"t{pid}", f"u{pid}", None]))
        out.append(task_firing(name, draw(st.sampled_from([0, 0, 0, 1])), pid, comm, i))
    return out


def task_firing(name: str, cpu: int, pid: int, comm: str | None, i: int) -> Firing:
    values = {"prev_pid": pid} if name == SWITCH else {"pid": pid}
    record = layout(FORMATS[name]).encode(values, pid=pid)
    return Firing(name, cpu, pid, comm, 1, record, 1000 + i)


#: A switch of task 1 in the first instance, a wakeup of task 2 in the other taking
#: task 1's slot, then task 1's switch again: its comm is saved again.
LOST_SLOT = [task_firing(SWITCH, 0, 1, "t1", 0), task_firing(WAKE, 0, 2, "t2", 1),
             task_firing(SWITCH, 0, 1, "t1", 2)]


@settings(max_examples=150, deadline=None)
@example(steps=LOST_SLOT, slots=1, slice_len=10_000, record_cmd=(True, True), other=[WAKE])
@given(steps=task_firings(), slots=st.integers(1, 2), slice_len=st.sampled_from([1, 4, 10_000]),
       record_cmd=st.sampled_from([(True, True), (True, False)]),
       other=st.sampled_from([[WAKE], [SWITCH, WAKE]]))
def test_saved_comms_as_recording_each(steps, slots, slice_len, record_cmd, other) -> None:
    """A record admitted like the one before it saves nothing new, but one of another
    task or comm in between (in either instance: they share the table, smaller than
    the tasks here, so a task can lose its slot and take another) must be saved again."""
    rigs = [Rig(immediate, (4, 4), (True, True), saved=slots) for immediate in (True, False)]
    for rig in rigs:
        rig.layers[0].set_enabled([SWITCH], True)
        rig.layers[1].set_enabled(other, True)
        for trace, on in zip(rig.traces, record_cmd, strict=True):
            trace.options.values["record-cmd"] = on
    cmdlines = [rig.traces[0].cmdlines for rig in rigs]
    for start in range(0, len(steps), 4):  # writes of four lines: a comm lost in one
        for rig in rigs:                     # could be saved again by a later one
            rig.fire(steps[start:start + 4], slice_len)
        assert cmdlines[0].render() == cmdlines[1].render()
        assert [cmdlines[0].find(pid) for pid in range(1, 5)] == \
            [cmdlines[1].find(pid) for pid in range(1, 5)]
    assert rigs[0].traces[0].tgids.render() == rigs[1].traces[0].tgids.render()
    assert rigs[0].seen() == rigs[1].seen()
