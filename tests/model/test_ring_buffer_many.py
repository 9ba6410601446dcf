"""``RingBuffer.write_many`` (the native ``_commit.fill`` a page at a time) against
``write`` one event at a time: the same pages byte for byte, the same counters,
the same events read back, whatever the batches, sizes, stamps and mode."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpfs.kernel.ring_buffer import RingBuffer
from tpfs.kernel.ring_buffer_format import BUF_MAX_DATA_SIZE, TS_EXTEND_LIMIT, TS_MASK

#: Payload sizes around each length rule: 0, the 12-byte case, the largest small
#: record, the first with a length word, a page's worth.
SIZES = st.one_of(st.integers(0, 140), st.sampled_from([0, 5, 8, 9, 108, 112, 113, 116, 2000,
                                                        BUF_MAX_DATA_SIZE]))
#: Steps between time stamps: none, small, past the header's 27 bits, past a time
#: extend's reach, and backwards.
STEPS = st.one_of(st.integers(0, 1000), st.sampled_from([TS_MASK, TS_MASK + 1, 1 << 40,
                                                         TS_EXTEND_LIMIT, -5, -(1 << 30)]))


def state(buffer: RingBuffer) -> list[object]:
    """Everything a CPU's buffer holds and counts."""
    out: list[object] = []
    for b in buffer.cpus:
        pages = [(p.time_stamp, bytes(p.data), p.entries, p.real_end, p.read, p.first_seq,
                  p.read_entries) for p in [b.reader_page, *b.pages]]
        out.append((pages, b.head, b.tail, b.entries, b.overrun, b.dropped_events,
                    b.entries_bytes, b.read, b.read_bytes, b.lost_events, b.write_stamp,
                    b.next_seq, buffer.stats(b.cpu, 0)))
    return out


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[str, int, list[int], list[bytes]]]:
    """Steps: a batch of events on a CPU, or a read (``consume`` or ``read_page``)."""
    steps = []
    ts = draw(st.integers(0, 1 << 20))
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["write", "write", "write", "consume", "page"]))
        cpu = draw(st.integers(0, 1))
        stamps, payloads = [], []
        if kind == "write":
            for _ in range(draw(st.integers(0, 90))):
                ts = max(0, ts + draw(STEPS))
                stamps.append(min(ts, (1 << 64) - 1))
                size = draw(SIZES)
                payloads.append(bytes((i * 7 + size) & 0xFF for i in range(size)))
        else:
            stamps = [draw(st.integers(1, 40))]
        steps.append((kind, cpu, stamps, payloads))
    return steps


def apply(buffer: RingBuffer, steps: list[tuple[str, int, list[int], list[bytes]]],
          many: bool) -> list[object]:
    seen: list[object] = []
    for kind, cpu, stamps, payloads in steps:
        if kind == "write":
            if many:
                seen.append(buffer.write_many(cpu, stamps, payloads))
            else:
                pairs = zip(stamps, payloads, strict=True)
                seen.append(sum(buffer.write(cpu, ts, p) for ts, p in pairs))
        elif kind == "consume":
            seen.append([buffer.consume(cpu) for _ in range(stamps[0])])
        else:
            seen.append(buffer.read_page(cpu))
    return seen


@settings(max_examples=300, deadline=None)
@given(steps=batches(), pages=st.integers(2, 5), overwrite=st.booleans())
def test_write_many_lays_pages_out_as_write_does(steps, pages: int, overwrite: bool) -> None:
    one, many = (RingBuffer(2, pages * 4, overwrite) for _ in range(2))
    assert apply(one, steps, many=False) == apply(many, steps, many=True)
    assert state(one) == state(many)
    assert list(one.events()) == list(many.events())


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_full_buffer_overruns_or_drops_as_one_at_a_time(overwrite: bool) -> None:
    one, many = RingBuffer(1, 8, overwrite), RingBuffer(1, 8, overwrite)
    stamps = [1000 * i for i in range(600)]
    payloads = [i.to_bytes(4, "little") * 15 for i in range(600)]
    kept = sum(one.write(0, ts, p) for ts, p in zip(stamps, payloads, strict=True))
    assert many.write_many(0, stamps, payloads) == kept == (600 if overwrite else kept)
    assert state(one) == state(many)
    counters = one.cpus[0]
    assert (counters.overrun > 0) if overwrite else (counters.dropped_events > 0 and kept < 600)


def test_recording_off_writes_nothing() -> None:
    buffer = RingBuffer(1)
    buffer.record_off()
    assert buffer.write_many(0, [1, 2], [b"a", b"b"]) == 0
    assert buffer.cpus[0].entries == 0


def test_bad_batches_are_refused_before_anything_is_written() -> None:
    buffer = RingBuffer(1)
    with pytest.raises(ValueError, match="over"):
        buffer.write_many(0, [1, 2], [b"a", bytes(BUF_MAX_DATA_SIZE + 1)])
    with pytest.raises(ValueError, match="u64"):
        buffer.write_many(0, [1, -1], [b"a", b"b"])
    with pytest.raises(ValueError, match="payloads"):
        buffer.write_many(0, [1], [b"a", b"b"])
    assert buffer.cpus[0].entries == 0


@pytest.mark.parametrize("many", [True, False])
def test_pages_the_writer_left_hold_no_slack(many: bool) -> None:
    """A page the writer has left keeps its bytes in an allocation of their size (the
    full-buffer memory bound in docs/memory.md): ``sys.getsizeof`` of a bytearray
    counts what it has allocated."""
    buffer = RingBuffer(1, 64)
    stamps = [1000 * i for i in range(1000)]
    payloads = [bytes(36)] * 1000
    if many:
        buffer.write_many(0, stamps, payloads)
    else:
        for ts, p in zip(stamps, payloads, strict=True):
            buffer.write(0, ts, p)
    cpu = buffer.cpus[0]
    left = [p for i, p in enumerate(cpu.pages) if i != cpu.tail and p.data]
    assert len(left) >= 4
    for page in left:
        assert sys.getsizeof(page.data) == sys.getsizeof(bytearray(bytes(page.data)))
