"""The ring buffer model: record encoding, pages, overwrite, readers, sizing and stats.

The pages are also checked byte for byte here with the model's own record
reader; test_ring_buffer_kbuffer.py reads them with libtraceevent instead.
"""

from __future__ import annotations

import struct

import pytest

from tpfs.kernel.ring_buffer import (
    DEFAULT_SIZE_KB,
    CpuStats,
    EntryTotals,
    Event,
    RingBuffer,
    nr_pages_for,
)
from tpfs.kernel.ring_buffer_format import (
    BUF_MAX_DATA_SIZE,
    BUF_PAGE_SIZE,
    PAGE_SIZE,
    RB_MISSED_EVENTS,
    RB_MISSED_STORED,
    RINGBUF_TYPE_PADDING,
    RINGBUF_TYPE_TIME_EXTEND,
    TS_EXTEND_LIMIT,
    TS_MASK,
    data_event,
    padding,
    rb_calculate_event_length,
    read_record,
    subbuffer,
    time_extend,
)

T0 = 1_000_000_000


def words(data: bytes, offset: int = 0, count: int = 2) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}I", data, offset)


def header(page: bytes) -> tuple[int, int]:
    return struct.unpack_from("<QQ", page)


def records(page: bytes) -> list:
    """Every record of a page handed out by read_page, per its commit."""
    commit = header(page)[1] & (RB_MISSED_STORED - 1)
    data, offset, out = page[16:16 + commit], 0, []
    while offset < commit:
        record = read_record(data, offset)
        out.append(record)
        offset += record.length
    return out


def fill(rb: RingBuffer, cpu: int, count: int, size: int, ts: int = T0, step: int = 10) -> int:
    """Write ``count`` events of ``size`` bytes (payload = their index); the next ts."""
    for i in range(count):
        rb.write(cpu, ts, i.to_bytes(4, "little") * (size // 4))
        ts += step
    return ts


# -- the binary form ---------------------------------------------------------


@pytest.mark.parametrize(("payload", "length"), [
    (0, 8), (1, 8), (4, 8), (5, 16), (8, 16), (9, 16), (12, 16), (13, 20),
    (111, 116), (112, 116), (113, 124), (116, 124), (117, 128), (BUF_MAX_DATA_SIZE, 4080),
])
def test_event_length_follows_rb_calculate_event_length(payload: int, length: int) -> None:
    assert rb_calculate_event_length(payload) == length


def test_small_event_keeps_its_length_in_type_len() -> None:
    record = data_event(rb_calculate_event_length(10), 99, b"0123456789")
    assert len(record) == 16
    assert words(record, count=1) == (3 | 99 << 5,)
    assert record[4:] == b"0123456789\0\0"
    back = read_record(record, 0)
    assert (back.type_len, back.delta, back.length, back.payload) == (3, 99, 16, record[4:])


def test_eight_byte_payload_takes_sixteen_bytes() -> None:
    record = data_event(rb_calculate_event_length(8), 0, b"abcdefgh")
    assert words(record, count=1) == (3,)
    assert read_record(record, 0).payload == b"abcdefgh\0\0\0\0"


def test_largest_small_event_and_smallest_large_event() -> None:
    small = data_event(rb_calculate_event_length(112), 1, bytes(112))
    assert len(small) == 116 and words(small, count=1) == (28 | 1 << 5,)
    large = data_event(rb_calculate_event_length(113), 7, b"x" * 113)
    assert len(large) == 124
    assert words(large) == (0 | 7 << 5, 120)  # array[0]: the payload rounded up, plus 4
    back = read_record(large, 0)
    assert (back.type_len, back.length, back.payload) == (0, 124, b"x" * 113 + b"\0\0\0")


def test_time_extend_and_padding_records() -> None:
    extend = time_extend((5 << 27) | 123)
    assert words(extend) == (RINGBUF_TYPE_TIME_EXTEND | 123 << 5, 5)
    assert read_record(extend, 0).delta == (5 << 27) | 123
    pad = padding(40)
    assert len(pad) == 40 and words(pad) == (RINGBUF_TYPE_PADDING | 1 << 5, 36)
    assert read_record(pad, 0).length == 40


def test_subbuffer_flags_missed_events_with_and_without_room() -> None:
    page = subbuffer(77, b"\1" * 100, missed=3)
    assert len(page) == PAGE_SIZE
    assert header(page) == (77, 100 | RB_MISSED_EVENTS | RB_MISSED_STORED)
    assert struct.unpack_from("<Q", page, 116) == (3,) and page[124:] == bytes(PAGE_SIZE - 124)
    full = subbuffer(77, b"\1" * (BUF_PAGE_SIZE - 4), missed=3)
    assert header(full) == (77, (BUF_PAGE_SIZE - 4) | RB_MISSED_EVENTS)
    assert full[-4:] == bytes(4)
    assert header(subbuffer(5, b"", 0)) == (5, 0)


# -- sizes -------------------------------------------------------------------


@pytest.mark.parametrize(("kb", "pages"), [(0, 2), (1, 2), (7, 2), (8, 3), (16, 5), (1408, 354)])
def test_pages_from_size_in_kb(kb: int, pages: int) -> None:
    assert nr_pages_for(kb) == pages


def test_buffer_size_kb_shows_the_pages_data_bytes() -> None:
    rb = RingBuffer(2)
    assert rb.cpus[0].nr_pages == 354 and rb.size_kb(0) == 1410 == rb.size_kb(1)
    rb.resize(7, cpu=1)
    assert rb.size_kb(1) == 7 and rb.size_kb(0) == 1410
    rb.resize(1)
    assert rb.size_kb(0) == rb.size_kb(1) == 7
    assert DEFAULT_SIZE_KB == 1408
    with pytest.raises(ValueError):
        rb.resize(-1)


# -- writing, page boundaries, time ------------------------------------------


def test_first_event_has_the_page_time_stamp_and_others_a_delta() -> None:
    rb = RingBuffer(1, size_kb=8)
    rb.write(0, T0, b"a")
    rb.write(0, T0 + 250, b"bb")
    page = rb.cpus[0].pages[0]
    assert page.time_stamp == T0
    assert words(page.data, 0, 1) == (1,) and words(page.data, 8, 1) == (1 | 250 << 5,)
    assert [(e.seq, e.ts, e.payload) for e in rb.events()] == [
        (0, T0, b"a\0\0\0"), (1, T0 + 250, b"bb\0\0")]


def test_a_full_page_is_padded_and_the_next_page_starts_with_its_time() -> None:
    rb = RingBuffer(1, size_kb=8)
    # 39 events of 104 bytes take 4056 bytes; the 40th does not fit the 24 left.
    ts = fill(rb, 0, 40, 100)
    first, second = rb.cpus[0].pages[:2]
    assert first.entries == 39 and first.real_end == 4056 and len(first.data) == BUF_PAGE_SIZE
    assert read_record(first.data, 4056) == read_record(padding(24), 0)
    assert second.entries == 1 and second.time_stamp == ts - 10
    assert words(second.data, 0, 1) == (25,)  # delta 0: the page's time stamp is the event's
    assert rb.stats(0, 0).bytes == BUF_PAGE_SIZE + 104


def test_page_filled_exactly_has_no_padding() -> None:
    rb = RingBuffer(1, size_kb=8)
    fill(rb, 0, 511, 4)  # 510 events of 8 bytes are 4080
    first = rb.cpus[0].pages[0]
    assert first.entries == 510 and first.real_end == 0 and len(first.data) == BUF_PAGE_SIZE
    assert rb.cpus[0].pages[1].entries == 1


def test_less_than_eight_bytes_left_get_no_padding_record() -> None:
    rb = RingBuffer(1, size_kb=8)
    ts = fill(rb, 0, 507, 4)
    rb.write(0, ts, bytes(16))  # 507 * 8 + 20 = 4076
    rb.write(0, ts + 10, b"next")
    first = rb.cpus[0].pages[0]
    assert len(first.data) == 4076 and first.real_end == 4076
    assert rb.stats(0, 0).bytes == 4076 + 8


def test_time_extend_only_when_the_delta_needs_more_than_27_bits() -> None:
    rb = RingBuffer(1, size_kb=8)
    rb.write(0, T0, b"a")
    rb.write(0, T0 + TS_MASK, b"b")
    rb.write(0, T0 + 2 * TS_MASK + 1, b"c")
    data = rb.cpus[0].pages[0].data
    assert words(data, 8, 1) == (1 | TS_MASK << 5,)
    assert words(data, 16) == (RINGBUF_TYPE_TIME_EXTEND, 1)  # 2**27: low bits 0, high 1
    assert words(data, 24, 1) == (1,)  # the data event after it: delta 0
    assert [e.ts for e in rb.events()] == [T0, T0 + TS_MASK, T0 + 2 * TS_MASK + 1]
    assert rb.stats(0, 0).bytes == 8 + 8 + 16


def test_first_event_on_a_page_needs_no_time_extend() -> None:
    rb = RingBuffer(1, size_kb=8)
    ts = fill(rb, 0, 39, 100)
    rb.write(0, ts + (1 << 40), bytes(100))
    second = rb.cpus[0].pages[1]
    assert second.time_stamp == ts + (1 << 40) and len(second.data) == 104
    assert words(second.data, 0, 1) == (25,)


def test_an_event_that_fits_only_without_its_extend_goes_to_the_next_page() -> None:
    rb = RingBuffer(1, size_kb=8)
    ts = fill(rb, 0, 38, 100)  # 3952 bytes: 128 left, the extend and a 124-byte event need 132
    rb.write(0, ts + (1 << 30), b"x" * 120)
    first, second = rb.cpus[0].pages[:2]
    assert first.entries == 38 and first.real_end == 38 * 104
    assert second.time_stamp == ts + (1 << 30)


def test_delta_beyond_a_time_extend_starts_a_new_page() -> None:
    rb = RingBuffer(1, size_kb=8)
    rb.write(0, 5, b"a")
    rb.write(0, 5 + TS_EXTEND_LIMIT, b"b")
    rb.write(0, 5 + TS_EXTEND_LIMIT - 1 + TS_EXTEND_LIMIT, b"c")
    pages = rb.cpus[0].pages
    assert pages[0].entries == 1 and pages[0].real_end == 8
    assert pages[1].entries == 2 and pages[1].time_stamp == 5 + TS_EXTEND_LIMIT
    assert [e.ts for e in rb.events()] == [
        5, 5 + TS_EXTEND_LIMIT, 5 + 2 * TS_EXTEND_LIMIT - 1]


def test_time_never_goes_back_within_a_cpu() -> None:
    rb = RingBuffer(2, size_kb=8)
    rb.write(0, T0, b"a")
    rb.write(0, T0 - 500, b"late")
    rb.write(1, T0 - 500, b"other cpu")
    assert [(e.cpu, e.ts) for e in rb.events()] == [(1, T0 - 500), (0, T0), (0, T0)]
    assert words(rb.cpus[0].pages[0].data, 8, 1)[0] >> 5 == 0


def test_writes_refused_while_recording_is_off_or_disabled() -> None:
    rb = RingBuffer(1, size_kb=8)
    rb.record_off()
    assert not rb.recording and not rb.write(0, T0, b"x")
    rb.record_on()
    rb.record_disable()
    rb.record_disable()
    rb.record_enable()
    assert not rb.write(0, T0, b"x")
    rb.record_enable()
    assert rb.recording and rb.write(0, T0, b"x")
    assert rb.stats(0, 0) == CpuStats(1, 0, 0, 8, T0, 0, 0, 0)
    with pytest.raises(ValueError):
        rb.record_enable()


def test_bad_writes_are_errors() -> None:
    rb = RingBuffer(2, size_kb=8)
    rb.write(0, T0, bytes(BUF_MAX_DATA_SIZE))
    with pytest.raises(ValueError):
        rb.write(0, T0, bytes(BUF_MAX_DATA_SIZE + 1))
    with pytest.raises(ValueError):
        rb.write(0, -1, b"")
    with pytest.raises(ValueError):
        rb.write(0, 1 << 64, b"")
    for cpu in (-1, 2):
        with pytest.raises(ValueError):
            rb.write(cpu, T0, b"")
    with pytest.raises(ValueError):
        RingBuffer(0)


# -- full buffers --------------------------------------------------------------


def test_overwrite_drops_the_oldest_page_and_counts_its_events() -> None:
    rb = RingBuffer(1, size_kb=1)  # two pages of 39 events of 104 bytes
    fill(rb, 0, 79, 100)
    assert [e.seq for e in rb.events()] == list(range(39, 79))
    stats = rb.stats(0, 0)
    assert (stats.entries, stats.overrun, stats.dropped_events) == (40, 39, 0)
    assert stats.bytes == BUF_PAGE_SIZE + 104
    assert rb.totals() == EntryTotals(40, 79)
    first = rb.consume(0)
    assert first is not None and (first.seq, first.lost) == (39, 39)
    assert rb.consume(0).lost == 0


def test_without_overwrite_new_events_are_dropped_and_counted() -> None:
    rb = RingBuffer(1, size_kb=1, overwrite=False)
    ts = fill(rb, 0, 78, 100)
    assert not rb.write(0, ts, bytes(100))
    assert not rb.write(0, ts + 10, b"small")
    stats = rb.stats(0, 0)
    assert (stats.entries, stats.overrun, stats.dropped_events) == (78, 0, 2)
    assert [e.seq for e in rb.events()] == list(range(78))
    # The first drop closed the page with padding; the second found it closed.
    last = rb.cpus[0].pages[1]
    assert len(last.data) == BUF_PAGE_SIZE and last.real_end == 0
    assert rb.totals() == EntryTotals(78, 78)
    # Once the reader takes a page out of the ring, the writer has room again.
    assert rb.consume(0).seq == 0
    assert rb.write(0, ts + 20, bytes(100))
    assert [e.seq for e in rb.events()][-1] == 78


def test_reader_page_adds_a_page_to_what_survives() -> None:
    rb = RingBuffer(1, size_kb=1)
    ts = fill(rb, 0, 40, 100)
    assert rb.consume(0).seq == 0  # the reader takes the first, full, page out of the ring
    ts = fill(rb, 0, 77, 100, ts)
    # The reader page (38 left) and two full ring pages: nothing was lost yet.
    assert rb.stats(0, 0).overrun == 0 and rb.stats(0, 0).entries == 38 + 78
    fill(rb, 0, 1, 100, ts)
    assert rb.stats(0, 0).overrun == 39
    seqs = [e.seq for e in rb.events()]
    assert seqs[:38] == list(range(1, 39)) and seqs[38] == 78
    events = [rb.consume(0) for _ in range(39)]
    assert [e.lost for e in events] == [0] * 38 + [39]


def test_writer_on_the_reader_page_moves_on_to_the_head() -> None:
    rb = RingBuffer(1, size_kb=1)
    rb.write(0, T0, b"one")
    assert rb.consume(0).seq == 0
    cpu = rb.cpus[0]
    assert cpu.tail is None  # the reader took the writer's page
    fill(rb, 0, 39 * 3, 100, T0 + 10)
    assert cpu.tail is not None and rb.stats(0, 0).overrun == 0
    assert rb.stats(0, 0).entries == 39 * 3
    assert [e.seq for e in rb.events()] == list(range(1, 39 * 3 + 1))


# -- readers -------------------------------------------------------------------


def test_walking_consumes_nothing_and_consuming_counts_reads() -> None:
    rb = RingBuffer(1, size_kb=8)
    fill(rb, 0, 3, 4)
    before = rb.stats(0, 0)
    assert [e.seq for e in rb.events()] == [0, 1, 2] == [e.seq for e in rb.events()]
    assert rb.stats(0, 0) == before
    assert rb.peek(0) == rb.peek(0) == Event(0, 0, T0, bytes(4))
    assert rb.consume(0) == Event(0, 0, T0, bytes(4))
    stats = rb.stats(0, 0)
    assert (stats.entries, stats.read_events, stats.bytes) == (2, 1, 16)
    assert [e.seq for e in rb.events()] == [1, 2]
    assert [e.seq for e in rb.cpus[0].events(start=2)] == [2]
    assert rb.consume(0).seq == 1 and rb.consume(0).seq == 2
    assert rb.consume(0) is None and rb.empty(0) and list(rb.events()) == []
    assert rb.totals() == EntryTotals(0, 0)


def test_merge_orders_cpus_by_time_and_ties_by_cpu() -> None:
    rb = RingBuffer(3, size_kb=8)
    rb.write(1, 10, b"b1")
    rb.write(0, 10, b"a1")
    rb.write(2, 5, b"c1")
    rb.write(0, 30, b"a2")
    rb.write(1, 20, b"b2")
    rb.write(1, 30, b"b3")
    order = [(e.cpu, e.ts) for e in rb.events()]
    assert order == [(2, 5), (0, 10), (1, 10), (1, 20), (0, 30), (1, 30)]
    assert [(e.cpu, e.ts) for e in rb.events({2: 1, 1: 2})] == [(0, 10), (0, 30), (1, 30)]
    assert rb.peek() == Event(2, 0, 5, b"c1\0\0")
    consumed = []
    while (event := rb.consume()) is not None:
        consumed.append((event.cpu, event.ts))
    assert consumed == order and rb.empty()


def test_page_read_of_a_partly_filled_page_then_of_later_events() -> None:
    rb = RingBuffer(1, size_kb=8)
    assert rb.read_page(0) is None
    fill(rb, 0, 3, 4)
    page = rb.read_page(0)
    assert len(page) == PAGE_SIZE and header(page) == (T0, 24)
    assert [r.delta for r in records(page)] == [0, 10, 10]
    assert page[16 + 24:] == bytes(PAGE_SIZE - 40)
    assert rb.read_page(0) is None and rb.stats(0, 0).read_events == 3
    rb.write(0, T0 + 100, b"four")
    rb.write(0, T0 + 100 + (1 << 28), b"five")
    page = rb.read_page(0)
    # The copy starts from the reader's time: the last event read.
    assert header(page) == (T0 + 20, 24)
    assert [(r.type_len, r.delta) for r in records(page)] == [
        (1, 80), (RINGBUF_TYPE_TIME_EXTEND, 1 << 28), (1, 0)]
    assert rb.read_page(0) is None
    assert rb.stats(0, 0).bytes == 0 and rb.stats(0, 0).entries == 0


def test_page_read_after_consuming_copies_the_rest_padding_included() -> None:
    rb = RingBuffer(1, size_kb=8)
    ts = fill(rb, 0, 41, 100)
    assert rb.consume(0).seq == 0
    page = rb.read_page(0)
    assert header(page) == (T0, BUF_PAGE_SIZE - 104)
    kinds = [r.type_len for r in records(page)]
    assert kinds == [25] * 38 + [RINGBUF_TYPE_PADDING]
    # The next page is the writer's: copied too, and what follows comes later.
    page = rb.read_page(0)
    assert header(page) == (ts - 20, 208)
    rb.write(0, ts, b"x")
    assert header(rb.read_page(0)) == (ts - 10, 8)


def test_page_read_of_a_page_the_writer_left_is_the_page_itself() -> None:
    rb = RingBuffer(1, size_kb=8)
    fill(rb, 0, 40, 100)
    page = rb.read_page(0)
    assert header(page) == (T0, 4056)  # cut at real_end: no padding
    assert len(records(page)) == 39 and page[16 + 4056:] == bytes(PAGE_SIZE - 16 - 4056)
    stats = rb.stats(0, 0)
    assert (stats.entries, stats.read_events, stats.bytes) == (1, 39, 104)


def test_page_read_flags_missed_events_and_stores_the_count() -> None:
    rb = RingBuffer(1, size_kb=1)
    fill(rb, 0, 39 * 3 + 1, 100)  # two pages overwritten
    page = rb.read_page(0)
    commit = header(page)[1]
    assert commit == 4056 | RB_MISSED_EVENTS | RB_MISSED_STORED
    assert struct.unpack_from("<Q", page, 16 + 4056) == (78,)
    assert header(rb.read_page(0))[1] == 104  # told once


def test_page_read_flags_missed_events_without_room_for_the_count() -> None:
    rb = RingBuffer(1, size_kb=1)
    fill(rb, 0, 510 * 2 + 1, 4)  # pages filled exactly: no room after the data
    page = rb.read_page(0)
    assert header(page)[1] == BUF_PAGE_SIZE | RB_MISSED_EVENTS


def test_consumed_event_reports_what_was_lost_before_it() -> None:
    rb = RingBuffer(1, size_kb=1)
    fill(rb, 0, 39 * 4, 100)
    event = rb.consume(0)
    assert (event.seq, event.lost) == (39 * 2, 39 * 2)


def test_walk_survives_the_writer_and_reader_moving_under_it() -> None:
    rb = RingBuffer(1, size_kb=1)
    ts = fill(rb, 0, 60, 100)
    walk = rb.cpus[0].events()
    seen = [next(walk).seq for _ in range(5)]
    ts = fill(rb, 0, 39 * 2, 100, ts)  # the pages under the walk are overwritten
    seen.append(next(walk).seq)
    rb.consume(0)
    rb.consume(0)
    seen += [e.seq for e in walk]
    assert seen[:5] == [0, 1, 2, 3, 4]
    # 78 and 79 were consumed; 78 had been seen already.
    assert seen[5] == 78 and seen[6:] == list(range(80, 138))
    walk = rb.cpus[0].events()
    next(walk)
    rb.reset(0)
    fill(rb, 0, 2, 4, ts)
    assert [e.seq for e in walk] == [138, 139]


# -- resize, reset, stats ------------------------------------------------------


def test_growing_keeps_everything_and_adds_room() -> None:
    rb = RingBuffer(1, size_kb=1)
    ts = fill(rb, 0, 60, 100)
    rb.resize(16, cpu=0)
    assert rb.cpus[0].nr_pages == 5 and len(rb.cpus[0].pages) == 5
    fill(rb, 0, 39 * 3, 100, ts)
    assert rb.stats(0, 0).overrun == 0
    assert [e.seq for e in rb.events()] == list(range(60 + 39 * 3))


def test_shrinking_drops_the_oldest_pages_and_the_reader_is_told() -> None:
    rb = RingBuffer(1, size_kb=16)
    fill(rb, 0, 39 * 4 + 1, 100)  # five pages in use
    rb.resize(1)
    stats = rb.stats(0, 0)
    assert rb.cpus[0].nr_pages == 2 and stats.overrun == 39 * 3
    assert stats.entries == 40 and stats.bytes == BUF_PAGE_SIZE + 104
    assert [e.seq for e in rb.events()] == list(range(39 * 3, 39 * 4 + 1))
    assert rb.consume(0).lost == 39 * 3


def test_shrinking_free_pages_loses_nothing() -> None:
    rb = RingBuffer(1, size_kb=16)
    ts = fill(rb, 0, 39 + 1, 100)
    rb.resize(8)
    assert rb.stats(0, 0).overrun == 0 and len(list(rb.events())) == 40
    fill(rb, 0, 39 * 2, 100, ts)
    assert rb.stats(0, 0).overrun == 39


def test_shrinking_while_the_writer_is_on_the_reader_page() -> None:
    rb = RingBuffer(1, size_kb=16)
    rb.write(0, T0, b"a")
    rb.write(0, T0 + 1, b"b")
    assert rb.consume(0).seq == 0 and rb.cpus[0].tail is None
    rb.resize(1)
    assert rb.stats(0, 0).overrun == 0 and [e.seq for e in rb.events()] == [1]
    fill(rb, 0, 39 * 3, 100, T0 + 2)
    assert rb.stats(0, 0).overrun == 0
    assert [e.seq for e in rb.events()] == list(range(1, 2 + 39 * 3))


def test_reset_empties_a_cpu_and_zeroes_its_counters() -> None:
    rb = RingBuffer(2, size_kb=1)
    ts = fill(rb, 0, 100, 100)
    rb.write(1, ts, b"keep")
    rb.consume(0)
    rb.reset(0)
    assert rb.stats(0, 5) == CpuStats(0, 0, 0, 0, rb.stats(0, 5).oldest_event_ts, 5, 0, 0)
    assert [e.cpu for e in rb.events()] == [1] and rb.read_page(0) is None
    rb.write(0, 7, b"after")  # the clock may start again after a reset
    assert [(e.seq, e.ts) for e in rb.cpus[0].events()] == [(100, 7)]
    rb.reset()
    assert rb.empty() and rb.totals() == EntryTotals(0, 0)


def test_stats_follow_the_kernel_counters() -> None:
    rb = RingBuffer(2, size_kb=8)
    assert rb.stats(1, 9) == CpuStats(0, 0, 0, 0, 0, 9, 0, 0)
    rb.write(1, T0, b"hello")
    rb.write(1, T0 + 5, b"world!!!")
    assert rb.stats(1, T0 + 9) == CpuStats(
        entries=2, overrun=0, commit_overrun=0, bytes=32, oldest_event_ts=T0,
        now_ts=T0 + 9, dropped_events=0, read_events=0)
    rb.consume(1)
    assert rb.stats(1, 0).bytes == 16 and rb.stats(1, 0).read_events == 1
    # The writer's page is the reader's now: the oldest time is that page's.
    assert rb.stats(1, 0).oldest_event_ts == T0


def test_memory_stays_within_the_pages() -> None:
    rb = RingBuffer(2, size_kb=16)
    ts = T0
    for i in range(5000):
        rb.write(i % 2, ts, bytes(i % 700))
        ts += 1 << (i % 40)
        if i % 97 == 0:
            rb.consume()
        if i % 301 == 0:
            rb.read_page(i % 2)
    for cpu in rb.cpus:
        pages = [*cpu.pages, cpu.reader_page]
        assert len(pages) == cpu.nr_pages + 1 == 6
        assert all(len(page.data) <= BUF_PAGE_SIZE for page in pages)
