"""The trace array without a mount: what it records, and how it prints what it kept."""

from __future__ import annotations

import re

import pytest

from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import PIPE_SEQ_SIZE, TraceArray, TracePipe


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


def recorded(ncpus: int, events: list[tuple[int, int]], size_kb: int | None) -> TraceArray:
    """A trace array with ``events`` (cpu, pid) recorded in order, counter clock."""
    tracing = Tracing(ncpus=ncpus)
    tracing.clock = "counter"
    trace = TraceArray(tracing)
    if size_kb is not None:
        trace.buffer.resize(size_kb)
    fmt = event_format("ev", 60002)
    for cpu, pid in events:
        trace.record(cpu, layout(fmt).encode(pid=pid), None, "mod", fmt)
    return trace


def consumed_one_by_one(trace: TraceArray) -> bytes:
    """What trace_pipe shows, event by event through ``consume``: the reference."""
    out = bytearray()
    while (event := trace.buffer.consume()) is not None:
        if event.lost:
            out += f"CPU:{event.cpu} [LOST {event.lost} EVENTS]\n".encode()
        out += trace.line(event).encode()
    return bytes(out)


@pytest.mark.parametrize("size", [1, 100, 4096, 8191, 131072])
@pytest.mark.parametrize("size_kb", [None, 8])
def test_trace_pipe_reads_what_consuming_one_by_one_shows(size: int, size_kb: int | None) -> None:
    """Pages' runs merged across CPUs, cut at 8191 bytes, lost events said once:
    the same bytes as consuming one event at a time, none twice, none missing."""
    events = [((i // 3 + i) % 2, i) for i in range(3000)]
    reference = consumed_one_by_one(recorded(2, events, size_kb))
    trace = recorded(2, events, size_kb)
    pipe = TracePipe(trace)
    got = bytearray()
    while pipe.has_data() and len(got) <= len(reference):  # more is wrong: stop
        chunk = pipe.read(size)
        assert 0 < len(chunk) <= min(size, PIPE_SEQ_SIZE - 1)
        if size >= PIPE_SEQ_SIZE:
            assert chunk.endswith(b"\n")
        got += chunk
    assert bytes(got) == reference
    assert b"LOST" in reference if size_kb else b"LOST" not in reference
    lost = sum(int(n) for n in re.findall(rb"\[LOST (\d+) EVENTS\]", reference))
    assert reference.count(b" ev: ev by ") + lost == 3000
