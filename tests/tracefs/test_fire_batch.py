"""Firing a slice's common-case records in one batch per CPU (``CommitBatch`` and
``RingBuffer.write_many``) against recording each as it fires (``TraceArray.record``):
the same raw pages, the same ``trace`` text, the same counters, in two instances
with different events enabled, small buffers (each CPU's its own size) in overwrite
and non-overwrite mode,
time stamps that need time extends, and a filter or a trigger set between slices."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.commit_batch import CommitBatch
from tpfs.tracefs.events.events import COMMON_FIELDS, EventLayer
from tpfs.tracefs.events.firing import Firing
from tpfs.tracefs.events.own_probe import EventProbes
from tpfs.tracefs.fire import Firer, Firings
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

    def __init__(self, immediate: bool, pages: tuple[int, int], overwrite: tuple[bool, bool]):
        self.registry = registry = Registry([SWITCH, WAKE], seed=1)
        catalog = Catalog((CatalogEvent("sched", "sched_switch", 372, SWITCH_FORMAT),
                           CatalogEvent("sched", "sched_wakeup", 373, WAKE_FORMAT)))
        self.traces = [TraceArray(Tracing(ncpus=2)) for _ in range(2)]
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
