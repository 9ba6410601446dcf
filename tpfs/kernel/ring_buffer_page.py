"""A ring buffer's pages and the events read back from them (``struct buffer_page``
with its ``buffer_data_page``, from ``kernel/trace/ring_buffer.c``).

``BufferPage`` holds its records in the binary form of ``ring_buffer_format``;
``nr_pages_for`` is how many a size in KiB takes; ``Event`` is one record as a
reader gets it, and ``earliest`` the one a reader merging CPUs takes first.
See ``ring_buffer`` for the whole buffer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .ring_buffer_format import BUF_PAGE_SIZE


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
    return min(events, key=merge_order, default=None)


def merge_order(event: Event) -> tuple[int, int]:
    return event.ts, event.cpu


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

    def seal(self) -> None:
        """The writer has left the page: hold its bytes in an allocation of their own
        size. A bytearray grown by appends keeps up to an eighth more than it holds,
        which a full buffer would carry on every page; the copy is one per page."""
        self.data = bytearray(self.data)

    def clear(self) -> None:
        """Empty the page (``rb_clear_buffer_page``, or the writer moving onto it)."""
        self.data.clear()
        self.entries = self.read = self.read_entries = 0
