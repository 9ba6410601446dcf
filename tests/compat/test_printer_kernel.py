"""The printer against the kernel: the same raw events, the same ``trace`` lines.

As root, the kernel's tracefs is mounted in a temporary directory; with
``sched:sched_switch`` enabled a few ``trace_marker`` writes are traced,
tracing stops, and every event read raw from ``per_cpu/cpuN/trace_pipe_raw``
(decoded by libtraceevent's kbuffer) is printed with tpfs's printer, using
the kernel's own formats and ``saved_cmdlines``. The lines must be exactly
the kernel's ``trace`` lines, and the header its header. The buffer is
emptied, events disabled, ``tracing_on`` restored and the tracefs unmounted
afterwards.
"""

from __future__ import annotations

import collections
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat.kernel import kernel_tracefs, write
from model.kbuffer import decode

from tpfs.tracefs.trace.printer import Printer, header
from tpfs.tracefs.trace.record import PRINT_FORMAT, encode_print, layout


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Path]:
    """The kernel's tracefs, its events, tracing_on and buffer put back afterwards."""
    with kernel_tracefs(tmp_path) as mnt:
        yield mnt


def raw_events(mnt: Path) -> Iterator[tuple[int, int, bytes]]:
    """(cpu, ts, record) of every event left in the per-cpu buffers, consumed."""
    for cpu_dir in sorted((mnt / "per_cpu").iterdir(), key=lambda p: int(p.name[3:])):
        cpu = int(cpu_dir.name[3:])
        fd = os.open(cpu_dir / "trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
        try:
            while True:
                try:
                    page = os.read(fd, 4096)
                except BlockingIOError:
                    break
                if not page:
                    break
                for event in decode(page).events:
                    yield cpu, event.ts, event.data
        finally:
            os.close(fd)


def test_trace_lines_match_the_kernel(kernel: Path) -> None:
    switch = (kernel / "events/sched/sched_switch/format").read_text()
    assert (kernel / "events/ftrace/print/format").read_text() == PRINT_FORMAT
    printer = Printer()
    printer.add_event("sched", switch)

    write(kernel / "tracing_on", "0")
    write(kernel / "trace", "")
    write(kernel / "events/sched/sched_switch/enable", "1")
    write(kernel / "tracing_on", "1")
    markers = ["tpfs printer check", "with a newline\n", "x" * 200]
    for text in markers:
        write(kernel / "trace_marker", text)
        time.sleep(0.02)
    write(kernel / "tracing_on", "0")
    write(kernel / "events/sched/sched_switch/enable", "0")

    trace = (kernel / "trace").read_text(errors="surrogateescape")
    comms = dict(line.split(" ", 1) for line in
                 (kernel / "saved_cmdlines").read_text().splitlines())
    events = list(raw_events(kernel))

    head = re.match(r"(?:#.*\n)+", trace)
    assert head is not None
    counts = re.search(r"entries-written: (\d+)/(\d+)   #P:(\d+)", head[0])
    assert counts is not None
    assert head[0] == header(*map(int, counts.groups()))
    assert int(counts[1]) == len(events)

    mine: list[str] = []
    printed = {5: 0, layout(switch).id: 0}
    for cpu, ts, record in events:
        event_id = int.from_bytes(record[:2], "little")
        if event_id not in printed:
            continue
        printed[event_id] += 1
        if event_id == 5:
            printer.add_function("tracing_mark_write", int.from_bytes(record[8:16], "little"))
        pid = int.from_bytes(record[4:8], "little", signed=True)
        mine.append(printer.line(record, cpu=cpu, ts=ts, comm=comms.get(str(pid))))
    assert printed[5] == len(markers) and printed[layout(switch).id] > 0
    theirs = [line + "\n" for line in trace[len(head[0]):].split("\n")
              if re.search(r": (sched_switch|tracing_mark_write): ", line)]
    assert collections.Counter(mine) == collections.Counter(theirs)
    assert any("<...>" not in line for line in mine)  # some comms were saved

    # The kernel's marker records are the records tpfs makes for the same text.
    # By time stamp: the writer may have moved between CPUs, whose pages come apart.
    mark = sorted((ts, r) for _, ts, r in events if int.from_bytes(r[:2], "little") == 5)
    for (_, record), text in zip(mark, markers, strict=True):
        made = encode_print(text, ip=int.from_bytes(record[8:16], "little"),
                            pid=int.from_bytes(record[4:8], "little", signed=True),
                            flags=record[2], preempt_count=record[3])
        used = 16 + len(text.rstrip("\n")) + 2  # the text, its newline, its NUL
        assert made[:used] == record[:used]
        assert len(made) == len(record)
