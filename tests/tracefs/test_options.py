"""The trace options against what Linux 6.18's tracefs showed and answered.

Every expectation here was read from the reference kernel's tracefs (Linux
6.18, ``nop`` tracer) by hand: its ``trace_options``, ``ls -f options``, and
the errno of each write.
"""

from __future__ import annotations

import errno

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.tracefs.trace.options import (
    MODE_OPTION_FILE,
    MODE_OPTIONS_DIR,
    MODE_TRACE_OPTIONS,
    OPTIONS,
    TraceOptions,
    kstrtoul_from_user,
)

# ``cat trace_options`` at boot, nop tracer (Linux 6.18).
KERNEL_TRACE_OPTIONS = """\
print-parent
nosym-offset
nosym-addr
noverbose
noraw
nohex
nobin
noblock
nofields
trace_printk
annotate
nouserstacktrace
nosym-userobj
noprintk-msg-only
context-info
nolatency-format
record-cmd
norecord-tgid
overwrite
nodisable_on_free
irq-info
markers
noevent-fork
trace_printk_dest
copy_trace_marker
nopause-on-trace
hash-ptr
function-trace
nofunction-fork
nostacktrace
notest_nop_accept
notest_nop_refuse
"""

# ``ls -f options`` (Linux 6.18).
KERNEL_OPTIONS_DIR = [
    "blk_cgname", "blk_cgroup", "blk_classic", "test_nop_refuse", "test_nop_accept",
    "func-no-repeats", "func_stack_trace", "stacktrace", "function-fork", "function-trace",
    "hash-ptr", "pause-on-trace", "copy_trace_marker", "trace_printk_dest", "event-fork",
    "markers", "irq-info", "disable_on_free", "overwrite", "record-tgid", "record-cmd",
    "latency-format", "context-info", "printk-msg-only", "sym-userobj", "userstacktrace",
    "annotate", "trace_printk", "fields", "block", "bin", "hex", "raw", "verbose", "sym-addr",
    "sym-offset", "print-parent",
]


def _errno(fn, *args) -> int:
    with pytest.raises(TpfsError) as exc:
        fn(*args)
    return exc.value.errno


def test_trace_options_at_boot_as_the_kernel_lists_them():
    assert TraceOptions().render_trace_options() == KERNEL_TRACE_OPTIONS


def test_options_dir_in_the_kernels_readdir_order():
    assert list(TraceOptions().names()) == KERNEL_OPTIONS_DIR
    assert sorted(OPTIONS) == sorted(KERNEL_OPTIONS_DIR)


def test_modes():
    assert (MODE_TRACE_OPTIONS, MODE_OPTIONS_DIR, MODE_OPTION_FILE) == (0o640, 0o750, 0o640)


def test_option_files_show_0_or_1():
    opts = TraceOptions()
    assert opts.option_file_render("print-parent") == "1\n"
    assert opts.option_file_render("sym-offset") == "0\n"
    assert opts.option_file_render("func_stack_trace") == "0\n"
    assert _errno(opts.option_file_render, "bogus") == errno.ENOENT
    assert _errno(opts.option_file_write, "bogus", b"1") == errno.ENOENT


# (write to trace_options, the count or errno the kernel answered, sym-offset after)
TRACE_OPTIONS_WRITES = [
    (b"sym-offset", 10, True),
    (b"  sym-offset  \n", 15, True),
    (b"\tsym-offset\t", 12, True),
    (b"sym-offset\n\n", 12, True),
    (b"sym-offset\0junk", 15, True),  # cut at the NUL
    (b"sym-offset" + b" " * 53, 63, True),  # 63 bytes: still fits
    (b"nosym-offset\x0b", 13, False),
    (b"sym-offset" + b" " * 54, "EINVAL", False),  # 64 bytes: too long
    (b"sym-offset sym-addr", "EINVAL", False),
    (b"nosym-offset\nnosym-addr\n", "EINVAL", False),
    (b"no sym-offset", "EINVAL", False),
    (b"bogus", "EINVAL", False),
    (b"nobogus", "EINVAL", False),
    (b"NOSYM-OFFSET", "EINVAL", False),
    (b"no", "EINVAL", False),
    (b"", "EINVAL", False),
    (b"\n", "EINVAL", False),
    (b"   ", "EINVAL", False),
    (b"func_stack_trace", "EINVAL", False),  # the function tracer's, not nop's
    (b"nofunc_stack_trace", "EINVAL", False),
    (b"blk_classic", "EINVAL", False),
    (b"test_nop_refuse", "EINVAL", False),  # nop refuses it, set or cleared
    (b"notest_nop_refuse", "EINVAL", False),
]


@pytest.mark.parametrize(("buf", "answer", "sym_offset"), TRACE_OPTIONS_WRITES)
def test_trace_options_writes(buf, answer, sym_offset):
    opts = TraceOptions()
    if isinstance(answer, str):
        assert _errno(opts.write_trace_options, buf) == getattr(errno, answer)
    else:
        assert opts.write_trace_options(buf) == answer
    assert opts["sym-offset"] is sym_offset
    assert opts.render_trace_options().count("\n") == 32


def test_trace_options_sets_and_clears_from_either_place():
    opts = TraceOptions()
    opts.write_trace_options(b"nooverwrite")
    assert opts.option_file_render("overwrite") == "0\n"
    assert "\nnooverwrite\n" in opts.render_trace_options()
    opts.option_file_write("overwrite", b"1\n")
    assert "\noverwrite\n" in opts.render_trace_options()
    opts.write_trace_options(b"test_nop_accept")
    assert opts.render_trace_options().endswith("test_nop_accept\nnotest_nop_refuse\n")
    opts.write_trace_options(b"notest_nop_accept")
    assert opts["test_nop_accept"] is False


# (write to options/sym-offset, the count or errno the kernel answered, sym-offset after)
OPTION_FILE_WRITES = [
    (b"1", 1, True),
    (b"0", 1, False),
    (b"1\n", 2, True),
    (b"01", 2, True),
    (b"+1", 2, True),
    (b"1\0", 2, True),
    (b"1\n\0", 3, True),
    (b"0" * 65 + b"1", 66, True),  # 66 bytes are read
    (b"0" * 66 + b"1", 67, False),  # the 67th is not: all zeros
    (b" 1\n", "EINVAL", False),
    (b"1 ", "EINVAL", False),
    (b"1\t", "EINVAL", False),
    (b"1 \n", "EINVAL", False),
    (b"1\n\n", "EINVAL", False),
    (b"1\nxxxxxxxxxx", "EINVAL", False),
    (b"\x001", "EINVAL", False),
    (b"2", "EINVAL", False),
    (b"10", "EINVAL", False),
    (b"x", "EINVAL", False),
    (b"", "EINVAL", False),
    (b"\n", "EINVAL", False),
    (b"-0", "EINVAL", False),
    (b"-1", "EINVAL", False),
    (b"0x1", "EINVAL", False),
    (b"1" + b"x" * 40, "EINVAL", False),
    (b"18446744073709551617", "ERANGE", False),
]


@pytest.mark.parametrize(("buf", "answer", "value"), OPTION_FILE_WRITES)
def test_option_file_writes(buf, answer, value):
    opts = TraceOptions()
    if isinstance(answer, str):
        assert _errno(opts.option_file_write, "sym-offset", buf) == getattr(errno, answer)
    else:
        assert opts.option_file_write("sym-offset", buf) == answer
    assert opts["sym-offset"] is value


def test_tracer_options_through_their_files_whichever_tracer_is_current():
    opts = TraceOptions()
    for name in ("test_nop_accept", "func_stack_trace", "blk_classic", "func-no-repeats"):
        assert opts.option_file_write(name, b"1") == 1
        assert opts.option_file_render(name) == "1\n"
        assert opts.option_file_write(name, b"0") == 1
    # nop refuses a change of test_nop_refuse; writing the value it has is a no-op
    assert _errno(opts.option_file_write, "test_nop_refuse", b"1") == errno.EINVAL
    assert opts.option_file_write("test_nop_refuse", b"0") == 1
    assert opts["test_nop_refuse"] is False


def test_trace_printk_dest_cannot_be_cleared_on_the_top_instance():
    opts = TraceOptions()
    assert _errno(opts.option_file_write, "trace_printk_dest", b"0") == errno.EINVAL
    assert _errno(opts.write_trace_options, b"notrace_printk_dest") == errno.EINVAL
    assert opts.write_trace_options(b"trace_printk_dest") == 17
    assert opts.option_file_write("trace_printk_dest", b"1") == 1
    assert opts["trace_printk_dest"] is True
    assert TraceOptions(top_level=False).option_file_write("trace_printk_dest", b"0") == 1


def test_every_core_option_toggles_from_its_file():
    # Linux 6.18: each core flag flipped through options/NAME and back answered 1,
    # except trace_printk_dest (EINVAL when cleared).
    opts = TraceOptions()
    for line in KERNEL_TRACE_OPTIONS.split()[:30]:
        on = not line.startswith("no")
        name = line if on else line[2:]
        if name == "trace_printk_dest":
            continue
        assert opts.option_file_write(name, b"0" if on else b"1") == 1
        assert opts[name] is not on
        assert opts.option_file_write(name, b"1" if on else b"0") == 1
    assert opts.render_trace_options() == KERNEL_TRACE_OPTIONS


def test_trace_options_show_the_current_tracers_options():
    tracer = "blk"
    opts = TraceOptions(current_tracer=lambda: tracer)
    # Linux 6.18 with current_tracer=blk: trace_options ends with the blk options.
    assert opts.render_trace_options().split()[-6:] == [
        "function-trace", "nofunction-fork", "nostacktrace",
        "noblk_classic", "noblk_cgroup", "noblk_cgname"]
    assert opts.write_trace_options(b"blk_cgroup") == 10
    assert _errno(opts.write_trace_options, b"test_nop_accept") == errno.EINVAL
    tracer = "nop"
    assert opts.render_trace_options() == KERNEL_TRACE_OPTIONS
    assert opts["blk_cgroup"] is True


def test_listeners_see_changes_and_may_refuse_them():
    opts = TraceOptions()
    seen: list[tuple[str, bool]] = []
    opts.subscribe("overwrite", lambda v: seen.append(("overwrite", v)))
    opts.subscribe("record-tgid", lambda v: seen.append(("record-tgid", v)))
    opts.write_trace_options(b"nooverwrite")
    opts.write_trace_options(b"nooverwrite")  # unchanged: nobody is told
    opts.option_file_write("record-tgid", b"1")
    opts.option_file_write("overwrite", b"1")
    assert seen == [("overwrite", False), ("record-tgid", True), ("overwrite", True)]

    def refuse(value: bool) -> None:
        raise TpfsError(errno.ENOMEM, "no room")

    opts.subscribe("markers", refuse)
    assert _errno(opts.option_file_write, "markers", b"0") == errno.ENOMEM
    assert opts["markers"] is True
    with pytest.raises(KeyError):
        opts.subscribe("bogus", refuse)


def test_kstrtoul_from_user():
    assert kstrtoul_from_user(b"18446744073709551615") == (1 << 64) - 1
    with pytest.raises(TpfsError) as exc:
        kstrtoul_from_user(b"18446744073709551616")
    assert exc.value.errno == errno.ERANGE
