"""The per-CPU ring buffer that trace events go to: kernel/trace/ring_buffer.c.

Names follow ring_buffer.c so that this file reads beside it:

* ``RingBuffer`` is ``struct trace_buffer``: one ``RingBufferPerCpu`` per
  CPU, the overwrite flag (``RB_FL_OVERWRITE``, the ``overwrite`` trace
  option) and the record switches behind ``tracing_on``.
* ``RingBufferPerCpu`` (``ring_buffer_per_cpu``) is ``struct ring_buffer_per_cpu``: a ring of
  ``nr_pages`` ``BufferPage``s, in which the *tail page* is where the writer
  writes and the *head page* holds the oldest data, and one *reader page*
  outside the ring. The reader reads its reader page; when it has read it
  through it swaps it for the head page, so the reader never shares a page
  with the writer unless the writer was on the head page when it was
  swapped, in which case the writer goes on writing on the reader page.
* ``BufferPage`` (``ring_buffer_page``) is ``struct buffer_page`` with its ``buffer_data_page``:
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .ring_buffer_format import BUF_MAX_DATA_SIZE, BUF_PAGE_SIZE
from .ring_buffer_page import Event, earliest, merge_order, nr_pages_for
from .ring_buffer_per_cpu import RingBufferPerCpu

__all__ = ["DEFAULT_SIZE_KB", "CpuStats", "EntryTotals", "Event", "RingBuffer",
           "RingBufferPerCpu", "earliest", "nr_pages_for"]

#: ``TRACE_BUF_SIZE_DEFAULT``: 1408 KiB per CPU (``buffer_size_kb`` then shows 1410).
DEFAULT_SIZE_KB = 1408
MAX_TIMESTAMP = (1 << 64) - 1


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

    def write_many(self, cpu: int, stamps: list[int], payloads: list[bytes]) -> int:
        """``write`` of each payload at its time stamp on ``cpu``, in order; how many
        were stored. The same checks, made on the whole batch first."""
        buffer = self.cpu_buffer(cpu)
        if len(stamps) != len(payloads):
            raise ValueError(f"{len(stamps)} time stamps for {len(payloads)} payloads")
        if not payloads:
            return 0
        if (longest := max(map(len, payloads))) > BUF_MAX_DATA_SIZE:
            raise ValueError(f"payload of {longest} bytes, over {BUF_MAX_DATA_SIZE}")
        if not 0 <= min(stamps) <= max(stamps) <= MAX_TIMESTAMP:
            raise ValueError("a time stamp outside u64")
        if not self.recording:
            return 0
        return buffer.write_many(stamps, payloads, self.overwrite)

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

    def lose(self, cpu: int, count: int) -> None:
        """``count`` events lost on ``cpu`` before they reached this buffer."""
        self.cpu_buffer(cpu).lose(count)

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
                           key=merge_order)

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
