"""Decoding raw pages as the kernel's ``trace_pipe_raw`` hands them out (``kernel.page_decode``):
every page tpfs's own buffer writes reads back as written, lost counts included,
and absolute time stamp records (which tpfs never writes) are followed."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from tpfs.kernel.page_decode import decode_page
from tpfs.kernel.ring_buffer import RingBuffer
from tpfs.kernel.ring_buffer_format import (
    TS_SHIFT,
    data_event,
    rb_calculate_event_length,
    subbuffer,
)

payloads = st.binary(min_size=8, max_size=300).map(lambda b: b + bytes(-len(b) % 4))
gaps = st.integers(0, 1 << 40)


@given(st.lists(st.tuples(gaps, payloads), min_size=1, max_size=80))
def test_pages_read_back_as_written(events: list[tuple[int, bytes]]) -> None:
    buffer = RingBuffer(1, 64)
    ts, written = 1_000, []
    for gap, payload in events:
        ts += gap
        assert buffer.write(0, ts, payload)
        written.append((ts, payload))
    read = []
    while (page := buffer.read_page(0)) is not None:
        decoded = decode_page(page)
        assert decoded.lost == 0
        read.extend(decoded.events)
    # A payload reads back with the slack its record was rounded up to.
    assert [(ts, p[:len(w)]) for (ts, p), (_, w) in zip(read, written, strict=True)] == written
    assert all(len(p) - len(w) in (0, 4) for (_, p), (_, w) in zip(read, written, strict=True))


def test_lost_events_are_counted_from_the_page() -> None:
    buffer = RingBuffer(1, 8)  # two pages: the writer overwrites the oldest
    for i in range(400):
        buffer.write(0, 10 + i, struct.pack("<Q", i) * 4)
    first = decode_page(buffer.read_page(0) or b"")
    overrun = buffer.stats(0, 0).overrun
    assert overrun > 0 and first.lost == overrun
    assert first.events[0][1] == struct.pack("<Q", overrun) * 4  # the oldest kept


def test_an_absolute_time_stamp_sets_the_clock() -> None:
    payload = bytes(range(16))
    absolute = 5 << 40 | 123
    stamp = struct.pack("<II", 31 | (absolute & ((1 << TS_SHIFT) - 1)) << 5,
                        absolute >> TS_SHIFT)
    length = rb_calculate_event_length(len(payload))
    data = (data_event(length, 7, payload) + stamp + data_event(length, 2, payload))
    decoded = decode_page(subbuffer(100, data, 0))
    assert decoded.events == [(107, payload), (absolute + 2, payload)]


def test_a_truncated_page_yields_what_it_holds() -> None:
    payload = bytes(16)
    length = rb_calculate_event_length(len(payload))
    page = subbuffer(50, data_event(length, 1, payload) * 3, 0)
    cut = bytearray(page)
    struct.pack_into("<Q", cut, 8, 2 * length + 3)  # a commit that ends mid-record
    assert decode_page(bytes(cut)).events == [(51, payload), (52, payload)]
    assert decode_page(b"short").events == []
