"""trace_pipe's and trace's native lines against the Python ones, byte for byte.

``TracePipe`` makes its lines in C (``Printer.lines``): context columns,
time stamp, event text, the merge across CPUs and the cut at the read size.
The reference is ``TraceArray.line`` (``Printer.line``, in Python) over
events consumed one at a time. Hypothesis varies everything that changes a
line: the options (``context-info``, ``irq-info``, ``record-tgid``), the
clock (nanoseconds, or counts), flags and preemption depths, pids with a
saved comm or not (``<...>``, ``<idle>``, names padded by characters),
tgids saved or not, ties across CPUs, identical and distinct records, the
events printed by Python rather than libtraceevent (markers go through
libtraceevent alone; raw data, stacks and synthetic events through the
callback), syscall entries and exits (printed natively from a spec per event,
against ``syscall_text``: several arities, fields of 8, 4 and 2 bytes, values
around 9/10, large and negative; an exit of two fields goes to Python), lost
events, per-CPU pipes, read sizes and where reads end.
``trace`` (``TraceListing.fill``) is compared with the generic seq_file loop
of ``start``/``show``/``next``, events written while it is read included.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.trace.markers import RAW_DATA_FORMAT, encode_raw
from tpfs.tracefs.trace.printer import Printer
from tpfs.tracefs.trace.record import (
    KERNEL_STACK_FORMAT,
    PRINT_FORMAT,
    SYNTH_SYSTEM,
    encode_print,
    encode_stack,
    layout,
)
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import PIPE_SEQ_SIZE, TraceArray, TraceListing, TracePipe
from tpfs.tracefs.vfs.seqfile import SeqFile, SeqOperations

VALUE_FORMAT = (f"name: val\nID: 60020\nformat:\n{COMMON_FIELDS}\n"
                "\tfield:int value;\toffset:8;\tsize:4;\tsigned:1;\n"
                "\tfield:char name[8];\toffset:12;\tsize:8;\tsigned:0;\n\n"
                'print fmt: "value=%d name=%s", REC->value, REC->name\n')
SYNTH_FORMAT = (f"name: lat\nID: 60021\nformat:\n{COMMON_FIELDS}\n"
                "\tfield:u64 delta;\toffset:8;\tsize:8;\tsigned:0;\n\n"
                'print fmt: "delta=%llu", REC->delta\n')
SYSCALL_COMMON = f"{COMMON_FIELDS}\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
ENTER0_FORMAT = (f"name: sys_enter_getppid\nID: 60022\nformat:\n{SYSCALL_COMMON}\n"
                 'print fmt: "", \n')
ENTER1_FORMAT = (f"name: sys_enter_close\nID: 60023\nformat:\n{SYSCALL_COMMON}"
                 "\tfield:unsigned int fd;\toffset:16;\tsize:8;\tsigned:0;\n\n"
                 'print fmt: "fd: 0x%08lx", ((unsigned long)(REC->fd))\n')
ENTER4_FORMAT = (f"name: sys_enter_probe\nID: 60024\nformat:\n{SYSCALL_COMMON}"
                 "\tfield:unsigned long addr;\toffset:16;\tsize:8;\tsigned:0;\n"
                 "\tfield:int count;\toffset:24;\tsize:4;\tsigned:1;\n"
                 "\tfield:short mode;\toffset:28;\tsize:2;\tsigned:1;\n"
                 "\tfield:unsigned long flags;\toffset:32;\tsize:8;\tsigned:0;\n\n"
                 'print fmt: "addr: 0x%08lx", ((unsigned long)(REC->addr))\n')
EXIT_FORMAT = (f"name: sys_exit_probe\nID: 60025\nformat:\n{SYSCALL_COMMON}"
               "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n\n"
               'print fmt: "0x%lx", REC->ret\n')
#: Not an exit the syscall tracer prints (two values): its text comes from its format.
EXIT2_FORMAT = (f"name: sys_exit_pair\nID: 60026\nformat:\n{SYSCALL_COMMON}"
                "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n"
                "\tfield:long ret2;\toffset:24;\tsize:8;\tsigned:1;\n\n"
                'print fmt: "0x%lx 0x%lx", REC->ret, REC->ret2\n')
#: Syscall values by size around 9/10 (decimal below 10, hex from there), large
#: and negative; argument ``i`` of an event made from ``v`` is ``[(v + i) % 5]``.
UNSIGNED = (0, 9, 10, 2**64 - 1, 2**32 + 11)
SIGNED4 = (-1, 9, 10, -(2**31), 2**31 - 1)
SIGNED2 = (-1, 9, 10, -(2**15), 11)
SIGNED8 = (0, 9, 10, -1, -(2**63))
#: How each kind of event is made from a small int: (subsystem, format, encoder).
KINDS = {
    "value": ("mod", VALUE_FORMAT,
              lambda v, pid, fl, pc: layout(VALUE_FORMAT).encode(
                  {"value": v - 2, "name": "ab"[: v % 3]}, pid=pid, flags=fl, preempt_count=pc)),
    "print": ("ftrace", PRINT_FORMAT,
              lambda v, pid, fl, pc: encode_print(f"mark {v}", pid=pid, flags=fl,
                                                  preempt_count=pc)),
    "raw": ("ftrace", RAW_DATA_FORMAT,
            lambda v, pid, fl, pc: encode_raw(bytes([v, 1, 2, 3, v]), pid=pid, preempt_count=pc)),
    "stack": ("ftrace", KERNEL_STACK_FORMAT,
              lambda v, pid, fl, pc: encode_stack([0xFFFF0000 + v] * (v % 3), pid=pid, flags=fl,
                                                  preempt_count=pc)),
    "synth": (SYNTH_SYSTEM, SYNTH_FORMAT,
              lambda v, pid, fl, pc: layout(SYNTH_FORMAT).encode({"delta": v}, pid=pid, flags=fl,
                                                                preempt_count=pc)),
    "enter0": ("syscalls", ENTER0_FORMAT,
               lambda v, pid, fl, pc: layout(ENTER0_FORMAT).encode(
                   {"__syscall_nr": 110}, pid=pid, flags=fl, preempt_count=pc)),
    "enter1": ("syscalls", ENTER1_FORMAT,
               lambda v, pid, fl, pc: layout(ENTER1_FORMAT).encode(
                   {"fd": UNSIGNED[v]}, pid=pid, flags=fl, preempt_count=pc)),
    "enter4": ("syscalls", ENTER4_FORMAT,
               lambda v, pid, fl, pc: layout(ENTER4_FORMAT).encode(
                   {"addr": UNSIGNED[v], "count": SIGNED4[(v + 1) % 5],
                    "mode": SIGNED2[(v + 2) % 5], "flags": UNSIGNED[(v + 3) % 5]},
                   pid=pid, flags=fl, preempt_count=pc)),
    "exit": ("syscalls", EXIT_FORMAT,
             lambda v, pid, fl, pc: layout(EXIT_FORMAT).encode(
                 {"ret": SIGNED8[v]}, pid=pid, flags=fl, preempt_count=pc)),
    "exit2": ("syscalls", EXIT2_FORMAT,
              lambda v, pid, fl, pc: layout(EXIT2_FORMAT).encode(
                  {"ret": SIGNED8[v], "ret2": v}, pid=pid, flags=fl, preempt_count=pc)),
}
SYSCALL_KINDS = ("enter0", "enter1", "enter4", "exit")
#: Pids: the idle task, two sharing a cmdline slot (pid & 0x7fff), a large one.
PIDS = (0, 1, 2, 7, 32769, 4194303)
#: Comms: none saved (``<...>``), short, long, and wider in bytes than in characters.
COMMS = (None, "a", "fifteen-chars-x", "naïve-ñame")


@dataclass(frozen=True)
class Recorded:
    """One event: what, where, when (a step after the last), by whom, with which flags."""

    kind: str
    value: int
    cpu: int
    step: int
    pid: int
    comm: str | None
    flags: int
    preempt_count: int
    tgid: bool


events_st = st.lists(st.builds(
    Recorded, kind=st.sampled_from([*KINDS, "value", "value"]), value=st.integers(0, 4),
    cpu=st.integers(0, 2), step=st.sampled_from([0, 0, 1, 499, 500, 1000, 10**9]),
    pid=st.sampled_from(PIDS), comm=st.sampled_from(COMMS), flags=st.integers(0, 255),
    preempt_count=st.integers(0, 255), tgid=st.booleans()), max_size=400)


def recorded(events: list[Recorded], clock: str, start: int, size_kb: int | None,
             trace: TraceArray | None = None) -> TraceArray:
    """A trace array with ``events`` recorded (more of them, into ``trace``)."""
    if trace is None:
        tracing = Tracing(ncpus=3)
        tracing.clock = clock
        trace = TraceArray(tracing)
    if size_kb is not None:
        trace.buffer.resize(size_kb)
    ts = start
    for e in events:
        ts += e.step
        subsys, fmt, encode = KINDS[e.kind]
        trace.options.set("record-tgid", e.tgid)
        trace.record(e.cpu, encode(e.value, e.pid, e.flags, e.preempt_count), e.comm, subsys,
                     fmt, ts=ts)
    return trace


def shown(trace: TraceArray, options: dict[str, bool]) -> TraceArray:
    for name, value in options.items():
        trace.options.set(name, value)
    return trace


def consumed_one_by_one(trace: TraceArray, cpu: int | None) -> list[bytes]:
    """The reference: ``consume`` an event at a time, each line from ``TraceArray.line``
    (a ``LOST`` line goes with the event after it)."""
    out = []
    while (event := trace.buffer.consume(cpu)) is not None:
        lost = f"CPU:{event.cpu} [LOST {event.lost} EVENTS]\n" if event.lost else ""
        out.append((lost + trace.line(event)).encode("utf-8", "surrogateescape"))
    return out


def reads(lines: list[bytes]) -> list[bytes]:
    """What reads of 8191 bytes or more return: as many whole events' lines as
    stay under a trace_seq's 8192 bytes, or one alone that does not."""
    chunks = [bytearray()]
    for line in lines:
        if chunks[-1] and len(chunks[-1]) + len(line) >= PIPE_SEQ_SIZE:
            chunks.append(bytearray())
        chunks[-1] += line
    return [bytes(chunk) for chunk in chunks if chunk]


def piped(trace: TraceArray, cpu: int | None, size: int, limit: int) -> list[bytes]:
    pipe = TracePipe(trace, cpu)
    got: list[bytes] = []
    total = 0
    while pipe.has_data() and total <= limit:  # more is wrong: stop
        chunk = pipe.read(size)
        assert 0 < len(chunk) <= min(size, PIPE_SEQ_SIZE - 1)
        got.append(chunk)
        total += len(chunk)
    return got


FLOOD = [Recorded("value", i % 5, 0, 1, 2, "a", 0, 0, False) for i in range(450)]


@settings(max_examples=150, deadline=None)
@given(events=events_st, clock=st.sampled_from(["local", "x86-tsc", "counter"]),
       start=st.integers(0, 2**44), lost=st.booleans(),
       cpu=st.sampled_from([None, None, 0]), size=st.sampled_from([1, 61, 4096, 8191, 131072]),
       options=st.fixed_dictionaries({
           "context-info": st.booleans(), "irq-info": st.booleans(),
           "record-tgid": st.booleans()}))
def test_trace_pipe_lines_are_those_made_one_at_a_time(
        events: list[Recorded], clock: str, start: int, lost: bool, cpu: int | None,
        size: int, options: dict[str, bool]) -> None:
    """With ``lost``, a smallest buffer flooded first on CPU 0: lost events."""
    events, size_kb = (FLOOD + events, 4) if lost else (events, None)
    lines = consumed_one_by_one(shown(recorded(events, clock, start, size_kb), options), cpu)
    reference = b"".join(lines)
    assert (b"[LOST " in reference) == lost
    got = piped(shown(recorded(events, clock, start, size_kb), options), cpu, size,
                len(reference))
    assert b"".join(got) == reference
    if size >= PIPE_SEQ_SIZE - 1:
        assert got == reads(lines)


def test_ties_go_to_the_lower_cpu_and_identical_records_keep_their_own_context() -> None:
    """Two CPUs at the same stamps, the same record on each: lines alternate from CPU 0."""
    same = [Recorded("value", 3, cpu, 1000 if cpu else 0, 1, "a", 0, 0, False)
            for _ in range(100) for cpu in (1, 0)]
    lines = b"".join(piped(recorded(same, "local", 5_000_000, None), None, 131072, 1 << 20))
    expected = "".join(f"               a-1       [{cpu:03d}] .....     0.{us:06d}: "
                       "val: value=1 name=\n"
                       for i in range(100) for us in [5001 + i] for cpu in (0, 1))
    assert lines.decode() == expected


def test_syscall_texts_are_made_without_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value of each syscall kind, with ``Printer._body`` (Python's body maker)
    made to fail: the lines read are the kernel's forms, all made in C."""
    events = [Recorded(kind, v, 0, 1, 1, "a", 0, 0, False)
              for kind in SYSCALL_KINDS for v in range(5)]
    trace = recorded(events, "local", 0, None)
    shown(trace, {"context-info": False})

    def no_python(*args: object) -> str:
        raise AssertionError("a syscall text was made in Python")

    monkeypatch.setattr(Printer, "_body", no_python)
    got = b"".join(piped(trace, None, 131072, 1 << 20)).decode().splitlines()
    assert got == [
        *["sys_getppid()"] * 5,
        "sys_close(fd: 0)", "sys_close(fd: 9)", "sys_close(fd: 0xa)",
        "sys_close(fd: 0xffffffffffffffff)", "sys_close(fd: 0x10000000b)",
        "sys_probe(addr: 0, count: 9, mode: 0xa, flags: 0xffffffffffffffff)",
        "sys_probe(addr: 9, count: 0xa, mode: 0x8000, flags: 0x10000000b)",
        "sys_probe(addr: 0xa, count: 0x80000000, mode: 0xb, flags: 0)",
        "sys_probe(addr: 0xffffffffffffffff, count: 0x7fffffff, mode: 0xffff, flags: 9)",
        "sys_probe(addr: 0x10000000b, count: 0xffffffff, mode: 9, flags: 0xa)",
        "sys_probe -> 0x0", "sys_probe -> 0x9", "sys_probe -> 0xa",
        "sys_probe -> 0xffffffffffffffff", "sys_probe -> 0x8000000000000000",
    ]


@pytest.mark.parametrize("comm, column", [(None, "           <...>-1 "),
                                          ("naïve-ñame", "      naïve-ñame-1 ")])
def test_a_comm_is_padded_by_characters_and_a_lost_one_shows_dots(comm: str | None,
                                                                  column: str) -> None:
    trace = recorded([Recorded("value", 0, 0, 1, 1, comm, 0, 0, False)], "local", 0, None)
    assert piped(trace, None, 8191, 1 << 20)[0].decode().startswith(column)


def test_a_line_that_would_make_a_read_8192_bytes_waits_for_the_next() -> None:
    """Markers of 128-byte lines: 64 would be 8192 bytes, a trace_seq's size, so a
    read returns 63 (the rule is ``>=``: one byte more than a read may have)."""
    def markers(text: str, count: int) -> TraceArray:
        trace = TraceArray(Tracing(ncpus=1))
        for i in range(count):
            trace.record(0, encode_print(text, pid=1), "a", "ftrace", PRINT_FORMAT,
                         ts=1000 * (i + 1))
        return trace

    [one] = piped(markers("x", 1), None, 8191, 1 << 20)
    assert one.endswith(b"0x0: x\n")
    got = piped(markers("x" * (129 - len(one)), 200), None, 131072, 1 << 20)
    assert [len(chunk) for chunk in got] == [63 * 128, 63 * 128, 63 * 128, 11 * 128]


class OneAtATime(TraceListing):
    """``trace`` through the generic seq_file loop: the reference."""

    fill = SeqOperations.fill


def listed(trace: TraceArray, listing: TraceListing, sizes: list[int],
           late: list[Recorded]) -> bytes:
    """``trace`` read in reads of ``sizes`` (then 4096s), ``late`` recorded after the first."""
    seq = SeqFile(listing)
    out = bytearray()
    for i in range(10_000):
        chunk = seq.read(len(out), sizes[i] if i < len(sizes) else 4096)
        if i == 0:
            recorded(late, "", 1 << 45, None, trace)
        if not chunk:
            return bytes(out)
        out += chunk
    raise AssertionError("trace does not end")


@settings(max_examples=100, deadline=None)
@given(events=events_st, late=events_st, clock=st.sampled_from(["local", "x86-tsc", "counter"]),
       start=st.integers(0, 2**44), lost=st.booleans(), cpu=st.sampled_from([None, None, 2]),
       sizes=st.lists(st.integers(1, 20_000), max_size=5),
       options=st.fixed_dictionaries({
           "context-info": st.booleans(), "irq-info": st.booleans(),
           "record-tgid": st.booleans()}))
def test_trace_lines_are_those_of_the_generic_loop(
        events: list[Recorded], late: list[Recorded], clock: str, start: int, lost: bool,
        cpu: int | None, sizes: list[int], options: dict[str, bool]) -> None:
    events, size_kb = (FLOOD + events, 4) if lost else (events, None)
    ref_trace = shown(recorded(events, clock, start, size_kb), options)
    reference = listed(ref_trace, OneAtATime(ref_trace, cpu), sizes, late)
    trace = shown(recorded(events, clock, start, size_kb), options)
    assert listed(trace, TraceListing(trace, cpu), sizes, late) == reference
    assert reference.count(b"\n") >= (len(events) if cpu is None and not lost else 0)


def test_trace_shows_a_cpu_whose_events_end_early_once() -> None:
    """CPU 0's three events are all in the first read; the reads after it, of
    CPU 1's, do not start CPU 0 over."""
    events = ([Recorded("value", 1, 0, 1, 1, "a", 0, 0, False)] * 3
              + [Recorded("value", 2, 1, 1, 1, "a", 0, 0, False)] * 300)
    reference = recorded(events, "local", 0, None)
    trace = recorded(events, "local", 0, None)
    got = listed(trace, TraceListing(trace, None), [], [])
    assert got == listed(reference, OneAtATime(reference, None), [], [])
    assert got.count(b"[000]") == 3 and got.count(b"[001]") == 300
