"""Instances, options, events/ftrace and trace_pipe_raw, on tpfs and on the kernel's tracefs.

Markers are what both sides can record on demand; the test runs on CPU 0 so
that the kernel's land where tpfs puts them. Instances made here are removed
and options put back before the kernel's tracefs is unmounted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat.kernel import errno_of, write
from model.kbuffer import decode

INSTANCE_FILES = {
    "available_tracers", "buffer_percent", "buffer_size_kb", "buffer_total_size_kb",
    "current_tracer", "error_log", "events", "free_buffer", "options", "per_cpu", "set_event",
    "set_event_notrace_pid", "set_event_pid", "trace", "trace_clock", "trace_marker",
    "trace_marker_raw", "trace_options", "trace_pipe", "tracing_cpumask", "tracing_on",
}


pytestmark = pytest.mark.usefixtures("on_cpu0")


@contextlib.contextmanager
def instance(tracefs: Path, name: str) -> Iterator[Path]:
    path = tracefs / "instances" / name
    os.mkdir(path)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(path)


def texts(data: bytes) -> list[bytes]:
    return [line.split(b": ", 2)[-1] for line in data.splitlines() if not line.startswith(b"#")]


def test_an_instance_is_complete_at_once_and_goes_with_rmdir(tracefs: Path) -> None:
    with instance(tracefs, "tpfs_compat") as inst:
        assert set(os.listdir(inst)) >= INSTANCE_FILES
        assert stat.S_ISDIR(os.stat(inst / "events/sched/sched_switch").st_mode)
        assert (inst / "tracing_on").read_text() == "1\n"
        assert (inst / "current_tracer").read_text() == "nop\n"
        assert (inst / "set_event").read_text() == ""
        assert {"cpu0", "cpu1"} <= set(os.listdir(inst / "per_cpu"))
        assert errno_of(os.mkdir, inst) == errno.EEXIST
        fd = os.open(inst / "trace", os.O_RDONLY)
        try:
            assert errno_of(os.rmdir, inst) == errno.EBUSY
        finally:
            os.close(fd)
        os.rmdir(inst)
        assert errno_of(os.rmdir, inst) == errno.ENOENT
    assert errno_of(os.mkdir, tracefs / "events/newdir") in (errno.EPERM, errno.EACCES)


def test_an_instance_has_its_own_buffer_and_events(tracefs: Path) -> None:
    write(tracefs / "trace", "")
    with instance(tracefs, "tpfs_compat") as inst:
        write(inst / "trace_marker", "in the instance", os.O_WRONLY)
        write(tracefs / "trace_marker", "at the top", os.O_WRONLY)
        assert texts((inst / "trace").read_bytes()) == [b"in the instance"]
        assert texts((tracefs / "trace").read_bytes()) == [b"at the top"]
        write(inst / "events/sched/sched_switch/enable", "1")
        assert (inst / "set_event").read_text() == "sched:sched_switch\n"
        assert (tracefs / "events/sched/sched_switch/enable").read_text() == "0\n"
        write(inst / "events/sched/sched_switch/enable", "0")
    write(tracefs / "trace", "")


def test_one_cpus_buffer_can_be_resized(tracefs: Path) -> None:
    """A new instance's buffer is full size at once; ``per_cpu/cpuN/buffer_size_kb``
    resizes that CPU alone, and then ``buffer_size_kb`` reads ``X`` and the total
    is the sum."""
    with instance(tracefs, "tpfs_compat") as inst:
        full = (inst / "per_cpu/cpu0/buffer_size_kb").read_text()
        assert (inst / "buffer_size_kb").read_text() == full and "(" not in full
        write(inst / "per_cpu/cpu0/buffer_size_kb", "100")
        assert (inst / "per_cpu/cpu0/buffer_size_kb").read_text() == "103\n"
        assert (inst / "per_cpu/cpu1/buffer_size_kb").read_text() == full
        assert (inst / "buffer_size_kb").read_text() == "X\n"
        ncpus = len(os.listdir(inst / "per_cpu"))
        assert (inst / "buffer_total_size_kb").read_text() == \
            f"{103 + int(full) * (ncpus - 1)}\n"
        assert errno_of(write, inst / "per_cpu/cpu1/buffer_size_kb", "0") == errno.EINVAL
        write(inst / "buffer_size_kb", "50")
        assert (inst / "buffer_size_kb").read_text() == "51\n"
        assert (inst / "buffer_total_size_kb").read_text() == f"{51 * ncpus}\n"


def test_free_buffer_shrinks_the_buffer_when_it_is_closed(tracefs: Path) -> None:
    """``free_buffer`` takes any write and ignores it; its last close, however it was
    opened, shrinks every CPU's buffer to two pages, and with ``disable_on_free``
    turns tracing off first."""
    with instance(tracefs, "tpfs_compat") as inst:
        free = inst / "free_buffer"
        assert stat.S_IMODE(os.stat(free).st_mode) == 0o200
        write(inst / "buffer_size_kb", "100")
        assert (inst / "buffer_size_kb").read_text() == "103\n"
        fd = os.open(free, os.O_WRONLY)
        try:
            assert os.write(fd, b"anything") == 8
            assert (inst / "buffer_size_kb").read_text() == "103\n"  # not until the close
        finally:
            os.close(fd)
        assert (inst / "buffer_size_kb").read_text() == "7\n"
        assert (inst / "per_cpu/cpu1/buffer_size_kb").read_text() == "7\n"
        assert (inst / "tracing_on").read_text() == "1\n"
        write(inst / "buffer_size_kb", "100")
        fd = os.open(free, os.O_RDONLY)
        try:
            assert errno_of(os.read, fd, 10) == errno.EINVAL
        finally:
            os.close(fd)
        assert (inst / "buffer_size_kb").read_text() == "7\n"
        write(inst / "options/disable_on_free", "1")
        write(free, "")
        assert (inst / "tracing_on").read_text() == "0\n"


def test_options_toggle_from_either_place(tracefs: Path) -> None:
    opts = tracefs / "trace_options"
    assert "overwrite\n" in opts.read_text() and "irq-info\n" in opts.read_text()
    assert (tracefs / "options/overwrite").read_text() == "1\n"
    write(opts, "nooverwrite")
    try:
        assert (tracefs / "options/overwrite").read_text() == "0\n"
        assert "nooverwrite\n" in opts.read_text()
    finally:
        write(tracefs / "options/overwrite", "1")
    assert "overwrite\n" in opts.read_text().splitlines(keepends=True)
    assert errno_of(write, opts, "nosuchoption") == errno.EINVAL
    assert errno_of(write, tracefs / "options/overwrite", "2") == errno.EINVAL


def test_with_overwrite_off_a_full_buffer_drops_the_newest(tracefs: Path) -> None:
    size = tracefs / "buffer_size_kb"
    saved = size.read_text().split()[0]
    write(size, "8")
    write(tracefs / "options/overwrite", "0")
    try:
        write(tracefs / "trace", "")
        marks = [f"kept {i:04d} " + "z" * 100 for i in range(200)]
        refused = 0
        for text in marks:  # a marker with no room is EBADF
            try:
                write(tracefs / "trace_marker", text, os.O_WRONLY)
            except OSError as exc:
                assert exc.errno == errno.EBADF
                refused += 1
        stats = dict(ln.split(": ", 1) for ln in
                     (tracefs / "per_cpu/cpu0/stats").read_text().splitlines())
        kept, dropped = int(stats["entries"]), int(stats["dropped events"])
        assert kept + dropped == 200 and dropped == refused > 0 and stats["overrun"] == "0"
        assert texts((tracefs / "trace").read_bytes()) == [m.encode() for m in marks[:kept]]
    finally:
        write(tracefs / "options/overwrite", "1")
        write(size, saved)
        write(tracefs / "trace", "")


def test_markers_off_refuses_marker_writes(tracefs: Path) -> None:
    write(tracefs / "options/markers", "0")
    try:
        assert errno_of(write, tracefs / "trace_marker", "x", os.O_WRONLY) == errno.EINVAL
    finally:
        write(tracefs / "options/markers", "1")
    assert write(tracefs / "trace_marker", "x", os.O_WRONLY) == 1
    write(tracefs / "trace", "")


def test_irq_info_off_drops_the_flags_column(tracefs: Path) -> None:
    write(tracefs / "trace", "")
    write(tracefs / "trace_marker", "no flags", os.O_WRONLY)
    write(tracefs / "options/irq-info", "0")
    try:
        text = (tracefs / "trace").read_text()
    finally:
        write(tracefs / "options/irq-info", "1")
        write(tracefs / "trace", "")
    assert "#           TASK-PID     CPU#     TIMESTAMP  FUNCTION\n" in text
    [line] = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert "] ...1." not in line and f"-{os.getpid()} " in line and "]  " in line


def test_context_info_off_leaves_the_tracer_and_the_events_own_text(tracefs: Path) -> None:
    """``context-info`` off: the header is the tracer's name alone, and each line
    what the event prints itself, in ``trace``, ``per_cpu/`` and ``trace_pipe``."""
    with instance(tracefs, "tpfs_compat") as inst:
        write(inst / "trace_marker", "hello\n", os.O_WRONLY)
        write(inst / "trace_marker", "no newline", os.O_WRONLY)
        write(inst / "options/context-info", "0")
        assert "nocontext-info\n" in (inst / "trace_options").read_text()
        expected = ("# tracer: nop\n#\ntracing_mark_write: hello\n"
                    "tracing_mark_write: no newline\n")
        assert (inst / "trace").read_text() == expected
        assert (inst / "per_cpu/cpu0/trace").read_text() == expected
        write(inst / "options/record-tgid", "1")  # no columns to add it to
        assert (inst / "trace").read_text() == expected
        fd = os.open(inst / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert os.read(fd, 4096) == expected.split("#\n", 1)[1].encode()
        finally:
            os.close(fd)
        write(inst / "options/context-info", "1")
        assert (inst / "trace").read_text().startswith("# tracer: nop\n#\n# entries-in")


def test_events_ftrace_lists_the_internal_events(tracefs: Path) -> None:
    ftrace = tracefs / "events/ftrace"
    names = set(os.listdir(ftrace))
    assert {"print", "raw_data", "function", "kernel_stack"} <= names
    assert "enable" not in names and "filter" not in names
    assert (ftrace / "print/id").read_text() == "5\n"
    assert (ftrace / "print/format").read_text().startswith("name: print\nID: 5\n")
    assert "enable" not in os.listdir(ftrace / "print")


def test_trace_pipe_raw_hands_out_whole_pages(tracefs: Path) -> None:
    write(tracefs / "trace", "")
    for i in range(3):
        write(tracefs / "trace_marker", f"raw {i}", os.O_WRONLY)
    fd = os.open(tracefs / "per_cpu/cpu0/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
    try:
        page = os.read(fd, 4096)
        assert len(page) == 4096
        assert errno_of(os.read, fd, 4096) == errno.EAGAIN  # the page took them all
    finally:
        os.close(fd)
    decoded = decode(page)
    assert [e.data[16:].split(b"\0")[0] for e in decoded.events] == [
        b"raw 0\n", b"raw 1\n", b"raw 2\n"]
    assert [e.ts for e in decoded.events] == sorted(e.ts for e in decoded.events)
    assert page[decoded.size + 16:] == bytes(4096 - 16 - decoded.size)  # zero-padded
