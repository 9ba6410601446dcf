"""The embedded kernel facts against the live kernel's tracefs (root only).

The README, the ``events/ftrace`` directories (listing, files, ids, formats),
the option names (``trace_options`` for the current tracer, ``options/``),
``available_tracers``, the modes, and the parsing of ``trace_options`` and
``options/NAME`` writes must be this kernel's. Skipped unless root on a kernel
whose tracefs mounts; on another kernel version a failure here means the
embedded data is that of the reference kernel (Linux 6.18), not this one's.
Every option is put back as it was.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat.kernel import kernel_tracefs, write

from tpfs.kernel.errors import TpfsError
from tpfs.tracefs.events import ftrace_events
from tpfs.tracefs.trace import ftrace_settings, howto, options, settings


@pytest.fixture
def kref(tmp_path: Path) -> Iterator[Path]:
    with kernel_tracefs(tmp_path) as mnt:
        yield mnt


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_readme(kref):
    assert (kref / "README").read_text() == howto.readme_text()
    assert _mode(kref / "README") == howto.MODE_README


def test_ftrace_events(kref):
    edir = kref / "events" / "ftrace"
    assert os.listdir(edir) == [e.name for e in ftrace_events.ftrace_events()]
    for event in ftrace_events.ftrace_events():
        d = edir / event.name
        assert tuple(os.listdir(d)) == event.files, event.name
        assert (d / "format").read_text() == event.format
        assert _mode(d) == ftrace_events.MODE_DIR
        assert _mode(d / "format") == ftrace_events.MODE_FORMAT
        if "id" in event.files:
            assert (d / "id").read_text() == f"{event.id}\n"


def test_option_names_and_modes(kref):
    tracer = (kref / "current_tracer").read_text().strip()
    opts = options.TraceOptions(current_tracer=lambda: tracer)
    listed = [line.removeprefix("no") for line in (kref / "trace_options").read_text().split()]
    assert listed == [o.name for o in opts.listed()]
    assert os.listdir(kref / "options") == list(options.OPTIONS_DIR_ORDER)
    assert _mode(kref / "trace_options") == options.MODE_TRACE_OPTIONS
    assert _mode(kref / "options") == options.MODE_OPTIONS_DIR
    assert all(_mode(kref / "options" / n) == options.MODE_OPTION_FILE
               for n in options.OPTIONS_DIR_ORDER)


def test_top_level_files(kref):
    assert (kref / "available_tracers").read_text() == " ".join(settings.TRACERS) + "\n"
    for name, mode in ftrace_settings.MODES.items():
        if (kref / name).exists():  # tracing_max_latency needs the latency tracers
            assert _mode(kref / name) == mode, name
    size = int((kref / "saved_cmdlines_size").read_text())
    assert ftrace_settings.cmdlines_capacity(size) == size


WRITES = [b"sym-offset", b"  nosym-offset \n", b"sym-offset sym-addr", b"bogus", b"no",
          b"\n", b"sym-offset\0x", b"sym-offset" + b" " * 54, b"test_nop_refuse",
          b"func_stack_trace"]
FILE_WRITES = [b"1", b"0\n", b" 1", b"2", b"x", b"+1", b"1\n\n", b"0" * 66 + b"1",
               b"18446744073709551617"]


def _kernel(path: Path, buf: bytes) -> int | str:
    try:
        return write(path, buf)
    except OSError as exc:
        return errno.errorcode[exc.errno]


def _model(method, *args) -> int | str:
    try:
        return method(*args)
    except TpfsError as exc:
        return errno.errorcode[exc.errno]


def test_writes_parse_as_the_kernel_parses_them(kref):
    saved = {n: (kref / "options" / n).read_text() for n in ("sym-offset", "sym-addr")}
    tracer = (kref / "current_tracer").read_text().strip()
    try:
        for buf in WRITES:
            opts = options.TraceOptions(current_tracer=lambda: tracer)
            opts.values["sym-offset"] = (kref / "options/sym-offset").read_text() == "1\n"
            got = _kernel(kref / "trace_options", buf)
            assert got == _model(opts.write_trace_options, buf), buf
            assert (kref / "options/sym-offset").read_text() == \
                opts.option_file_render("sym-offset"), buf
        for buf in FILE_WRITES:
            opts = options.TraceOptions()
            write(kref / "options/sym-offset", "0")
            got = _kernel(kref / "options/sym-offset", buf)
            assert got == _model(opts.option_file_write, "sym-offset", buf), buf
            assert (kref / "options/sym-offset").read_text() == \
                opts.option_file_render("sym-offset"), buf
    finally:
        for name, value in saved.items():
            write(kref / "options" / name, value)
