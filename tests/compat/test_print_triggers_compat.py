"""Triggers on ``events/ftrace/print``, side by side with the kernel's tracefs:
the print event is no tracepoint, yet its ``trigger`` file takes the non-hist
triggers, filters on its ``ip`` and ``buf``, and a ``trace_marker`` write runs
them around its record (``write_marker_to_buffer``)."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from compat.kernel import errno_of, write

PRINT = "events/ftrace/print/trigger"
HELP = "# Available triggers:\n# traceon traceoff stacktrace enable_event disable_event"


def marker_lines(tracefs: Path) -> list[str]:
    return [ln.rsplit("tracing_mark_write: ", 1)[1]
            for ln in (tracefs / "trace").read_text().splitlines() if "tracing_mark_write" in ln]


def test_print_trigger_file_takes_and_lists_triggers(tracefs: Path) -> None:
    trigger = tracefs / PRINT
    assert trigger.read_text().startswith(HELP)
    write(trigger, "traceoff")
    write(trigger, 'stacktrace:2 if buf ~ "x*"')
    write(trigger, "enable_event:sched:sched_switch:1")
    assert trigger.read_text() == ("enable_event:sched:sched_switch:count=1\n"
                                   'stacktrace:count=2 if buf ~ "x*"\n'
                                   "traceoff:unlimited\n")
    assert (tracefs / "events/sched/sched_switch/enable").read_text() == "0*\n"
    # traceon and traceoff are one kind; print is no target; only its own fields.
    assert errno_of(write, trigger, "traceon if ip == 0") == errno.EEXIST
    assert errno_of(write, trigger, "disable_event:ftrace:print") == errno.EINVAL
    assert errno_of(write, trigger, "traceon if nosuch == 1") == errno.EINVAL
    write(trigger, "!stacktrace")
    for removal in ("!traceoff", "!enable_event:sched:sched_switch"):
        write(trigger, removal)
    assert trigger.read_text().startswith(HELP)
    assert (tracefs / "events/sched/sched_switch/enable").read_text() == "0\n"


def test_traceoff_on_print_keeps_the_marker_that_tripped_it(tracefs: Path) -> None:
    write(tracefs / "trace", "")
    write(tracefs / PRINT, 'traceoff if buf ~ "stop*"')
    try:
        write(tracefs / "trace_marker", "go", os.O_WRONLY)
        assert (tracefs / "tracing_on").read_text() == "1\n"
        write(tracefs / "trace_marker", "stop", os.O_WRONLY)
        assert (tracefs / "tracing_on").read_text() == "0\n"
        assert errno_of(write, tracefs / "trace_marker", "more", os.O_WRONLY) == errno.EBADF
        assert marker_lines(tracefs) == ["go", "stop"]
    finally:
        write(tracefs / PRINT, "!traceoff")
        write(tracefs / "tracing_on", "1")
        write(tracefs / "trace", "")


def test_a_marker_with_no_room_runs_no_trigger(tracefs: Path, on_cpu0: None) -> None:
    """``write_marker_to_buffer`` reserves before it calls the triggers: with
    ``overwrite`` off and the buffer full, the write is EBADF and neither a
    trigger that acts before the record nor one that acts after it runs."""
    size = tracefs / "buffer_size_kb"
    saved = size.read_text().split()[0]
    switch = tracefs / "events/sched/sched_switch/enable"
    write(size, "8")
    write(tracefs / "options/overwrite", "0")
    try:
        write(tracefs / "trace", "")
        for _ in range(200):  # fill CPU 0 to its first refusal
            try:
                write(tracefs / "trace_marker", "f" * 200, os.O_WRONLY)
            except OSError as exc:
                assert exc.errno == errno.EBADF
                break
        else:
            raise AssertionError("an 8 KiB buffer took 200 markers of 200 bytes")
        write(tracefs / PRINT, "enable_event:sched:sched_switch")
        write(tracefs / PRINT, "traceoff")
        assert switch.read_text() == "0*\n"
        assert errno_of(write, tracefs / "trace_marker", "late", os.O_WRONLY) == errno.EBADF
        assert switch.read_text() == "0*\n"
        assert (tracefs / "tracing_on").read_text() == "1\n"
        assert "late" not in marker_lines(tracefs)
    finally:
        for removal in ("!traceoff", "!enable_event:sched:sched_switch"):
            with contextlib.suppress(OSError):  # not there if the test failed early
                write(tracefs / PRINT, removal)
        write(tracefs / "options/overwrite", "1")
        write(tracefs / "tracing_on", "1")
        write(size, saved)
        write(tracefs / "trace", "")
