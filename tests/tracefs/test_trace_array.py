"""The trace array without a mount: what it records, and how it prints what it kept."""

from __future__ import annotations

from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import TraceArray


def event_format(name: str, ident: int) -> str:
    return (f"name: {name}\nID: {ident}\nformat:\n{COMMON_FIELDS}\n\n"
            f'print fmt: "{name} by %d", REC->common_pid\n')


def test_an_id_taken_by_another_event_prints_with_the_new_format() -> None:
    trace = TraceArray(Tracing(ncpus=1))
    first, second = event_format("first", 60000), event_format("second", 60000)
    trace.record(0, layout(first).encode(pid=1), "a", "mod", first)
    [old] = trace.buffer.events()
    assert trace.line(old).endswith("first: first by 1\n")
    trace.clear()
    trace.record(0, layout(second).encode(pid=1), "a", "mod", second)
    [new] = trace.buffer.events()
    assert trace.line(new).endswith("second: second by 1\n")


def test_a_cpu_out_of_the_mask_records_nothing() -> None:
    tracing = Tracing(ncpus=2)
    trace = TraceArray(tracing)
    fmt = event_format("ev", 60001)
    tracing.cpumask = 0b01
    assert trace.record(0, layout(fmt).encode(), None, "mod", fmt)
    assert not trace.record(1, layout(fmt).encode(), None, "mod", fmt)
