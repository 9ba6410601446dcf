"""README, events/ftrace and the other top-level files against Linux 6.18.

The expectations (texts, ids, listings, counts and errnos) were read from
the reference kernel's tracefs (Linux 6.18) by hand; where a behaviour could
not be observed there (the kernel refuses the function-tracing files with
EPERM) the test says it follows the kernel's source.
"""

from __future__ import annotations

import errno
import hashlib

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.tracefs.events.ftrace_events import ftrace_event, ftrace_events
from tpfs.tracefs.trace.ftrace_settings import (
    MODES,
    SAVED_CMDLINES_DEFAULT,
    FtracePids,
    FunctionFilter,
    Nsecs,
    SavedCmdlines,
    SavedTgids,
    cmdlines_capacity,
    parse_tracer,
    render_printk_formats,
)
from tpfs.tracefs.trace.howto import MODE_README, readme_text
from tpfs.tracefs.trace.markers import RAW_DATA_FORMAT, RAW_DATA_ID
from tpfs.tracefs.trace.record import KERNEL_STACK_FORMAT, KERNEL_STACK_ID, PRINT_FORMAT, PRINT_ID


def _errno(fn, *args) -> int:
    with pytest.raises(TpfsError) as exc:
        fn(*args)
    return exc.value.errno


# -- README --------------------------------------------------------------------
def test_readme_is_the_kernels_text():
    # Linux 6.18: README is 6569 bytes, md5 5680887ebe5d9d535fe0525b267d329c.
    text = readme_text()
    assert len(text) == 6569
    assert hashlib.md5(text.encode()).hexdigest() == "5680887ebe5d9d535fe0525b267d329c"
    assert text.startswith("tracing mini-HOWTO:\n\nBy default tracefs removes all OTH file "
                           "permission bits.\n")
    assert "  trace_marker_raw\t\t- Writes into this file writes binary data into the " \
           "kernel buffer\n" in text
    assert MODE_README == 0o440


# -- events/ftrace ---------------------------------------------------------------
# ``ls -f events/ftrace`` on Linux 6.18, with each format's ID and each
# directory's entries (``ls -f``).
KERNEL_FTRACE_EVENTS = [
    ("timerlat", 18, ("format",)), ("osnoise", 17, ("format",)),
    ("func_repeats", 20, ("format",)), ("hwlat", 16, ("format",)),
    ("branch", 9, ("format",)), ("mmiotrace_map", 8, ("format",)),
    ("mmiotrace_rw", 7, ("format",)), ("bputs", 15, ("format",)),
    ("raw_data", 19, ("format",)), ("print", 5, ("trigger", "format", "id")),
    ("bprint", 6, ("format",)), ("user_stack", 13, ("format",)),
    ("kernel_stack", 4, ("format",)), ("wakeup", 3, ("format",)),
    ("context_switch", 2, ("format",)), ("funcgraph_exit", 10, ("format",)),
    ("funcgraph_entry", 11, ("format",)), ("function", 1, ("format", "id")),
]

# ``events/ftrace/function/format`` on Linux 6.18.
KERNEL_FUNCTION_FORMAT = (
    "name: function\nID: 1\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n"
    "\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;\n"
    "\tfield:unsigned long args[];\toffset:24;\tsize:0;\tsigned:0;\n"
    "\n"
    'print fmt: " %ps <-- %ps", (void *)REC->ip, (void *)REC->parent_ip\n'
)


def test_ftrace_events_in_the_kernels_listing_order():
    assert [(e.name, e.id, e.files) for e in ftrace_events()] == KERNEL_FTRACE_EVENTS


def test_the_formats_are_the_kernels():
    # Linux 6.18: every events/ftrace/*/format in listing order, concatenated,
    # is 11774 bytes with this sha256.
    text = "".join(e.format for e in ftrace_events())
    assert len(text) == 11774
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "c2c8b3003550d63da6cdfe08e8dfd7e5bb8e7ce8731dc7e634729ee54c2c8c3c")


def test_each_format_names_its_event_and_id():
    for event in ftrace_events():
        assert event.format.startswith(f"name: {event.name}\nID: {event.id}\nformat:\n")
        assert "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n" in event.format
        assert event.format.count("\nprint fmt: ") == 1 and event.format.endswith("\n")
        assert not {"enable", "filter"} & set(event.files)


def test_the_formats_tpfs_writes_records_by_are_the_embedded_ones():
    assert ftrace_event("function").format == KERNEL_FUNCTION_FORMAT
    assert ftrace_event("print").format == PRINT_FORMAT
    assert ftrace_event("print").id == PRINT_ID
    assert ftrace_event("kernel_stack").format == KERNEL_STACK_FORMAT
    assert ftrace_event("kernel_stack").id == KERNEL_STACK_ID
    assert ftrace_event("raw_data").format == RAW_DATA_FORMAT
    assert ftrace_event("raw_data").id == RAW_DATA_ID
    with pytest.raises(KeyError):
        ftrace_event("sched_switch")


# -- modes -------------------------------------------------------------------------
def test_modes_as_ls_shows_them():
    # ``ls -l`` on Linux 6.18: -r--r----- for the read-only files, -rw-r----- else.
    assert {name for name, mode in MODES.items() if mode == 0o440} == {
        "saved_cmdlines", "saved_tgids", "printk_formats"}
    assert all(mode in (0o440, 0o640) for mode in MODES.values())


# -- current_tracer ----------------------------------------------------------------
TRACERS = ("blk", "function", "nop")  # available_tracers on Linux 6.18


@pytest.mark.parametrize(("buf", "answer"), [
    (b"nop\n", "nop"), (b"  nop  ", "nop"), (b"blk", "blk"),
    (b"nop" + b" " * 200, "nop"),  # 203 bytes: only 100 are read
    (b"nop" + b" " * 97 + b"x", "nop"),  # the x is the 101st byte
    (b"nop\0x", "nop"),
    (b"nop" + b" " * 96 + b"x", "EINVAL"),
    (b"bogus", "EINVAL"), (b"", "EINVAL"), (b"\n", "EINVAL"), (b"nop x", "EINVAL"),
    (b"x" * 200, "EINVAL"),
])
def test_current_tracer_writes(buf, answer):
    if answer == "EINVAL":
        assert _errno(parse_tracer, buf, TRACERS) == errno.EINVAL
    else:
        assert parse_tracer(buf, TRACERS) == answer


# -- saved_cmdlines_size, saved_cmdlines, saved_tgids --------------------------------
# (write to saved_cmdlines_size, the kernel's answer, what it read back)
SAVED_CMDLINES_SIZE_WRITES = [
    (b"1", 1, 6552), (b"128", 3, 6552), (b"6552", 4, 6552), (b"6553", 4, 19659),
    (b"32768", 5, 45874), (b"5\n", 2, 6552), (b"+7", 2, 6552), (b"1000", 4, 6552),
    (b"0", "EINVAL", None), (b"32769", "EINVAL", None), (b"x", "EINVAL", None),
    (b" 5\n", "EINVAL", None), (b"-1", "EINVAL", None), (b"", "EINVAL", None),
    (b"100000000000000000000", "ERANGE", None),
]


@pytest.mark.parametrize(("buf", "answer", "size"), SAVED_CMDLINES_SIZE_WRITES)
def test_saved_cmdlines_size_writes(buf, answer, size):
    saved = SavedCmdlines()
    assert saved.render_size() == "6552\n"  # the boot size, 128, rounded up to its pages
    if isinstance(answer, str):
        assert _errno(saved.write_size, buf) == getattr(errno, answer)
        assert saved.render_size() == "6552\n"
    else:
        assert saved.write_size(buf) == answer
        assert saved.render_size() == f"{size}\n"


def test_capacity_rounds_up_to_whole_pages():
    assert SAVED_CMDLINES_DEFAULT == cmdlines_capacity(128) == 6552
    assert [cmdlines_capacity(n) for n in (1, 6552, 6553, 19659, 19660, 32768)] == [
        6552, 6552, 19659, 19659, 45874, 45874]


def test_saved_cmdlines_slots():
    saved = SavedCmdlines()
    assert saved.render() == ""
    saved.record(0, "swapper/0")  # the idle task is never saved
    saved.record(2670, "python")
    saved.record(4748, "bash")
    saved.record(2670, "python3")  # a pid keeps its slot
    assert saved.render() == "2670 python3\n4748 bash\n"
    assert (saved.find(0), saved.find(4748), saved.find(99)) == ("<idle>", "bash", "<...>")
    saved.record(4748 + 0x8000, "clash")  # same slot index: it takes over the slot
    assert saved.find(4748) == "<...>"
    assert saved.render() == "2670 python3\n37516 clash\n"
    saved.record(7, "a-very-long-command-name")
    assert saved.find(7) == "a-very-long-com"  # TASK_COMM_LEN - 1
    saved.write_size(b"1")
    assert saved.render() == ""  # a resize starts afresh


def test_saved_cmdlines_wrap_round_the_ring():
    saved = SavedCmdlines()
    for pid in range(1, SAVED_CMDLINES_DEFAULT + 2):
        saved.record(pid, f"t{pid}")
    lines = saved.render().splitlines()
    # slot 0 is filled last, by the 6552nd pid; the 6553rd took slot 1 from pid 1
    assert lines[:2] == ["6552 t6552", "6553 t6553"]
    assert len(lines) == SAVED_CMDLINES_DEFAULT
    assert saved.find(1) == "<...>"


def test_saved_tgids():
    tgids = SavedTgids()
    assert tgids.render() == ""  # Linux 6.18 at boot: record-tgid is off, the list empty
    tgids.record(20, 10)
    tgids.record(3, 3)
    tgids.record(0, 0)
    assert tgids.render() == "3 3\n20 10\n"


# -- printk_formats --------------------------------------------------------------------
def test_printk_formats_lines():
    # A line of Linux 6.18's printk_formats: ``0xffffffff8281942f : "thaw_processes"``.
    assert render_printk_formats([(0xFFFFFFFF8281942F, "thaw_processes")]) == \
        '0xffffffff8281942f : "thaw_processes"\n'
    assert render_printk_formats([(0x10, 'a\tb "c" \\d\n')]) == \
        '0x10 : "a\\tb \\"c\\" \\d\\n"\n'
    assert render_printk_formats([]) == ""


# -- tracing_thresh, tracing_max_latency ----------------------------------------------------
# (write to tracing_thresh, the kernel's answer, what it read back)
TRACING_THRESH_WRITES = [
    (b"100", 3, "100\n"), (b"1", 1, "1\n"), (b"0", 1, "0\n"), (b"5\n", 2, "5\n"),
    (b"+3", 2, "3\n"),
    (b"18446744073709551615", 20, "18446744073709550\n"),  # times 1000, wrapped
    (b"18446744073709551", 17, "18446744073709551\n"),
    (b"x", "EINVAL", "0\n"), (b" 5", "EINVAL", "0\n"), (b"-1", "EINVAL", "0\n"),
]


@pytest.mark.parametrize(("buf", "answer", "shown"), TRACING_THRESH_WRITES)
def test_tracing_thresh_writes(buf, answer, shown):
    thresh = Nsecs()
    assert thresh.render() == "0\n"
    if isinstance(answer, str):
        assert _errno(thresh.write, buf) == getattr(errno, answer)
    else:
        assert thresh.write(buf) == answer
    assert thresh.render() == shown


# -- set_ftrace_pid, set_ftrace_filter (from the kernel's source: EPERM here) ----------------
def test_ftrace_pids():
    pids = FtracePids()
    assert pids.render() == "no pid\n"
    assert pids.write(b"12 3\n") == 5
    assert pids.write(b"0x10") == 4
    assert pids.render() == "3\n12\n16\n"
    assert _errno(pids.write, b"4 x") == errno.EINVAL
    assert _errno(pids.write, b"4 1073741824") == errno.EPERM
    assert pids.render() == "3\n12\n16\n"  # all or none
    pids.clear()
    assert pids.render() == "no pid\n"


def test_function_filters():
    filt, notrace = FunctionFilter(), FunctionFilter(notrace=True)
    assert filt.render() == "#### all functions enabled ####\n"
    assert notrace.render() == "#### no functions disabled ####\n"
    assert filt.write(b"schedule vfs_read\n") == 18
    assert filt.write(b"vfs_read do_idle.isra.0") == 23
    assert filt.render() == "schedule\nvfs_read\ndo_idle.isra.0\n"
    assert filt.write(b"!vfs_*") == 6
    assert filt.render() == "schedule\ndo_idle.isra.0\n"
    for bad in (b"sched*", b"!nothing", b"do_fault:traceoff", b":mod:ext3", b"9abc"):
        assert _errno(filt.write, bad) == errno.EINVAL
    assert _errno(filt.write, b"a_fn sched* b_fn") == errno.EINVAL
    assert filt.render() == "schedule\ndo_idle.isra.0\na_fn\n"  # the words before it stay
    filt.clear()
    assert filt.render() == "#### all functions enabled ####\n"
