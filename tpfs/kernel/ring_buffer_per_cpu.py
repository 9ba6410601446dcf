"""One CPU's ring buffer (``struct ring_buffer_per_cpu``, from
``kernel/trace/ring_buffer.c``): its ring of pages and reader page, the writer
that fills them, the reader that consumes or walks them, and their sizing.

How the writer, the reader page and overwriting work, and where tpfs differs
from the kernel on purpose, is told in ``ring_buffer``, whose ``RingBuffer``
holds one of these per CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ._commit import fill
from .ring_buffer_format import (
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
from .ring_buffer_page import BufferPage, Event


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

    def write_many(self, stamps: list[int], payloads: list[bytes], overwrite: bool) -> int:
        """``write`` for each event in turn, the records laid out natively a page at a
        time (``_commit.fill``); how many were stored (the others were dropped)."""
        i, n, stored = 0, len(payloads), 0
        while i < n:
            page = self._tail_page()
            w = len(page.data)
            end, stamp, used = fill(page.data, self.write_stamp, stamps, payloads, i)
            if end > i:
                if not w:
                    page.time_stamp = max(stamps[i], self.write_stamp)
                    page.first_seq = self.next_seq
                count = end - i
                page.entries += count
                self.entries += count
                self.entries_bytes += used
                self.next_seq += count
                self.write_stamp = stamp
                stored += count
                i = end
            if i < n and not self._move_tail(page, len(page.data), overwrite):
                i += 1  # dropped: the buffer is full and overwrite is off
        return stored

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
        page.real_end = 0 if w == BUF_PAGE_SIZE else w
        # With too little room even for padding, the kernel writes a null header
        # beyond the commit, which no reader sees.
        if w <= BUF_PAGE_SIZE - RB_EVNT_MIN_SIZE:
            page.data += padding(BUF_PAGE_SIZE - w)
            self.entries_bytes += BUF_PAGE_SIZE - w
        page.seal()

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

    def walk_pages(self) -> Iterator[tuple[BufferPage, int, int, int, int]]:
        """The pages a reader has left, in order: the reader page from the reader's
        offset, then the ring from head to tail. For each: the page, the offset its
        unread records start at, the ``seq`` and the time stamp there, and how many
        events it holds from there. The buffer must not change while it is used."""
        page = self.reader_page
        offset = page.read
        stamp = self.read_stamp if offset else page.time_stamp
        yield (page, offset, page.first_seq + page.read_entries, stamp,
               page.entries - page.read_entries)
        if self.tail is None:
            return
        index = self.head
        while True:
            page = self.pages[index]
            yield page, 0, page.first_seq, page.time_stamp, page.entries
            if index == self.tail:
                return
            index = (index + 1) % self.nr_pages

    def _walk(self, want: int) -> Iterator[Event]:
        """The events from ``seq`` ``want`` on, read record by record (``walk_pages``)."""
        for page, offset, seq, stamp, left in self.walk_pages():
            if seq + left <= want:
                continue
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

    # -- sizing and statistics ----------------------------------------------

    def lose(self, count: int) -> None:
        """``count`` events written elsewhere and lost before they came here: counted
        as written and overrun, so the reader reports them lost as it does its own."""
        self.entries += count
        self.overrun += count

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
