"""Events printed the way the kernel's ``trace`` file prints them.

The event's own text comes from libtraceevent (``tep_print_event`` with
``TEP_PRINT_INFO``) over the event's ``format``; the context before it
follows ``kernel/trace/trace_output.c``: ``trace_print_context`` (comm
``%16s``, ``-%-7d`` pid, ``[%03d]`` cpu), ``trace_print_lat_fmt`` (the
flags column) and ``trace_print_time`` (microseconds rounded from
nanoseconds, or the raw count of a clock that counts something else).
``header`` is ``trace``'s header for the nop tracer with the
default options (irq-info, no record-tgid). Text is ``str`` with undecodable
bytes kept as surrogates (``errors="surrogateescape"``).

``Printer.lines`` makes the same lines natively, many at a time, for
``trace_pipe`` and ``trace`` (``_render.c``: the columns in C, the text from
libtraceevent, the events printed here their own way called back for);
``Printer.line`` makes one, and is what the tests compare ``lines`` with.
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import _render
from .libtraceevent import library
from .markers import RAW_DATA_ID
from .record import (
    COMMON_FIELD_NAMES,
    KERNEL_STACK_ID,
    PRINT_FORMAT,
    PRINT_ID,
    SYNTH_SYSTEM,
    layout,
)
from .syscall_text import SYSCALL_SYSTEM, syscall_spec, syscall_text

# enum trace_flag_type (include/linux/trace_events.h, Linux 6.13 and later)
IRQS_OFF = 0x01
NEED_RESCHED_LAZY = 0x02
NEED_RESCHED = 0x04
HARDIRQ = 0x08
SOFTIRQ = 0x10
PREEMPT_RESCHED = 0x20
NMI = 0x40
BH_OFF = 0x80

_RESCHED = {
    NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED: "B",
    NEED_RESCHED | PREEMPT_RESCHED: "N",
    NEED_RESCHED_LAZY | PREEMPT_RESCHED: "L",
    NEED_RESCHED | NEED_RESCHED_LAZY: "b",
    NEED_RESCHED: "n",
    PREEMPT_RESCHED: "p",
    NEED_RESCHED_LAZY: "l",
}
#: What ``tracing_mark_write`` records as the ip of ``ftrace:print``
#: records that tpfs makes; ``Printer`` names it as the kernel does.
MARKER_IP = 0xFFFFFFFF81000000
UNKNOWN_COMM = "<...>"


def header(entries: int, written: int, ncpus: int, tracer: str = "nop", *,
           irq_info: bool = True, tgid: bool = False, context_info: bool = True) -> str:
    """The ``trace`` file's header (``print_func_help_header``, or its ``_irq``
    form with the ``irq-info`` option; a TGID column with ``record-tgid``).
    Without ``context-info`` only the tracer's name: there are no columns."""
    if not context_info:
        return f"# tracer: {tracer}\n#\n"
    top = (f"# tracer: {tracer}\n#\n"
           f"# entries-in-buffer/entries-written: {entries}/{written}   #P:{ncpus}\n#\n")
    pad = " " * 10 if tgid else ""
    cols = "       TGID    CPU#" if tgid else "     CPU#"
    bars = "           |       |" if tgid else "         |"
    if not irq_info:
        return (top + f"#           TASK-PID{cols}     TIMESTAMP  FUNCTION\n"
                f"#              | |{bars}         |         |\n")
    return (top + f"#                            {pad}    _-----=> irqs-off/BH-disabled\n"
            f"#                            {pad}   / _----=> need-resched\n"
            f"#                            {pad}  | / _---=> hardirq/softirq\n"
            f"#                            {pad}  || / _--=> preempt-depth\n"
            f"#                            {pad}  ||| / _-=> migrate-disable\n"
            f"#                            {pad}  |||| /     delay\n"
            f"#           TASK-PID{cols}  |||||  TIMESTAMP  FUNCTION\n"
            f"#              | |{bars}   |||||     |         |\n")


def lat_flags(flags: int, preempt_count: int) -> str:
    """The five-letter column from ``common_flags`` and ``common_preempt_count``."""
    irqs_off = flags & IRQS_OFF
    bh_off = flags & BH_OFF
    irqs = "D" if irqs_off and bh_off else "d" if irqs_off else "b" if bh_off else "."
    resched = _RESCHED.get(flags & (NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED), ".")
    nmi, hard, soft = flags & NMI, flags & HARDIRQ, flags & SOFTIRQ
    irq = ("Z" if nmi and hard else "z" if nmi else "H" if hard and soft
           else "h" if hard else "s" if soft else ".")
    depth = f"{preempt_count & 0xF:x}" if preempt_count & 0xF else "."
    migrate = f"{preempt_count >> 4 & 0xF:x}" if preempt_count & 0xF0 else "."
    return irqs + resched + irq + depth + migrate


def task_column(comm: str | None, pid: int, cpu: int, flags: int, preempt_count: int, *,
                irq_info: bool = True, tgid: str = "") -> str:
    """``TASK-PID [CPU] FLAGS``: the context before the time stamp; ``tgid`` is
    the TGID column with its space (``record-tgid``), the flags only with
    ``irq-info``."""
    task = comm if comm is not None else "<idle>" if pid == 0 else UNKNOWN_COMM
    head = f"{task:>16}-{pid:<7} {tgid}[{cpu:03d}] "
    return head + lat_flags(flags, preempt_count) if irq_info else head


def tgid_column(tgid: int | None) -> str:
    """``record-tgid``'s column: ``(TGID)``, or dashes for a task whose is unknown."""
    return "(-------) " if tgid is None else f"({tgid:7d}) "


def stamp(ts: int, in_ns: bool = True) -> str:
    """``SECS.USECS`` of ``ts`` nanoseconds, or the count itself for a clock
    that does not count nanoseconds."""
    if in_ns:
        secs, rem = divmod((ts + 500) // 1000, 1_000_000)
        return f"{secs:5d}.{rem:06d}"
    return f"{ts:12d}"


def stack_text(record: bytes) -> str:
    """``ftrace:kernel_stack`` as ``trace`` prints it (``trace_stack_print``): a
    ``<stack trace>`` line, then `` => `` and each caller (as an address: tpfs
    has no kernel symbols)."""
    size = int.from_bytes(record[8:12], "little", signed=True)
    callers = [int.from_bytes(record[16 + 8 * i:24 + 8 * i], "little")
               for i in range(max(0, min(size, (len(record) - 16) // 8)))]
    return "<stack trace>\n" + "".join(f" => 0x{caller:x}\n" for caller in callers)


def raw_data_text(record: bytes) -> str:
    """``ftrace:raw_data`` as ``trace`` prints it: the id in hex, then every byte
    of the buffer, the record's rounding included (``print_raw_data``)."""
    ident = int.from_bytes(record[8:12], "little")
    return f"# {ident:x} buf:" + "".join(f" {b:02x}" for b in record[12:]) + "\n"


def synth_text(record: bytes, fmt: str) -> str:
    """A synthetic event's fields as the kernel prints them (``print_synth_event``),
    not through its print fmt: ``NAME=VALUE`` separated by spaces, strings whole
    (the print fmt's ``%.*s`` lacks its length, so libtraceevent cannot)."""
    parts = []
    for f in layout(fmt).fields[len(COMMON_FIELD_NAMES):]:
        if f.is_text:
            value = f.text(record).decode(errors="surrogateescape")
        elif f.type == "gfp_t":
            value = f"{int.from_bytes(f.data(record), 'little'):x}"
        else:
            value = str(int.from_bytes(f.data(record), "little", signed=f.signed))
        parts.append(f"{f.name}={value}")
    return " ".join(parts) + "\n"


def _free(tep: int) -> None:
    library().tep_free(tep)


#: Event texts ``Printer.line`` remembers by record, so that events fired
#: again with the same values are not rendered again; emptied when full.
TEXT_CACHE = 4096
#: The largest record ``Printer.text`` takes: more than a page's payload.
RECORD_MAX = 8192
#: The ftrace events that ``Printer._body`` prints its own way, not by their format.
_OWN_WAY = frozenset((RAW_DATA_ID, KERNEL_STACK_ID, PRINT_ID))
#: How the native ``lines`` prints a body, by event id (``_render.c``'s ``body_kind``):
#: through ``Printer._body`` (ids not known, the ftrace events printed their own
#: way, synthetic events), ``NAME: TEXT`` from libtraceevent, or its TEXT alone;
#: syscall entries and exits from their spec (``syscall_spec``'s forms, 3 and 4).
_KIND_PYTHON, _KIND_NAMED, _KIND_TEXT = 0, 1, 2
_EVENT_IDS = 1 << 16
#: What a line shows besides the event: ``(context, irq_info, tgid, in_ns)``, as for ``line``.
LineOptions = tuple[bool, bool, bool, bool]
#: A CPU's run of events for ``Printer.lines``: ``(cpu, lost, stamps, payloads)``.
PipeRun = tuple[int, int, list[int], list[bytes]]


@dataclass(slots=True, weakref_slot=True)
class Printer:
    """A libtraceevent handle that knows some events' formats.

    The handle is made and told formats through ctypes; records are printed
    by the native ``_render`` on it, many in one call (``texts``).
    """

    _tep: int = field(default=0, init=False)
    _free: weakref.finalize[[int], Printer] | None = field(default=None, init=False)
    _formats: dict[int, tuple[str, str]] = field(default_factory=dict, init=False)
    _names: dict[int, str] = field(default_factory=dict, init=False)
    _functions: dict[int, str] = field(default_factory=lambda: {MARKER_IP: "tracing_mark_write"},
                                       init=False)
    _texts: dict[bytes, str] = field(default_factory=dict, init=False)
    _heads: dict[tuple[bytes, int, str | None, bool, str], str] = field(
        default_factory=dict, init=False)
    #: By event id, how ``lines`` prints a record's body (``_KIND_*``).
    _kinds: bytearray = field(default_factory=lambda: bytearray(_EVENT_IDS), init=False)
    #: By event id, the spec ``lines`` prints a syscall event's text from.
    _syscalls: dict[int, bytes] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._reset()
        self.add_event("ftrace", PRINT_FORMAT)

    def _reset(self) -> None:
        lib = library()
        tep = lib.tep_alloc()
        if not tep:
            raise MemoryError("tep_alloc failed")
        lib.tep_set_long_size(tep, 8)
        for addr, name in self._functions.items():
            lib.tep_register_function(tep, name.encode(), addr, None)
        if self._free is not None:
            self._free()
        self._tep = tep
        self._free = weakref.finalize(self, _free, tep)
        self._texts.clear()
        for sys, text in self._formats.values():
            self._parse(sys, text)

    def add_function(self, name: str, addr: int) -> None:
        """Name the kernel function at ``addr`` (for ``%ps``, as kallsyms would)."""
        if self._functions.get(addr) != name:
            # libtraceevent maps functions once, at its first lookup: start afresh.
            self._functions[addr] = name
            self._reset()

    def add_event(self, subsys: str, fmt: str) -> None:
        """Register an event's format once; a new format for a known id replaces it."""
        event = layout(fmt)
        if self._formats.get(event.id) == (subsys, fmt):
            return
        old = self._formats.get(event.id)
        if old is None:
            self._parse(subsys, fmt)
        self._formats[event.id] = (subsys, fmt)
        if old is not None:
            try:
                self._reset()
            except ValueError:
                self._formats[event.id] = old
                self._reset()
                raise
        self._names[event.id] = event.name
        spec = syscall_spec(fmt) if subsys == SYSCALL_SYSTEM else None
        if spec is None:
            self._syscalls.pop(event.id, None)
            self._kinds[event.id] = (_KIND_TEXT if event.id == PRINT_ID
                                     else _KIND_PYTHON if event.id in _OWN_WAY
                                     or subsys in (SYNTH_SYSTEM, SYSCALL_SYSTEM) else _KIND_NAMED)
        else:
            self._kinds[event.id], self._syscalls[event.id] = spec

    def _parse(self, subsys: str, fmt: str) -> None:
        lib = library()
        raw = fmt.encode()
        err = lib.tep_parse_event(self._tep, raw, len(raw), subsys.encode())
        if err:
            msg = ctypes.create_string_buffer(256)
            lib.tep_strerror(self._tep, err, msg, len(msg))
            raise ValueError(f"libtraceevent rejects {subsys}:{layout(fmt).name}: "
                             f"{msg.value.decode(errors='replace')}")

    def text(self, record: bytes, *, cpu: int = 0, ts: int = 0) -> str:
        """The event's text (``TEP_PRINT_INFO``) for a record of a registered event."""
        return self.texts([(record, cpu, ts)])[0]

    def texts(self, items: Sequence[tuple[bytes, int, int]]) -> list[str]:
        """``text`` of each ``(record, cpu, ts)``, all printed in one native call."""
        formats = self._formats
        for record, _, _ in items:
            event_id = record[0] | record[1] << 8 if len(record) >= 2 else -1
            if event_id not in formats:
                raise ValueError(f"no format registered for event id {event_id}")
            if len(record) > RECORD_MAX:
                raise ValueError(f"a record of {len(record)} bytes is over {RECORD_MAX}")
        return _render.texts(self._tep, items)

    def _event_text(self, record: bytes, event_id: int, cpu: int, ts: int) -> str:
        """``NAME: TEXT`` and a newline, remembered by record: it depends on the record alone."""
        texts = self._texts
        body = texts.get(record)
        if body is None:
            if len(texts) >= TEXT_CACHE:
                texts.clear()
            subsys, fmt = self._formats[event_id]
            call = syscall_text(record, fmt) if subsys == SYSCALL_SYSTEM else None
            if call is not None:  # the syscall's own text stands without the event's name
                body = texts[record] = call
                return body
            text = (synth_text(record, fmt) if subsys == SYNTH_SYSTEM
                    else f"{self.text(record, cpu=cpu, ts=ts)}\n")
            body = texts[record] = f"{self._names[event_id]}: {text}"
        return body

    def line(self, record: bytes, *, cpu: int, ts: int, comm: str | None = None,
             in_ns: bool = True, irq_info: bool = True, tgid: str = "",
             context: bool = True) -> str:
        """The record's whole line in ``trace``, newline included; ``in_ns`` as for
        ``stamp``, ``irq_info`` and ``tgid`` as for ``task_column``; without
        ``context`` (the ``context-info`` option off) the event's text alone."""
        event_id = record[0] | record[1] << 8
        if not context:
            return self._body(record, event_id, cpu, ts)
        # flags, preempt count and pid; the CPU, the comm and the columns shown
        key = (record[2:8], cpu, comm, irq_info, tgid)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= TEXT_CACHE:
                self._heads.clear()
            pid = int.from_bytes(record[4:8], "little", signed=True)
            head = self._heads[key] = task_column(comm, pid, cpu, record[2], record[3],
                                                  irq_info=irq_info, tgid=tgid)
        return f"{head} {stamp(ts, in_ns)}: {self._body(record, event_id, cpu, ts)}"

    def lines(self, runs: list[PipeRun], taken: list[int], out: bytearray, want: int,
              limit: int, options: LineOptions, comm_of: Callable[[int], str],
              tgid_of: Callable[[int], int | None]) -> int:
        """Lines as ``line`` makes them, made natively: the next events of ``runs``
        (of run ``i``, ``taken[i]`` are taken already) merged by time (a tie to the
        lower CPU), each line (after a ``LOST`` line for a run's first event, if it
        has ``lost``) appended to ``out`` until it holds ``want`` bytes; a line that
        would make it ``limit`` or more is left, unless ``out`` is empty. ``taken``
        is updated. Returns the index of a run used up (the caller refills it and
        calls again), or -1. ``comm_of`` and ``tgid_of`` are asked once per pid a call."""
        return _render.lines(self._tep, self._kinds, self._syscalls, runs, taken, out, want,
                             limit, options, comm_of, tgid_of, self._python_body)

    def _python_body(self, record: bytes, cpu: int, ts: int) -> str:
        return self._body(record, record[0] | record[1] << 8, cpu, ts)

    def _body(self, record: bytes, event_id: int, cpu: int, ts: int) -> str:
        """What the event prints itself, after the context. The ftrace events print
        their own way: ftrace:print as "SYMBOL: TEXT" with the text's newline,
        ftrace:raw_data as bytes, kernel_stack as lines."""
        if event_id == RAW_DATA_ID:
            return raw_data_text(record)
        if event_id == KERNEL_STACK_ID:
            return stack_text(record)
        if event_id == PRINT_ID:
            return self.text(record, cpu=cpu, ts=ts)
        return self._event_text(record, event_id, cpu, ts)
