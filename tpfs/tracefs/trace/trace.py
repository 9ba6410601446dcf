"""The trace array: the per-CPU buffers that events are recorded into, and
the files that show them (``trace``, ``trace_marker``, ``per_cpu/cpuN/``,
``saved_cmdlines``), after ``kernel/trace/trace.c``.

Recording goes into the ring buffer of ``tpfs.kernel.ring_buffer`` as the
kernel's binary records; ``trace`` shows them as a seq_file (``TraceListing``:
the header, then the records, the cursor a sequence number per CPU, a read
walking each CPU once), and ``trace_pipe`` consumes them (``TracePipe``); the
lines are made natively, the event's text by libtraceevent (``printer``), so
that a line reads as the kernel's would. The
printer is made at the first show, so a daemon that never records needs no
libtraceevent. Timestamps come from ``trace_clock``: ``counter`` counts
events, so a run with it is fully deterministic; every other clock is the
monotonic clock in nanoseconds.
"""

from __future__ import annotations

import errno
import itertools
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ...kernel.errors import TpfsError
from ...kernel.ring_buffer import Event, RingBuffer, RingBufferPerCpu
from ...kernel.ring_buffer_format import BUF_MAX_DATA_SIZE
from ...kernel.ring_buffer_run import Run, Walked, consume_run, peek_run, walk_runs
from ..vfs.seqfile import SeqOperations
from .ftrace_settings import SavedCmdlines, SavedTgids
from .markers import RAW_DATA_FORMAT, RAW_DATA_ID, RAW_MAX, encode_raw
from .options import TraceOptions
from .printer import MARKER_IP, PipeRun, Printer, header, tgid_column
from .record import encode_print
from .settings import Tracing

#: A longer ``trace_marker`` write is cut here: its ``ftrace:print`` record
#: (16 bytes, the text, a newline and a NUL) must fit the largest payload.
MARKER_MAX = BUF_MAX_DATA_SIZE - 18
#: ``TRACE_SEQ_BUFFER_SIZE``: one ``trace_pipe`` read returns at most one less.
PIPE_SEQ_SIZE = 8192
#: ``event_triggers_call`` and ``event_triggers_post_call``: what runs the instance's
#: ``ftrace:print`` triggers on a marker already in the buffer, given the record they
#: see, the writer's pid, its name (looked up only if a trigger needs it) and the CPU.
MarkerTriggers = Callable[[bytes, int, Callable[[], str | None], int], object]
#: Clocks that count something other than nanoseconds: shown as raw counts.
RAW_CLOCKS = ("counter", "x86-tsc")
_COMMON = struct.Struct("<HBBi")  # common_type, common_flags, common_preempt_count, common_pid


@dataclass
class TraceArray:
    """The recording and showing side of a trace array (``struct trace_array``, whole
    in ``tpfs.tracefs.instance.Instance``): what goes into its buffer, and how
    ``trace`` prints it. The buffer and the settings are ``tracing``'s."""

    tracing: Tracing
    #: The options of this instance (``record-cmd``, ``markers``, ``irq-info``, ...).
    options: TraceOptions = field(default_factory=TraceOptions)
    #: The task names and tgids saved as events are recorded (one set for all instances).
    cmdlines: SavedCmdlines = field(default_factory=SavedCmdlines)
    tgids: SavedTgids = field(default_factory=SavedTgids)
    #: The ip markers record: ``tracing_mark_write``'s address (the host's, when the
    #: daemon could read it, so that tools resolving it with kallsyms name it).
    marker_ip: int = MARKER_IP
    _formats: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> subsys, format
    _printer: Printer | None = None
    _untold: dict[int, tuple[str, str]] = field(default_factory=dict)  # not yet in the printer
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: The CPUs a consuming reader (``trace_pipe``) has open: one reader per CPU.
    _pipe_cpus: int = 0

    def __post_init__(self) -> None:
        self.options.subscribe("overwrite", self._set_overwrite)

    @property
    def buffer(self) -> RingBuffer:
        return self.tracing.buffer

    def _set_overwrite(self, on: bool) -> None:
        """``options/overwrite``: a full buffer drops its oldest page, or the new event."""
        self.buffer.overwrite = on

    # -- recording -------------------------------------------------------
    def now(self) -> int:
        if self.tracing.clock == "counter":
            return next(self._counter)
        return time.monotonic_ns()

    def record(self, cpu: int, record: bytes, comm: str | None, subsys: str,
               fmt: str, ts: int | None = None) -> bool:
        """Record one event on ``cpu`` unless tracing is off; False if it was not kept.
        ``ts`` is when it happened on the monotonic clock (a live event's), else now."""
        return self.admit(cpu, record, comm, subsys, fmt) and \
            self.buffer.write(cpu, self.stamp(ts), record)

    def admit(self, cpu: int, record: bytes, comm: str | None, subsys: str, fmt: str) -> bool:
        """What ``record`` does before the buffer's write: False if tracing is off (or
        ``cpu`` masked); else the event's format, comm and tgid are noted. A caller
        that writes many records at once (``RingBuffer.write_many``) admits each."""
        tracing = self.tracing
        if not tracing.tracing_on or not tracing.cpumask >> cpu & 1:
            return False
        ident, _, _, pid = _COMMON.unpack_from(record)
        known = self._formats.get(ident)
        if known is None or known[1] is not fmt and known != (subsys, fmt):
            self._formats[ident] = self._untold[ident] = (subsys, fmt)  # a new id, or reused
        values = self.options.values
        if comm is not None and values["record-cmd"]:
            self.cmdlines.record(pid, comm)
        if values["record-tgid"]:
            self.tgids.record(pid, pid)  # a task of its own: tpfs has no threads
        return True

    def stamp(self, ts: int | None) -> int:
        """The clock's time for an event that happened at monotonic ``ts`` (None: now)."""
        return self.now() if ts is None or self.tracing.clock == "counter" else ts

    def mark(self, buf: bytes, pid: int, triggers: MarkerTriggers,
             comm: Callable[[], str | None] = lambda: None, cpu: int = 0) -> int:
        """A write to ``trace_marker``: an ``ftrace:print`` event with the writer's pid,
        then ``triggers``, its instance's ``ftrace:print`` ones (``write_marker_to_buffer``
        reserves the record first, so a marker the buffer refuses runs none).

        Its comm is not saved: the kernel saves comms from the scheduler's
        switches, so a marker on a fresh buffer shows ``<...>``.
        """
        self._check_marking()
        text = buf[:MARKER_MAX]
        # The kernel writes markers with preemption disabled: depth 1.
        record = encode_print(text, ip=self.marker_ip, pid=pid, preempt_count=1)
        # The triggers see the text as written: a NUL where a missing newline goes.
        end = 16 + len(text)
        seen = record[:end] + b"\0" + record[end + 1:]
        self._commit_marker(cpu, record)
        triggers(seen, pid, comm, cpu)
        return len(text)

    def mark_raw(self, buf: bytes, pid: int, cpu: int = 0) -> int:
        """A write to ``trace_marker_raw``: a u32 id and bytes, as one ``ftrace:raw_data``."""
        if not 4 <= len(buf) <= RAW_MAX:
            raise TpfsError(errno.EINVAL, f"a raw marker is 4 to {RAW_MAX} bytes")
        self._check_marking()
        if RAW_DATA_ID not in self._formats:
            self._formats[RAW_DATA_ID] = self._untold[RAW_DATA_ID] = ("ftrace", RAW_DATA_FORMAT)
        self._commit_marker(cpu, encode_raw(buf, pid=pid, preempt_count=1))
        return len(buf)

    def _commit_marker(self, cpu: int, record: bytes) -> None:
        """A marker the buffer has no room for (``overwrite`` off, full) is EBADF."""
        if not self.buffer.write(cpu, self.now(), record):
            raise TpfsError(errno.EBADF, "the buffer is full and overwrite is off")

    def _check_marking(self) -> None:
        if not self.options.values["markers"]:
            raise TpfsError(errno.EINVAL, "the markers option is off")
        if not self.tracing.tracing_on:
            raise TpfsError(errno.EBADF, "tracing is off: the marker has nowhere to go")

    def open_pipe(self, cpu: int | None) -> None:
        """Claim ``cpu`` (every CPU for None) for one consuming reader, or EBUSY."""
        mask = self._cpu_mask(cpu)
        if self._pipe_cpus & mask:
            raise TpfsError(errno.EBUSY, "a trace_pipe reader has this CPU already")
        self._pipe_cpus |= mask

    def close_pipe(self, cpu: int | None) -> None:
        self._pipe_cpus &= ~self._cpu_mask(cpu)

    def _cpu_mask(self, cpu: int | None) -> int:
        return (1 << self.tracing.ncpus) - 1 if cpu is None else 1 << cpu

    def clear(self) -> None:
        """``echo > trace``: every CPU's buffer emptied."""
        self.buffer.reset()

    # -- showing ---------------------------------------------------------
    def printer(self) -> Printer:
        """The printer, told every format recorded since it was last asked."""
        if self._printer is None:
            self._printer = Printer()
            self._printer.add_function("tracing_mark_write", self.marker_ip)
            self._untold.update(self._formats)
        printer = self._printer
        while self._untold:
            printer.add_event(*self._untold.popitem()[1])
        return printer

    def header(self, cpu: int | None = None) -> str:
        """The ``trace`` header, with the counts of every CPU or of one."""
        if cpu is None:
            totals = self.buffer.totals()
            entries, written = totals.entries_in_buffer, totals.entries_written
        else:
            stats = self.buffer.stats(cpu, 0)
            entries, written = stats.entries, stats.entries + stats.overrun
        values = self.options.values
        return header(entries, written, self.tracing.ncpus, self.tracing.tracer,
                      irq_info=values["irq-info"], tgid=values["record-tgid"],
                      context_info=values["context-info"])

    def line(self, event: Event) -> str:
        """One event as ``trace`` prints it."""
        return self.line_of(event.payload, event.cpu, event.ts)

    def line_of(self, payload: bytes, cpu: int, ts: int) -> str:
        """The line of the event recorded as ``payload`` on ``cpu`` at ``ts``."""
        pid = _COMMON.unpack_from(payload)[3]
        values = self.options.values
        tgid = tgid_column(self.tgids.tgids.get(pid)) if values["record-tgid"] else ""
        return self.printer().line(payload, cpu=cpu, ts=ts, comm=self.cmdlines.find(pid),
                                   in_ns=self.in_ns, irq_info=values["irq-info"], tgid=tgid,
                                   context=values["context-info"])

    def lines(self, runs: list[PipeRun], taken: list[int], out: bytearray, want: int,
              limit: int = PIPE_SEQ_SIZE) -> int:
        """``Printer.lines`` with this array's options, saved comms and tgids: the
        lines ``line_of`` would make, merged and cut as ``Printer.lines`` says."""
        values = self.options.values
        options = (values["context-info"], values["irq-info"], values["record-tgid"], self.in_ns)
        return self.printer().lines(runs, taken, out, want, limit, options,
                                    self.cmdlines.find, self.tgids.tgids.get)

    @property
    def in_ns(self) -> bool:
        """Whether the clock counts nanoseconds (else time stamps show as counts)."""
        return self.tracing.clock not in RAW_CLOCKS

    def stats(self, cpu: int) -> str:
        """``per_cpu/cpuN/stats``."""
        s = self.buffer.stats(cpu, self.now())
        stamp = _secs if self.in_ns else str
        return (f"entries: {s.entries}\noverrun: {s.overrun}\n"
                f"commit overrun: {s.commit_overrun}\nbytes: {s.bytes}\n"
                f"oldest event ts: {stamp(s.oldest_event_ts)}\n"
                f"now ts: {stamp(s.now_ts)}\ndropped events: {s.dropped_events}\n"
                f"read events: {s.read_events}\n")


#: A ``seq`` past every event: a CPU the walk is done with starts there.
_PAST_ALL = 1 << 62


def _secs(ns: int) -> str:
    usecs = ns // 1000
    return f"{usecs // 1_000_000:5d}.{usecs % 1_000_000:06d}"


@dataclass(slots=True)
class TraceCursor:
    """Where a ``trace`` reader is: past the header or not, and per CPU the
    sequence number of the next event to show (events a reader has passed
    keep their numbers, so the place survives events being overwritten)."""

    header_done: bool = False
    next_seq: dict[int, int] = field(default_factory=dict)
    current: Event | None = None
    #: Per CPU, the ``seq`` of the first event written after the reader began: the
    #: walk ends there, as the kernel's stops recording while ``trace`` is open
    #: (``pause-on-trace``), so that events coming in as fast as it reads (a live
    #: mount's own scheduling) cannot keep it going forever.
    limit: dict[int, int] | None = None


class TraceListing(SeqOperations[TraceCursor, "Event | str"]):
    """``trace`` (every CPU, merged by time) or ``per_cpu/cpuN/trace``, not consuming."""

    def __init__(self, trace: TraceArray, cpu: int | None = None) -> None:
        self.trace = trace
        self.cpu = cpu

    def cursor(self) -> TraceCursor:
        return TraceCursor()

    def start(self, cursor: TraceCursor) -> Event | str | None:
        buffer = self.trace.buffer
        if cursor.limit is None:
            cursor.limit = {b.cpu: b.next_seq for b in buffer.cpus}
        if not cursor.header_done:
            return self.trace.header(self.cpu)
        while True:
            if self.cpu is None:
                events = buffer.events(cursor.next_seq)
            else:
                events = buffer.cpus[self.cpu].events(cursor.next_seq.get(self.cpu, 0))
            event = next(events, None)
            if event is None or event.seq < cursor.limit.get(event.cpu, 0):
                cursor.current = event
                return event
            # Written after the reader began: the CPU has nothing more to show.
            cursor.next_seq[event.cpu] = _PAST_ALL

    def next(self, cursor: TraceCursor) -> Event | str | None:
        if not cursor.header_done:
            cursor.header_done = True
        elif cursor.current is not None:
            cursor.next_seq[cursor.current.cpu] = cursor.current.seq + 1
        return self.start(cursor)

    def show(self, record: Event | str) -> bytes:
        text = record if isinstance(record, str) else self.trace.line(record)
        return text.encode("utf-8", "surrogateescape")

    def fill(self, cursor: TraceCursor, want: int) -> tuple[bytes, bool]:
        """What the generic loop of ``start``, ``show`` and ``next`` gives, made in
        one walk per CPU (not one per event), a page's events at a time
        (``walk_runs``), with the lines made natively (``TraceArray.lines``, as
        ``trace_pipe``'s, without the cut or the lost lines)."""
        trace = self.trace
        buffer = trace.buffer
        if cursor.limit is None:
            cursor.limit = {b.cpu: b.next_seq for b in buffer.cpus}
        out = bytearray()
        if not cursor.header_done:
            out += trace.header(self.cpu).encode("utf-8", "surrogateescape")
            cursor.header_done = True
        cursor.current = None
        limits, next_seq = cursor.limit, cursor.next_seq
        sources = buffer.cpus if self.cpu is None else [buffer.cpus[self.cpu]]
        walks: list[tuple[int, Iterator[Walked], Walked]] = []
        for source in sources:
            cpu = source.cpu
            pages = walk_runs(source, next_seq.get(cpu, 0))
            if (part := _listing_part(pages, limits.get(cpu, 0), next_seq, cpu)) is not None:
                walks.append((cpu, pages, part))
        runs = [(cpu, 0, part[1], part[2]) for cpu, _, part in walks]
        taken = [0] * len(walks)
        while len(out) < want and walks:
            done = trace.lines(runs, taken, out, want, _NO_CUT)
            if done < 0:
                break
            cpu, pages, part = walks[done]
            next_seq[cpu] = part[0] + len(part[2])
            if (part := _listing_part(pages, limits.get(cpu, 0), next_seq, cpu)) is not None:
                walks[done], runs[done], taken[done] = (cpu, pages, part), (
                    cpu, 0, part[1], part[2]), 0
            else:
                del walks[done], runs[done], taken[done]
        for (cpu, _, part), count in zip(walks, taken, strict=True):
            next_seq[cpu] = part[0] + count  # the first not shown
        return bytes(out), not walks


#: ``trace`` has no ``trace_seq`` to fit: no read is cut short.
_NO_CUT = 1 << 62


def _listing_part(pages: Iterator[Walked], limit: int, next_seq: dict[int, int],
                  cpu: int) -> Walked | None:
    """The next page's events of a walk written before the reader began (``seq``
    under ``limit``). At one written since, the CPU is done with, as ``start``
    marks it; a part the caller does not finish puts its place back."""
    for first, stamps, payloads in pages:
        if first >= limit:
            next_seq[cpu] = _PAST_ALL
            return None
        if first + len(payloads) > limit:
            return first, stamps[:limit - first], payloads[:limit - first]
        return first, stamps, payloads
    return None


class TracePipe:
    """``trace_pipe`` (every CPU, merged by time) or ``per_cpu/cpuN/trace_pipe``:
    consuming reads, as ``tracing_read_pipe``.

    A read first hands out what the last one left; otherwise it consumes
    events, rendering each to its line (after a ``CPU:N [LOST M EVENTS]``
    line when the writer overwrote some since), until it has at least the
    bytes asked for or ``PIPE_SEQ_SIZE - 1``, returns that many and keeps the
    rest of the last line for the next read. The reader never holds more
    than that one line. ``read`` never waits: when there is nothing
    (``has_data`` false) it is EAGAIN, unless tracing is off and this reader
    has read before, which is the end of the file, as the kernel's. Waiting
    for data is the adapter's business.
    """

    __slots__ = ("trace", "cpu", "pending", "has_read")

    def __init__(self, trace: TraceArray, cpu: int | None = None) -> None:
        self.trace = trace
        self.cpu = cpu
        self.pending = b""
        self.has_read = False

    def has_data(self) -> bool:
        return bool(self.pending) or not self.trace.buffer.empty(self.cpu)

    def poll_ready(self) -> bool:
        """What ``poll`` reports: data for every-CPU readers; a CPU's reader waits
        until its buffer is ``buffer_percent`` full (0: any data), as the kernel's."""
        percent = self.trace.tracing.buffer_percent
        if self.pending or self.cpu is None or not percent:
            return self.has_data()
        return self.trace.buffer.full_hit(self.cpu, percent)

    def at_end(self) -> bool:
        """Empty, with tracing off after this reader read something: EOF."""
        return not self.has_data() and self.has_read and not self.trace.tracing.tracing_on

    def read(self, size: int) -> bytes:
        if not self.pending:
            if self.at_end():
                return b""
            if not self.has_data():
                raise TpfsError(errno.EAGAIN, "trace_pipe is empty")
            self.pending = self._fill(min(size, PIPE_SEQ_SIZE - 1))
        self.has_read = True
        out, self.pending = self.pending[:size], self.pending[size:]
        return out

    def _fill(self, want: int) -> bytes:
        """Lines of consumed events: at least ``want`` bytes if there are events for
        them, never more than a ``trace_seq`` holds (a line that would not fit stays
        in the buffer for the next read, unless it is the first: it goes alone).

        Each CPU's events come a reader page's rest at a time (``peek_run``); the
        lines are made natively (``TraceArray.lines``) until a CPU's run is
        used up, which is then consumed and its next page taken; what was taken
        of the others is consumed at the end."""
        lines = bytearray()
        trace = self.trace
        buffer = trace.buffer
        sources = buffer.cpus if self.cpu is None else [buffer.cpus[self.cpu]]
        held: list[tuple[RingBufferPerCpu, Run]] = []
        for source in sources:
            if (run := peek_run(source)) is not None:
                held.append((source, run))
        runs = [_pipe_run(run) for _, run in held]
        taken = [0] * len(held)
        while len(lines) < want and held:
            done = trace.lines(runs, taken, lines, want)
            if done < 0:
                break
            source, run = held[done]
            consume_run(source, run, taken[done])
            if (after := peek_run(source)) is None:
                del held[done], runs[done], taken[done]
            else:
                held[done], runs[done], taken[done] = (source, after), _pipe_run(after), 0
        for (source, run), count in zip(held, taken, strict=True):
            consume_run(source, run, count)
        return bytes(lines)


def _pipe_run(run: Run) -> PipeRun:
    return (run.cpu, run.lost, run.stamps, run.payloads)
