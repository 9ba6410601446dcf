"""trace_pipe, trace_marker_raw and the clock's stamps, on tpfs and on the kernel's tracefs.

Markers are the events both sides can record on demand. The test process
runs on CPU 0 throughout, so that the kernel records its markers where tpfs
does; timestamps and pids aside, both sides must read back the same bytes.
"""

from __future__ import annotations

import errno
import os
import re
import select
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat.kernel import errno_of, write

LINE = re.compile(rb" *(\S+)-(\d+) +\[(\d{3})\] (\S{5}) +(\d+\.\d{6}|\d+): (.*)\n")


pytestmark = pytest.mark.usefixtures("on_cpu0")


@pytest.fixture
def pipe(tracefs: Path) -> Iterator[Path]:
    """An emptied tracefs, emptied again afterwards."""
    write(tracefs / "trace", "")
    yield tracefs
    write(tracefs / "trace", "")


def mark(tracefs: Path, *texts: str) -> None:
    for text in texts:
        write(tracefs / "trace_marker", text, os.O_WRONLY)


def bodies(data: bytes) -> list[bytes]:
    """Each line's text after the time stamp; every line must parse."""
    out = []
    for line in data.splitlines(keepends=True):
        m = LINE.fullmatch(line)
        assert m is not None, line
        out.append(m[6])
    return out


def read_all(path: Path, size: int = 65536) -> list[bytes]:
    """Every read until EAGAIN, opened O_NONBLOCK."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(fd, size)
            except BlockingIOError:
                return chunks
            assert chunk, "trace_pipe never ends while tracing is on"
            chunks.append(chunk)
    finally:
        os.close(fd)


def test_trace_pipe_consumes_what_trace_shows(pipe: Path) -> None:
    mark(pipe, "one", "two", "three")
    shown = [ln for ln in (pipe / "trace").read_bytes().splitlines(keepends=True)
             if not ln.startswith(b"#")]
    piped = b"".join(read_all(pipe / "trace_pipe"))
    assert piped == b"".join(shown)
    assert bodies(piped) == [b"tracing_mark_write: one", b"tracing_mark_write: two",
                             b"tracing_mark_write: three"]
    assert read_all(pipe / "trace_pipe") == []  # consumed
    assert "entries-in-buffer/entries-written: 0/0 " in (pipe / "trace").read_text()
    stats = (pipe / "per_cpu/cpu0/stats").read_text()
    assert "entries: 0\n" in stats and "read events: 3\n" in stats


def test_a_read_returns_whole_lines_up_to_8191_bytes_and_keeps_the_rest(pipe: Path) -> None:
    texts = [f"marker {i:04d} " + "x" * 40 for i in range(300)]
    mark(pipe, *texts)
    chunks = read_all(pipe / "trace_pipe")
    assert all(len(c) <= 8191 and c.endswith(b"\n") for c in chunks[:-1])
    assert len(chunks) == 5
    assert bodies(b"".join(chunks)) == [f"tracing_mark_write: {t}".encode() for t in texts]
    mark(pipe, "abc", "def")
    fd = os.open(pipe / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        first = [os.read(fd, 5) for _ in range(4)]
        rest = os.read(fd, 4096)  # what the first line left, and no more
        second = os.read(fd, 4096)
    finally:
        os.close(fd)
    assert bodies(b"".join(first) + rest) == [b"tracing_mark_write: abc"]
    assert bodies(second) == [b"tracing_mark_write: def"]


def test_one_reader_per_cpu(pipe: Path) -> None:
    fd = os.open(pipe / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert errno_of(os.open, pipe / "trace_pipe", os.O_RDONLY) == errno.EBUSY
        assert errno_of(os.open, pipe / "per_cpu/cpu0/trace_pipe", os.O_RDONLY) == errno.EBUSY
    finally:
        os.close(fd)
    fd = os.open(pipe / "per_cpu/cpu0/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert errno_of(os.open, pipe / "trace_pipe", os.O_RDONLY) == errno.EBUSY
        os.close(os.open(pipe / "per_cpu/cpu1/trace_pipe", os.O_RDONLY | os.O_NONBLOCK))
    finally:
        os.close(fd)
    os.close(os.open(pipe / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK))


def test_a_cpu_pipe_reads_its_cpu_only(pipe: Path) -> None:
    mark(pipe, "on cpu0")
    assert read_all(pipe / "per_cpu/cpu1/trace_pipe") == []
    assert bodies(b"".join(read_all(pipe / "per_cpu/cpu0/trace_pipe"))) == [
        b"tracing_mark_write: on cpu0"]


def test_end_of_file_only_after_a_read_with_tracing_off(pipe: Path) -> None:
    fd = os.open(pipe / "trace_pipe", os.O_RDONLY)
    try:
        mark(pipe, "a")
        assert bodies(os.read(fd, 4096)) == [b"tracing_mark_write: a"]
        write(pipe / "tracing_on", "0")
        assert os.read(fd, 4096) == b""
    finally:
        write(pipe / "tracing_on", "1")
        os.close(fd)
    write(pipe / "tracing_on", "0")
    try:  # a reader that never read: nothing yet, not the end
        fd = os.open(pipe / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert errno_of(os.read, fd, 10) == errno.EAGAIN
        finally:
            os.close(fd)
    finally:
        write(pipe / "tracing_on", "1")


def test_a_blocked_read_wakes_when_a_marker_arrives(pipe: Path) -> None:
    fd = os.open(pipe / "trace_pipe", os.O_RDONLY)
    got: list[tuple[bytes, float]] = []
    reader = threading.Thread(target=lambda: got.append((os.read(fd, 4096), time.monotonic())))
    try:
        reader.start()
        time.sleep(0.3)
        assert not got  # still waiting
        sent = time.monotonic()
        mark(pipe, "wake up")
        reader.join(5)
        assert bodies(got[0][0]) == [b"tracing_mark_write: wake up"]
        assert got[0][1] - sent < 1
    finally:
        os.close(fd)


def test_poll_says_readable_when_data_arrives(pipe: Path) -> None:
    fd = os.open(pipe / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(100) == []
        threading.Timer(0.2, mark, (pipe, "ready")).start()
        started = time.monotonic()
        assert poller.poll(5000) == [(fd, select.POLLIN)]
        assert time.monotonic() - started < 2
        assert bodies(os.read(fd, 4096)) == [b"tracing_mark_write: ready"]
        assert poller.poll(100) == []
    finally:
        os.close(fd)


def test_a_cpu_pipe_polls_readable_at_buffer_percent(pipe: Path) -> None:
    """Per CPU, poll waits for ``buffer_percent`` of the buffer (0: any data)."""
    assert (pipe / "buffer_percent").read_text() == "50\n"
    assert errno_of(write, pipe / "buffer_percent", "101") == errno.EINVAL
    fd = os.open(pipe / "per_cpu/cpu0/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        mark(pipe, "b")
        assert select.select([fd], [], [], 0.1)[0] == []
        write(pipe / "buffer_percent", "0")
        assert select.select([fd], [], [], 0.1)[0] == [fd]
    finally:
        write(pipe / "buffer_percent", "50")
        os.close(fd)


def test_a_marker_is_cut_to_what_one_record_holds(pipe: Path) -> None:
    for size in (4054, 4055, 9000):
        assert write(pipe / "trace_marker", "z" * size, os.O_WRONLY) == 4054
    assert [b.count(b"z") for b in bodies(b"".join(read_all(pipe / "trace_pipe")))] == [4054] * 3


def test_trace_marker_raw(pipe: Path) -> None:
    raw = pipe / "trace_marker_raw"
    assert os.stat(raw).st_mode & 0o777 == 0o220
    assert write(raw, struct.pack("<I", 0x1234) + b"abc\0\xff", os.O_WRONLY) == 9
    assert write(raw, b"abcd", os.O_WRONLY) == 4
    # (An empty write never reaches a FUSE daemon: the kernel's is EINVAL.)
    for bad in (b"ab", struct.pack("<I", 7) + b"x" * 4061):
        assert errno_of(write, raw, bad, os.O_WRONLY) == errno.EINVAL
    first, second = bodies(b"".join(read_all(pipe / "trace_pipe")))
    # The record's rounding shows too: the kernel leaves those bytes as they were.
    assert re.fullmatch(rb"# 1234 buf: 61 62 63 00 ff( [0-9a-f]{2}){3}", first), first
    assert second == b"# 64636261 buf:"
    assert write(raw, struct.pack("<I", 7) + b"x" * 4060, os.O_WRONLY) == 4064
    assert "entries: 1\n" in (pipe / "per_cpu/cpu0/stats").read_text()


def test_the_counter_clock_shows_counts(pipe: Path) -> None:
    write(pipe / "trace_clock", "counter")
    try:
        write(pipe / "trace", "")
        mark(pipe, "hi", "there")
        stamps = [LINE.fullmatch(ln)[5] for ln in  # type: ignore[index]
                  b"".join(read_all(pipe / "trace_pipe")).splitlines(keepends=True)]
        assert all(s.isdigit() for s in stamps) and int(stamps[1]) == int(stamps[0]) + 1
        stats = (pipe / "per_cpu/cpu0/stats").read_text()
        assert re.search(r"^now ts: \d+$", stats, re.M), stats
    finally:
        write(pipe / "trace_clock", "local")


def test_a_full_buffer_overwrites_the_oldest_and_says_how_many(pipe: Path) -> None:
    size = pipe / "buffer_size_kb"
    saved = size.read_text().split()[0]
    write(size, "8")  # two pages
    try:
        texts = [f"overflow {i:04d} " + "y" * 100 for i in range(200)]
        mark(pipe, *texts)
        stats = dict(ln.split(": ", 1) for ln in
                     (pipe / "per_cpu/cpu0/stats").read_text().splitlines())
        entries, overrun = int(stats["entries"]), int(stats["overrun"])
        assert entries + overrun == 200 and overrun > 0 and stats["dropped events"] == "0"
        header = (pipe / "trace").read_text()
        assert f"entries-in-buffer/entries-written: {entries}/200 " in header
        lines = b"".join(read_all(pipe / "trace_pipe")).splitlines(keepends=True)
        assert lines[0] == f"CPU:0 [LOST {overrun} EVENTS]\n".encode()
        assert bodies(b"".join(lines[1:])) == [
            f"tracing_mark_write: {t}".encode() for t in texts[overrun:]]
    finally:
        write(size, saved)


def test_buffer_size_kb_shows_whole_pages(tracefs: Path) -> None:
    size = tracefs / "buffer_size_kb"
    saved = size.read_text().split()[0]
    try:
        write(size, "16")  # five pages of 4,080 bytes of data
        assert size.read_text() == "19\n"
        assert (tracefs / "per_cpu/cpu0/buffer_size_kb").read_text() == "19\n"
        ncpus = len(os.listdir(tracefs / "per_cpu"))
        assert (tracefs / "buffer_total_size_kb").read_text() == f"{19 * ncpus}\n"
    finally:
        write(size, saved)
