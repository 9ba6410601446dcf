"""The per-CPU ring buffer that trace events go to: kernel/trace/ring_buffer.c.

Names follow ring_buffer.c so that this file reads beside it:

* ``RingBuffer`` is ``struct trace_buffer``: one ``RingBufferPerCpu`` per
  CPU, the overwrite flag (``RB_FL_OVERWRITE``, the ``overwrite`` trace
  option) and the record switches behind ``tracing_on``.
* ``RingBufferPerCpu`` is ``struct ring_buffer_per_cpu``: a ring of
  ``nr_pages`` ``BufferPage``s, in which the *tail page* is where the writer
  writes and the *head page* holds the oldest data, and one *reader page*
  outside the ring. The reader reads its reader page; when it has read it
  through it swaps it for the head page, so the reader never shares a page
  with the writer unless the writer was on the head page when it was
  swapped, in which case the writer goes on writing on the reader page.
* ``BufferPage`` is ``struct buffer_page`` with its ``buffer_data_page``:
  the page's records in the binary form of ``ring_buffer_format.py``.

Writing (``ring_buffer_write``): each event is committed at once, so the
write index and ``commit`` are one. An event that does not fit the rest of
the tail page closes it with padding (``rb_reset_tail``) and moves the
writer to the next page (``rb_move_tail``). If that page is the head page
the buffer is full: in overwrite mode the head page's events are dropped
and counted in ``overrun``, and the head moves on (``rb_handle_head_page``);
otherwise the new event is dropped and counted in ``dropped_events`` (the
tail page is still closed with padding, as the kernel does).

Reading: ``consume`` takes events one at a time (``ring_buffer_consume``,
``trace_pipe``), ``read_page`` takes the rest of the reader page as one page
(``ring_buffer_read_page``, ``trace_pipe_raw``), and ``events`` walks what is
left without consuming it (``ring_buffer_iter``, the ``trace`` file). The
reader learns how many events were overwritten since its last swap
(``lost_events``) and reports them with the next event or page.

Differences from the kernel, on purpose:

* One writer per CPU, with no interrupts nesting inside a write, so the
  commit page is always the tail page and ``commit overrun`` stays 0.
* A time stamp earlier than the CPU's last one is taken as that last one:
  time never goes backwards within a CPU. (The kernel warns, writes a zero
  time extend, and lets a page's first event go back.)
* A delta that does not fit a time extend (2**59 ns, over 18 years) starts
  a new page, whose header holds the full time stamp. (The kernel warns and
  writes a zero delta.)
* A non-consuming walk that the buffer changes under finds its place again
  by sequence number; the kernel's iterator starts its page over and
  reports lost events. (The kernel stops recording while ``trace`` is open,
  the ``pause-on-trace`` option, so by default neither happens.)
* No absolute-time-stamp mode, sub-buffer sizes other than one page, or
  memory mapping; a page is always ``PAGE_SIZE`` bytes.
* A page's data takes memory only as events are written to it, and
  clearing a page (a reset, the writer coming round) gives it back; nothing
  grows beyond the pages.

Deterministic: no clock and no randomness; time stamps come from the
caller. Like the rest of this package, every object here is read and
changed only from the daemon's one trio thread.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .ring_buffer_format import (
    BUF_MAX_DATA_SIZE,
    BUF_PAGE_SIZE,
    RB_EVNT_MIN_SIZE,
    RB_LEN_TIME_EXTEND,
    RINGBUF_TYPE_DATA_TYPE_LEN_MAX,
    RINGBUF_TYPE_PADDING,
    RINGBUF_TYPE_TIME_EXTEND,
    TS_EXTEND_LIMIT,
    TS_MASK,
    Record,
    data_event,
    padding,
    rb_calculate_event_length,
    read_record,
    subbuffer,
    time_extend,
)

#: ``TRACE_BUF_SIZE_DEFAULT``: 1408 KiB per CPU (``buffer_size_kb`` then shows 1410).
DEFAULT_SIZE_KB = 1408
MAX_TIMESTAMP = (1 << 64) - 1


def nr_pages_for(size_kb: int) -> int:
    """Pages for a per-CPU size in KiB, as ``ring_buffer_resize`` counts them.

    The bytes are divided by the data a page holds (``BUF_PAGE_SIZE``, not
    ``PAGE_SIZE``), rounding up, with a minimum of two pages.
    """
    if size_kb < 0:
        raise ValueError(f"negative buffer size {size_kb}")
    return max(2, -(-(size_kb << 10) // BUF_PAGE_SIZE))


@dataclass(frozen=True, slots=True)
class Event:
    """One event read back from a CPU's buffer.

    ``seq`` numbers the events of a CPU in the order they were written, from
    0, never reused (not even after a reset). ``payload`` is what was written
    followed by the slack the record rounds it up to. ``lost`` is, for a
    consumed event, how many events of the CPU were overwritten between the
    previous consumed event and this one; 0 from the non-consuming walk.
    """

    cpu: int
    seq: int
    ts: int
    payload: bytes
    lost: int = 0


def earliest(events: Iterable[Event]) -> Event | None:
    """The event a merged reader takes first: the earliest, a tie to the lower CPU
    (``__find_next_entry``)."""
    return min(events, key=_merge_order, default=None)


def _merge_order(event: Event) -> tuple[int, int]:
    return event.ts, event.cpu


@dataclass(frozen=True, slots=True)
class CpuStats:
    """What ``per_cpu/cpuN/stats`` reports, in nanoseconds and counts."""

    entries: int
    overrun: int
    commit_overrun: int
    bytes: int
    oldest_event_ts: int
    now_ts: int
    dropped_events: int
    read_events: int


@dataclass(frozen=True, slots=True)
class EntryTotals:
    """The ``entries-in-buffer/entries-written`` pair of the ``trace`` header."""

    entries_in_buffer: int
    entries_written: int


@dataclass(slots=True, eq=False)
class BufferPage:
    """One page: ``struct buffer_page`` and its data.

    ``data`` is the page's records up to ``commit`` (its length). The time
    stamp is that of the page's first event; clearing a page leaves it as it
    was, as the kernel does, which ``stats`` can show after a reset.
    ``real_end`` is where the padding that closed the page starts (0 when
    the events filled it exactly); ``read`` is the reader's offset, used on
    the reader page. ``first_seq`` and ``read_entries`` are the model's own:
    the ``seq`` of the page's first event and how many events the reader
    consumed from it.
    """

    time_stamp: int = 0
    data: bytearray = field(default_factory=bytearray)
    entries: int = 0
    real_end: int = 0
    read: int = 0
    first_seq: int = 0
    read_entries: int = 0

    def clear(self) -> None:
        """Empty the page (``rb_clear_buffer_page``, or the writer moving onto it)."""
        self.data.clear()
        self.entries = self.read = self.read_entries = 0


@dataclass(slots=True, eq=False)
class RingBufferPerCpu:
    """One CPU's buffer: the ring of pages, the reader page and the counters.

    ``head`` and ``tail`` index ``pages`` in ring order; ``tail`` is None while
    the writer is on the reader page. ``anchor`` is ``cpu_buffer->pages``,
    the page a reset makes the head. ``version`` changes whenever pages are
    swapped, dropped, consumed, reset or resized, so that a walk in progress
    knows to find its place again.
    """

    cpu: int
    nr_pages: int
    pages: list[BufferPage] = field(init=False)
    reader_page: BufferPage = field(init=False, default_factory=BufferPage)
    head: int = field(init=False, default=0)
    tail: int | None = field(init=False, default=0)
    anchor: BufferPage = field(init=False)
    entries: int = field(init=False, default=0)
    overrun: int = field(init=False, default=0)
    commit_overrun: int = field(init=False, default=0)
    dropped_events: int = field(init=False, default=0)
    entries_bytes: int = field(init=False, default=0)
    read: int = field(init=False, default=0)
    read_bytes: int = field(init=False, default=0)
    lost_events: int = field(init=False, default=0)
    last_overrun: int = field(init=False, default=0)
    write_stamp: int = field(init=False, default=0)
    read_stamp: int = field(init=False, default=0)
    next_seq: int = field(init=False, default=0)
    version: int = field(init=False, default=0)
    #: The last event ``peek`` read, with where it was read (reader page, its read
    #: offset, ``version``): while those hold, the next peek or consume reuses it.
    peeked: tuple[BufferPage, int, int, Event, Record] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.pages = [BufferPage() for _ in range(self.nr_pages)]
        self.anchor = self.pages[0]

    # -- the writer ---------------------------------------------------------

    def write(self, ts: int, payload: bytes, overwrite: bool) -> bool:
        """Write one event; False when it was dropped (buffer full, no overwrite)."""
        length = rb_calculate_event_length(len(payload))
        ts = max(ts, self.write_stamp)
        while True:
            page = self._tail_page()
            w = len(page.data)
            delta = ts - self.write_stamp if w else 0
            need = length + (RB_LEN_TIME_EXTEND if delta > TS_MASK else 0)
            if w + need > BUF_PAGE_SIZE or delta >= TS_EXTEND_LIMIT:
                if not self._move_tail(page, w, overwrite):
                    return False
                continue
            if delta > TS_MASK:
                page.data += time_extend(delta)
                delta = 0
            page.data += data_event(length, delta, payload)
            if not w:
                page.time_stamp = ts
                page.first_seq = self.next_seq
            page.entries += 1
            self.entries += 1
            self.entries_bytes += need
            self.next_seq += 1
            self.write_stamp = ts
            return True

    def _tail_page(self) -> BufferPage:
        return self.reader_page if self.tail is None else self.pages[self.tail]

    def _move_tail(self, page: BufferPage, w: int, overwrite: bool) -> bool:
        """``rb_move_tail``: close ``page`` and go to the next, or drop the event."""
        if self.tail is None:
            # From the reader page the writer goes to the head page: the ring is
            # empty, since the reader took the writer's page out of it.
            nxt = self.head
        else:
            nxt = (self.tail + 1) % self.nr_pages
            if nxt == self.head:
                if not overwrite:
                    self.dropped_events += 1
                    self._reset_tail(page, w)
                    return False
                self._drop_head_page()
        self.pages[nxt].clear()
        self.tail = nxt
        self._reset_tail(page, w)
        return True

    def _drop_head_page(self) -> None:
        """``rb_handle_head_page``: the writer takes the head page over."""
        lost = self.pages[self.head]
        self.overrun += lost.entries
        self.entries_bytes -= len(lost.data)
        self.head = (self.head + 1) % self.nr_pages
        self.version += 1

    def _reset_tail(self, page: BufferPage, w: int) -> None:
        """``rb_reset_tail``: pad the page the writer leaves from ``w`` to its end."""
        if w == BUF_PAGE_SIZE:
            page.real_end = 0
            return
        page.real_end = w
        if w > BUF_PAGE_SIZE - RB_EVNT_MIN_SIZE:
            # Too little room even for padding: the kernel writes a null header
            # beyond the commit, which no reader sees.
            return
        page.data += padding(BUF_PAGE_SIZE - w)
        self.entries_bytes += BUF_PAGE_SIZE - w

    # -- the reader ---------------------------------------------------------

    @property
    def entries_in_buffer(self) -> int:
        """Events written and neither overwritten nor consumed (``rb_num_of_entries``)."""
        return self.entries - self.overrun - self.read

    def dirty_pages(self) -> int:
        """Pages the writer filled that the reader has yet to take: the ring's
        pages from the head up to, not including, the writer's
        (``ring_buffer_nr_dirty_pages``)."""
        return 0 if self.tail is None else (self.tail - self.head) % self.nr_pages

    def _get_reader_page(self) -> BufferPage | None:
        """``rb_get_reader_page``: the reader page, swapped for the head page if read through."""
        page = self.reader_page
        while page.read >= len(page.data):
            if self.tail is None or not self.entries_in_buffer:
                return None
            self._swap_reader_page()
            page = self.reader_page
        if not page.read:
            self.read_stamp = page.time_stamp
        return page

    def _swap_reader_page(self) -> None:
        """``rb_swap_reader_page``: the emptied reader page takes the head page's place."""
        old = self.reader_page
        old.clear()
        old.real_end = 0
        self.anchor = self.pages[self.head - 1]
        self.reader_page = self.pages[self.head]
        self.pages[self.head] = old
        if self.tail == self.head:
            self.tail = None
        self.head = (self.head + 1) % self.nr_pages
        if self.overrun != self.last_overrun:
            self.lost_events = self.overrun - self.last_overrun
            self.last_overrun = self.overrun
        self.version += 1

    def _advance_reader(self, record: Record) -> None:
        """``rb_advance_reader``: step over ``record``, the one at the reader's offset."""
        page = self.reader_page
        if record.type_len <= RINGBUF_TYPE_DATA_TYPE_LEN_MAX:
            self.read += 1
            page.read_entries += 1
            self.read_stamp += record.delta
        elif record.type_len == RINGBUF_TYPE_TIME_EXTEND:
            self.read_stamp += record.delta
        page.read += record.length
        self.read_bytes += record.length

    def peek(self) -> Event | None:
        """The next event to consume, left in place (``ring_buffer_peek``).

        As in the kernel, even a peek steps over padding and time extends and
        may swap the reader page.
        """
        return self._next_event(consume=False)

    def consume(self) -> Event | None:
        """The next event, consumed (``ring_buffer_consume``); None when there is none."""
        return self._next_event(consume=True)

    def _next_event(self, consume: bool) -> Event | None:
        peeked = self.peeked
        if peeked is not None and peeked[:3] == (self.reader_page, self.reader_page.read,
                                                 self.version):
            event, record = peeked[3], peeked[4]
        else:
            while True:
                page = self._get_reader_page()
                if page is None:
                    return None
                record = read_record(page.data, page.read)
                if record.type_len not in (RINGBUF_TYPE_PADDING, RINGBUF_TYPE_TIME_EXTEND):
                    break
                self._advance_reader(record)
            event = Event(self.cpu, page.first_seq + page.read_entries,
                          self.read_stamp + record.delta, record.payload, self.lost_events)
        if consume:
            self.lost_events = 0
            self._advance_reader(record)
            self.version += 1
            self.peeked = None
        else:
            self.peeked = (self.reader_page, self.reader_page.read, self.version, event, record)
        return event

    def read_page(self) -> bytes | None:
        """``ring_buffer_read_page`` with a whole page: the rest of the reader page, consumed.

        A page nobody has read from, and that the writer has left, is handed
        over whole (the kernel swaps it with the reader's spare page), its
        closing padding cut off at ``real_end``. Otherwise the events left on
        the reader page are copied one by one to a fresh page whose time
        stamp is the reader's, which is how a page the writer is still on is
        read: later events then come in a later page. None when there is
        nothing to read.
        """
        page = self._get_reader_page()
        if page is None:
            return None
        missed = self.lost_events
        if page.read or self.tail is None:
            stamp = self.read_stamp
            start = page.read
            while page.read < len(page.data):
                self._advance_reader(read_record(page.data, page.read))
            data = bytes(page.data[start:])
        else:
            self.read += page.entries
            self.read_bytes += len(page.data)
            stamp = page.time_stamp
            data = bytes(page.data[:page.real_end or len(page.data)])
            page.clear()
        self.lost_events = 0
        self.version += 1
        return subbuffer(stamp, data, missed)

    def events(self, start: int = 0) -> Iterator[Event]:
        """The events not yet consumed, oldest first, from ``seq`` ``start`` on.

        Nothing is consumed. The walk reads the pages as it goes, so it sees
        events written meanwhile; when pages are swapped, dropped, consumed,
        reset or resized under it, it finds its place again by ``seq`` (the
        events lost meanwhile are simply not there).
        """
        want = start
        while True:
            version = self.version
            for event in self._walk(want):
                yield event
                want = event.seq + 1
                if self.version != version:
                    break
            else:
                return

    def _walk(self, want: int) -> Iterator[Event]:
        """The reader page from the reader's offset, then the ring from head to tail."""
        page = self.reader_page
        index: int | None = None
        offset, seq = page.read, page.first_seq + page.read_entries
        stamp = self.read_stamp if offset else page.time_stamp
        while True:
            left = page.entries - (page.read_entries if index is None else 0)
            if seq + left > want:
                while offset < len(page.data):
                    record = read_record(page.data, offset)
                    offset += record.length
                    if record.type_len == RINGBUF_TYPE_TIME_EXTEND:
                        stamp += record.delta
                    elif record.type_len <= RINGBUF_TYPE_DATA_TYPE_LEN_MAX:
                        stamp += record.delta
                        if seq >= want:
                            yield Event(self.cpu, seq, stamp, record.payload)
                        seq += 1
            if index is None:
                if self.tail is None:
                    return
                index = self.head
            elif index == self.tail:
                return
            else:
                index = (index + 1) % self.nr_pages
            page = self.pages[index]
            offset, seq, stamp = 0, page.first_seq, page.time_stamp

    # -- sizing and statistics ----------------------------------------------

    def resize(self, nr_pages: int) -> None:
        """``ring_buffer_resize`` for this CPU: add or remove ring pages."""
        if nr_pages > self.nr_pages:
            self._insert_pages(nr_pages - self.nr_pages)
        elif nr_pages < self.nr_pages:
            self._remove_pages(self.nr_pages - nr_pages)
        self.nr_pages = nr_pages
        self.version += 1

    def _insert_pages(self, count: int) -> None:
        """``rb_insert_pages``: new empty pages go just before the head page."""
        self.pages[self.head:self.head] = [BufferPage() for _ in range(count)]
        if self.tail is not None and self.tail >= self.head:
            self.tail += count
        self.head += count

    def _remove_pages(self, count: int) -> None:
        """``rb_remove_pages``: the pages just after the tail go, the free ones first.

        When the writer is on the reader page the ring is empty and the pages
        after the head page go. A page that held events counts them in
        ``overrun``, which the reader then reports as lost.
        """
        n = self.nr_pages
        first = (self.head if self.tail is None else self.tail) + 1
        gone = {(first + i) % n for i in range(count)}
        after = self.pages[(first + count) % n]
        for i in gone:
            page = self.pages[i]
            if page.entries:
                self.overrun += page.entries
                self.entries_bytes -= len(page.data)
        head = after if self.head in gone else self.pages[self.head]
        tail = None if self.tail is None else self.pages[self.tail]
        self.pages = [page for i, page in enumerate(self.pages) if i not in gone]
        self.head = self.pages.index(head)
        self.tail = None if tail is None else self.pages.index(tail)
        self.anchor = after

    def reset(self) -> None:
        """``rb_reset_cpu``: every page empty, every counter 0, head and tail at the anchor."""
        for page in self.pages:
            page.clear()
        self.reader_page.clear()
        self.head = self.pages.index(self.anchor)
        self.tail = self.head
        self.entries = self.overrun = self.dropped_events = 0
        self.entries_bytes = self.read = self.read_bytes = 0
        self.lost_events = self.last_overrun = self.write_stamp = 0
        self.version += 1

    @property
    def oldest_event_ts(self) -> int:
        """``ring_buffer_oldest_event_ts``: the time stamp of the reader's page or the head page."""
        if self.tail is None:
            return self.reader_page.time_stamp
        return self.pages[self.head].time_stamp


class RingBuffer:
    """``struct trace_buffer``: the per-CPU buffers of one trace instance.

    ``overwrite`` is ``RB_FL_OVERWRITE``. Writes are refused, and counted
    nowhere, while recording is off (``ring_buffer_record_off``, what
    ``tracing_on`` 0 does) or disabled (``ring_buffer_record_disable``, a
    counter, as while ``trace`` is open for reading).
    """

    __slots__ = ("cpus", "overwrite", "_record_off", "_record_disabled")

    def __init__(self, nr_cpus: int, size_kb: int = DEFAULT_SIZE_KB,
                 overwrite: bool = True) -> None:
        if nr_cpus < 1:
            raise ValueError(f"a buffer needs at least one CPU, not {nr_cpus}")
        nr_pages = nr_pages_for(size_kb)
        self.cpus = tuple(RingBufferPerCpu(cpu, nr_pages) for cpu in range(nr_cpus))
        self.overwrite = overwrite
        self._record_off = False
        self._record_disabled = 0

    def cpu_buffer(self, cpu: int) -> RingBufferPerCpu:
        if not 0 <= cpu < len(self.cpus):
            raise ValueError(f"no CPU {cpu} (the buffer has {len(self.cpus)})")
        return self.cpus[cpu]

    # -- writing ------------------------------------------------------------

    @property
    def recording(self) -> bool:
        """``ring_buffer_record_is_on``."""
        return not self._record_off and not self._record_disabled

    def record_on(self) -> None:
        self._record_off = False

    def record_off(self) -> None:
        self._record_off = True

    def record_disable(self) -> None:
        self._record_disabled += 1

    def record_enable(self) -> None:
        if not self._record_disabled:
            raise ValueError("record_enable without record_disable")
        self._record_disabled -= 1

    def write(self, cpu: int, ts: int, payload: bytes) -> bool:
        """``ring_buffer_write`` on ``cpu`` at ``ts`` ns; False when the event was not stored.

        A payload over ``BUF_MAX_DATA_SIZE`` bytes, or a time stamp outside
        u64, is an error of the caller.
        """
        buffer = self.cpu_buffer(cpu)
        if len(payload) > BUF_MAX_DATA_SIZE:
            raise ValueError(f"payload of {len(payload)} bytes, over {BUF_MAX_DATA_SIZE}")
        if not 0 <= ts <= MAX_TIMESTAMP:
            raise ValueError(f"time stamp {ts} outside u64")
        if not self.recording:
            return False
        return buffer.write(ts, payload, self.overwrite)

    # -- reading ------------------------------------------------------------

    def peek(self, cpu: int | None = None) -> Event | None:
        """The next event ``consume`` would return, left in place."""
        return self._next(cpu, consume=False)

    def consume(self, cpu: int | None = None) -> Event | None:
        """Consume the next event of ``cpu``, or of all CPUs by time stamp (``trace_pipe``).

        Across CPUs the earliest event goes first and a tie goes to the lower
        CPU, as ``__find_next_entry`` picks.
        """
        return self._next(cpu, consume=True)

    def _next(self, cpu: int | None, consume: bool) -> Event | None:
        if cpu is not None:
            buffer = self.cpu_buffer(cpu)
            return buffer.consume() if consume else buffer.peek()
        best = earliest([e for buffer in self.cpus if (e := buffer.peek()) is not None])
        if best is None or not consume:
            return best
        return self.cpus[best.cpu].consume()

    def read_page(self, cpu: int) -> bytes | None:
        """A ``PAGE_SIZE`` page of ``cpu``'s events, consumed (``trace_pipe_raw``), or None."""
        return self.cpu_buffer(cpu).read_page()

    def events(self, start: Mapping[int, int] | None = None) -> Iterator[Event]:
        """Every CPU's unconsumed events merged by time stamp, ties to the lower CPU.

        Nothing is consumed. ``start`` maps a CPU to the ``seq`` to start it
        from: a reader that stops after an event of CPU ``c`` resumes with
        ``c`` mapped to that event's ``seq + 1`` and the others as they were.
        """
        start = start or {}
        return heapq.merge(*(buffer.events(start.get(buffer.cpu, 0)) for buffer in self.cpus),
                           key=_merge_order)

    def empty(self, cpu: int | None = None) -> bool:
        """Whether there is no event left to consume, on ``cpu`` or on any CPU."""
        buffers = self.cpus if cpu is None else (self.cpu_buffer(cpu),)
        return not any(buffer.entries_in_buffer for buffer in buffers)

    def full_hit(self, cpu: int, full: int) -> bool:
        """Whether ``cpu``'s buffer is ``full`` percent full, for a waiting reader
        (``full_hit``). The writer's page never counts as filled, so it counts
        one more than the filled pages, or 100 could never be reached."""
        buffer = self.cpu_buffer(cpu)
        return not full or (buffer.dirty_pages() + 1) * 100 >= full * buffer.nr_pages

    # -- sizing, reset, statistics ------------------------------------------

    def resize(self, size_kb: int, cpu: int | None = None) -> None:
        """Set ``buffer_size_kb`` for one CPU or all of them (``ring_buffer_resize``).

        Growing adds empty pages; shrinking drops the oldest events that no
        longer fit, counted in ``overrun``.
        """
        nr_pages = nr_pages_for(size_kb)
        for buffer in self.cpus if cpu is None else (self.cpu_buffer(cpu),):
            buffer.resize(nr_pages)

    def size_kb(self, cpu: int) -> int:
        """What ``per_cpu/cpuN/buffer_size_kb`` shows: the pages' data bytes, in KiB."""
        return self.cpu_buffer(cpu).nr_pages * BUF_PAGE_SIZE >> 10

    def reset(self, cpu: int | None = None) -> None:
        """Empty one CPU's buffer or all of them (``echo > trace``), counters included."""
        for buffer in self.cpus if cpu is None else (self.cpu_buffer(cpu),):
            buffer.reset()

    def stats(self, cpu: int, now: int) -> CpuStats:
        """``per_cpu/cpuN/stats``; ``now`` is the clock's time, which the model does not keep."""
        buffer = self.cpu_buffer(cpu)
        return CpuStats(
            entries=buffer.entries_in_buffer,
            overrun=buffer.overrun,
            commit_overrun=buffer.commit_overrun,
            bytes=buffer.entries_bytes - buffer.read_bytes,
            oldest_event_ts=buffer.oldest_event_ts,
            now_ts=now,
            dropped_events=buffer.dropped_events,
            read_events=buffer.read,
        )

    def totals(self) -> EntryTotals:
        """The ``trace`` header's counts: events in the buffer, and those plus the overwritten."""
        entries = sum(buffer.entries_in_buffer for buffer in self.cpus)
        return EntryTotals(entries, entries + sum(buffer.overrun for buffer in self.cpus))
