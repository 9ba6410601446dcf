"""A reader page's rest taken at once: what a reader that wants many events
(``trace_pipe``) takes instead of one ``peek``/``consume`` per event.

``peek_run`` decodes the events left on a CPU's reader page in one call of
the native ``_pages`` (pure computation) and leaves them in place;
``consume_run`` consumes a prefix of them, leaving the counters as that many
``consume`` calls would (``read``, ``read_bytes``, ``read_stamp``, lost
events). They work on ``RingBufferPerCpu``'s reader state beside its own
``peek`` and ``consume``, which stay as they are. ``walk_runs`` is
``RingBufferPerCpu.events`` (nothing consumed) a page at a time, for a reader
that shows many events without consuming them (``trace``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ._pages import decode
from .ring_buffer import RingBufferPerCpu
from .ring_buffer_format import read_record


@dataclass(frozen=True, slots=True)
class Run:
    """The events left on a CPU's reader page, not consumed: what ``consume``
    would return one by one, in one piece.

    ``stamps[i]`` and ``payloads[i]`` are the ``ts`` and ``payload`` of the
    event with ``seq`` ``first_seq + i``; ``ends[i]`` is the reader's offset
    once it is consumed; ``lost`` belongs to the first event, as ``Event.lost``.
    ``page`` (the reader page itself), ``offset`` and ``version`` say where it
    was read, so that ``consume_run`` knows it still holds.
    """

    cpu: int
    first_seq: int
    lost: int
    stamps: list[int]
    payloads: list[bytes]
    ends: list[int]
    page: object
    offset: int
    version: int


def peek_run(buffer: RingBufferPerCpu) -> Run | None:
    """The events left on ``buffer``'s reader page, left in place; None when
    there are none. Like ``peek``, it may swap the reader page."""
    while True:
        page = buffer._get_reader_page()
        if page is None:
            return None
        stamps, payloads, ends = decode(page.data, page.read, buffer.read_stamp, -1)
        if payloads:
            return Run(buffer.cpu, page.first_seq + page.read_entries, buffer.lost_events,
                       stamps, payloads, ends, page, page.read, buffer.version)
        # only padding and time extends left: step over them as peek would
        while page.read < len(page.data):
            buffer._advance_reader(read_record(page.data, page.read))


def consume_run(buffer: RingBufferPerCpu, run: Run, count: int) -> None:
    """Consume the first ``count`` events of ``run``, as ``count`` calls of
    ``consume`` would; ``buffer`` must not have changed since ``peek_run``."""
    page = buffer.reader_page
    if (run.page is not page or run.offset != page.read or run.version != buffer.version
            or not 0 <= count <= len(run.payloads)):
        raise ValueError("the run is not the reader page's any more")
    if not count:
        return
    end = run.ends[count - 1]
    buffer.read += count
    page.read_entries += count
    buffer.read_stamp = run.stamps[count - 1]
    buffer.read_bytes += end - page.read
    page.read = end
    buffer.lost_events = 0
    buffer.version += 1
    buffer.peeked = None


#: A page's part of a walk: the ``seq`` of its first event, their stamps and payloads.
Walked = tuple[int, list[int], list[bytes]]


def walk_runs(buffer: RingBufferPerCpu, start: int) -> Iterator[Walked]:
    """What ``buffer.events(start)`` yields, a page at a time (each page's events
    decoded in one native call): the reader page from the reader's offset, then
    the ring from head to tail, pages wholly before ``start`` skipped. The buffer
    must not change while the walk is used."""
    for page, offset, seq, stamp, left in buffer.walk_pages():
        if seq + left > start:
            stamps, payloads, _ = decode(page.data, offset, stamp, -1)
            skip = max(0, start - seq)
            if skip < len(payloads):
                yield seq + skip, stamps[skip:], payloads[skip:]
