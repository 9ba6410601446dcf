"""The trace array: the per-CPU buffers that events are recorded into, and
the files that show them (``trace``, ``trace_marker``, ``per_cpu/cpuN/``,
``saved_cmdlines``), after ``kernel/trace/trace.c``.

Recording goes into the ring buffer of ``tpfs.kernel.ring_buffer`` as the
kernel's binary records; showing them renders each record through
libtraceevent (``printer``), so a line reads as the kernel's would. The
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
from collections import OrderedDict
from dataclasses import dataclass, field

from ..kernel.errors import TpfsError
from ..kernel.ring_buffer import DEFAULT_SIZE_KB, RingBuffer
from .printer import MARKER_IP, Printer, header
from .record import encode_print
from .settings import Tracing

#: ``saved_cmdlines_size``'s default: how many pid -> comm pairs are kept.
SAVED_CMDLINES = 128
#: ``TRACE_MARKER_MAX_SIZE``: a longer marker write is cut there.
MARKER_MAX = 4096
_COMMON = struct.Struct("<HBBi")  # common_type, common_flags, common_preempt_count, common_pid


@dataclass
class TraceArray:
    """``struct trace_array``: one set of buffers and the settings that govern them."""

    tracing: Tracing
    buffer: RingBuffer = field(init=False)
    cmdlines: OrderedDict[int, str] = field(default_factory=OrderedDict)
    _formats: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> subsys, format
    _printer: Printer | None = None
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.buffer = RingBuffer(self.tracing.ncpus, DEFAULT_SIZE_KB)

    # -- recording -------------------------------------------------------
    def now(self) -> int:
        if self.tracing.clock == "counter":
            return next(self._counter)
        return time.monotonic_ns()

    def save_cmdline(self, pid: int, comm: str | None) -> None:
        """``trace_save_cmdline``: remember the task's name, the newest kept."""
        if comm is None or pid == 0:
            return
        self.cmdlines[pid] = comm[:15]
        self.cmdlines.move_to_end(pid)
        while len(self.cmdlines) > SAVED_CMDLINES:
            self.cmdlines.popitem(last=False)

    def record(self, cpu: int, record: bytes, comm: str | None, subsys: str,
               fmt: str) -> bool:
        """Record one event on ``cpu`` unless tracing is off; False if it was not kept."""
        if not self.tracing.tracing_on:
            return False
        ident, _, _, pid = _COMMON.unpack_from(record)
        self._formats.setdefault(ident, (subsys, fmt))
        self.save_cmdline(pid, comm)
        return self.buffer.write(cpu, self.now(), record)

    def mark(self, buf: bytes, pid: int, cpu: int = 0) -> int:
        """A write to ``trace_marker``: an ``ftrace:print`` event with the writer's pid.

        Its comm is not saved: the kernel saves comms from the scheduler's
        switches, so a marker on a fresh buffer shows ``<...>``.
        """
        if not self.tracing.tracing_on:
            raise TpfsError(errno.EBADF, "tracing is off: the marker has nowhere to go")
        text = buf[:MARKER_MAX]
        # The kernel writes markers with preemption disabled: depth 1.
        record = encode_print(text, ip=MARKER_IP, pid=pid, preempt_count=1)
        self.buffer.write(cpu, self.now(), record)
        return len(text)

    def resize(self, size_kb: int) -> None:
        self.buffer.resize(size_kb)

    def clear(self) -> None:
        """``echo > trace``: every CPU's buffer emptied."""
        self.buffer.reset()

    # -- showing ---------------------------------------------------------
    def printer(self) -> Printer:
        if self._printer is None:
            self._printer = Printer()
        printer = self._printer
        for subsys, fmt in self._formats.values():
            printer.add_event(subsys, fmt)
        return printer

    def show(self, cpu: int | None = None) -> str:
        """``trace`` (or ``per_cpu/cpuN/trace``): the header, then every event, oldest first."""
        totals = self.buffer.totals()
        if cpu is not None:
            stats = self.buffer.stats(cpu, 0)
            entries, written = stats.entries, stats.entries + stats.overrun
        else:
            entries, written = totals.entries_in_buffer, totals.entries_written
        lines = [header(entries, written, self.tracing.ncpus, self.tracing.tracer)]
        events = self.buffer.events() if cpu is None else self.buffer.cpus[cpu].events()
        printer = self.printer() if entries else None
        for event in events:
            assert printer is not None
            pid = _COMMON.unpack_from(event.payload)[3]
            lines.append(printer.line(event.payload, cpu=event.cpu, ts=event.ts,
                                      comm=self.cmdlines.get(pid)))
        return "".join(lines)

    def stats(self, cpu: int) -> str:
        """``per_cpu/cpuN/stats``."""
        s = self.buffer.stats(cpu, self.now())
        return (f"entries: {s.entries}\noverrun: {s.overrun}\n"
                f"commit overrun: {s.commit_overrun}\nbytes: {s.bytes}\n"
                f"oldest event ts: {_secs(s.oldest_event_ts)}\n"
                f"now ts: {_secs(s.now_ts)}\ndropped events: {s.dropped_events}\n"
                f"read events: {s.read_events}\n")

    def saved_cmdlines(self) -> str:
        return "".join(f"{pid} {comm}\n" for pid, comm in self.cmdlines.items())


def _secs(ns: int) -> str:
    usecs = ns // 1000
    return f"{usecs // 1_000_000:5d}.{usecs % 1_000_000:06d}"
