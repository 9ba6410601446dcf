"""The ring buffer's pages read back with libtraceevent's kbuffer, as trace-cmd reads them.

kbuffer is the field's reader of ``trace_pipe_raw`` pages: what it decodes
from the model's pages (time stamps, payloads, record types, the commit and
the missed-events count) must be what was written. Without libtraceevent1
these tests fail; they do not skip.
"""

from __future__ import annotations

import itertools

from kbuffer import KEvent, decode

from tpfs.kernel.ring_buffer import RingBuffer
from tpfs.kernel.ring_buffer_format import (
    BUF_MAX_DATA_SIZE,
    BUF_PAGE_SIZE,
    RINGBUF_TYPE_PADDING,
    RINGBUF_TYPE_TIME_EXTEND,
    TS_EXTEND_LIMIT,
    TS_MASK,
)

T0 = 5_000_000_000
SIZES = [0, 1, 3, 4, 5, 8, 9, 12, 13, 60, 111, 112, 113, 116, 117, 500, 1500, BUF_MAX_DATA_SIZE]
GAPS = [0, 1, 999, TS_MASK, TS_MASK + 1, 1 << 32, 3, (1 << 45) + 17, TS_EXTEND_LIMIT - 1, 7]


def stored(payload: bytes) -> bytes:
    """The payload as a record holds it: rounded up to 4 bytes, with zero slack.

    Never fewer than 4 bytes, and 12 for 5 to 8: a 12-byte record is made 16.
    """
    rounded = -(-max(len(payload), 1) // 4) * 4
    return payload + bytes((12 if rounded == 8 else rounded) - len(payload))


def write_mix(rb: RingBuffer, cpu: int, count: int, ts: int = T0) -> list[KEvent]:
    """Write every size with every gap (some of them late); what kbuffer should read."""
    expected, last = [], 0
    for i, (size, gap) in itertools.islice(enumerate(itertools.product(SIZES, GAPS)), count):
        ts += gap
        when = ts - 50 if i % 11 == 5 else ts  # now and then an event from the past
        payload = bytes((i + k) % 251 for k in range(size))
        assert rb.write(cpu, when, payload)
        last = max(last, when)
        expected.append(KEvent(last, stored(payload)))
    return expected


def read_all(rb: RingBuffer, cpu: int) -> list:
    pages = []
    while (page := rb.read_page(cpu)) is not None:
        pages.append(decode(page))
    return pages


def test_kbuffer_reads_back_every_event_of_every_kind() -> None:
    rb = RingBuffer(1, size_kb=1024)
    expected = write_mix(rb, 0, len(SIZES) * len(GAPS))
    pages = read_all(rb, 0)
    assert len(pages) > 5
    assert [e for page in pages for e in page.events] == expected
    types = {r.type for page in pages for r in page.records}
    assert {0, 1, 3, 28, RINGBUF_TYPE_TIME_EXTEND} <= types
    extends = [r.delta for page in pages for r in page.records
               if r.type == RINGBUF_TYPE_TIME_EXTEND]
    assert TS_MASK + 1 in extends and TS_EXTEND_LIMIT - 1 in extends
    for page in pages:
        assert page.missed == 0 and page.size <= BUF_PAGE_SIZE
        assert page.timestamp == page.events[0].ts


def test_kbuffer_sees_the_padding_of_a_page_copied_after_a_consume() -> None:
    rb = RingBuffer(1, size_kb=64)
    expected = write_mix(rb, 0, 60)
    first = rb.consume(0)
    assert first is not None and (first.ts, first.payload) == (expected[0].ts, expected[0].data)
    page = decode(rb.read_page(0))
    # The rest of the page, after the first 8-byte record, padding included.
    assert page.size == BUF_PAGE_SIZE - 8 and page.records[-1].type == RINGBUF_TYPE_PADDING
    rest = page.events + [e for p in read_all(rb, 0) for e in p.events]
    assert rest == expected[1:]


def test_kbuffer_reads_partial_pages_and_the_events_after_them() -> None:
    rb = RingBuffer(2, size_kb=64)
    got, expected, ts = [], [], T0
    for round_ in range(6):
        expected += write_mix(rb, 1, 7, ts)
        ts = expected[-1].ts + (1 << 30) * round_
        got += [e for page in read_all(rb, 1) for e in page.events]
    assert got == expected and rb.read_page(0) is None


def test_kbuffer_reads_a_delta_too_large_for_a_time_extend() -> None:
    rb = RingBuffer(1, size_kb=8)
    rb.write(0, 3, b"old")
    rb.write(0, 3 + TS_EXTEND_LIMIT + 5, b"new")
    rb.write(0, (1 << 64) - 1, b"end of time")
    pages = read_all(rb, 0)
    assert [[e.ts for e in page.events] for page in pages] == [
        [3], [3 + TS_EXTEND_LIMIT + 5], [(1 << 64) - 1]]


def test_kbuffer_finds_the_count_of_events_lost_before_a_page() -> None:
    rb = RingBuffer(1, size_kb=1)
    for i in range(39 * 5 + 3):
        rb.write(0, T0 + i, bytes(100))
    pages = read_all(rb, 0)
    assert [page.missed for page in pages] == [39 * 4, 0]
    assert [len(page.events) for page in pages] == [39, 3]
    assert pages[0].events[0].ts == T0 + 39 * 4


def test_kbuffer_knows_events_were_lost_when_the_count_did_not_fit() -> None:
    rb = RingBuffer(1, size_kb=1)
    for i in range(510 * 3 + 1):
        rb.write(0, T0 + i, b"full")  # 8-byte records fill a page exactly
    pages = read_all(rb, 0)
    assert [page.missed for page in pages] == [-1, 0]
    assert pages[0].size == BUF_PAGE_SIZE and pages[0].events[0].ts == T0 + 510 * 2


def test_kbuffer_reads_lost_events_after_a_shrink() -> None:
    rb = RingBuffer(1, size_kb=16)
    for i in range(39 * 4):
        rb.write(0, T0 + i, bytes(100))
    rb.resize(1)
    pages = read_all(rb, 0)
    assert pages[0].missed == 39 * 2
    assert [e.ts for page in pages for e in page.events] == [T0 + i for i in range(78, 156)]
