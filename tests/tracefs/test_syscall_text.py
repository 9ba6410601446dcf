"""Syscall events printed as the kernel's ``trace`` prints them (``print_syscall_enter``,
``print_syscall_exit``), from formats as this kernel writes them."""

from __future__ import annotations

from tpfs.tracefs.trace.printer import Printer
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.syscall_text import syscall_spec
from tpfs.tracefs.trace.trace import TraceArray, TracePipe

COMMON = ("\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
          "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
          "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
          "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
          "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n")
ENTER = ("name: sys_enter_getpriority\nID: 900\nformat:\n" + COMMON
         + "\tfield:int which;\toffset:16;\tsize:8;\tsigned:0;\n"
         "\tfield:int who;\toffset:24;\tsize:8;\tsigned:0;\n\n"
         'print fmt: "which: 0x%08lx, who: 0x%08lx", ((unsigned long)(REC->which)), '
         "((unsigned long)(REC->who))\n")
EXIT = ("name: sys_exit_getpriority\nID: 901\nformat:\n" + COMMON
        + "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n\n"
        'print fmt: "0x%lx", REC->ret\n')
NOARGS = ("name: sys_enter_getppid\nID: 902\nformat:\n" + COMMON
          + '\nprint fmt: "", \n')


def printed(fmt: str, **values: int) -> str:
    printer = Printer()
    printer.add_event("syscalls", fmt)
    record = layout(fmt).encode(values, pid=42)
    return printer.line(record, cpu=1, ts=5_000_000, comm="caller")


def test_an_entry_prints_its_arguments_small_ones_in_decimal() -> None:
    assert printed(ENTER, which=0, who=9).endswith(": sys_getpriority(which: 0, who: 9)\n")
    assert printed(ENTER, which=1, who=10).endswith(
        ": sys_getpriority(which: 1, who: 0xa)\n")
    assert printed(NOARGS).endswith("  0.005000: sys_getppid()\n")


def test_an_exit_prints_its_return_value_unsigned() -> None:
    assert printed(EXIT, ret=20).endswith(": sys_getpriority -> 0x14\n")
    assert printed(EXIT, ret=-3).endswith(": sys_getpriority -> 0xfffffffffffffffd\n")


STRING_ARG = ("name: sys_enter_unlink\nID: 903\nformat:\n" + COMMON
              + "\tfield:const char * pathname;\toffset:16;\tsize:8;\tsigned:0;\n"
              "\tfield:__data_loc char[] pathname_val;\toffset:24;\tsize:4;\tsigned:0;\n\n"
              'print fmt: "pathname: 0x%08lx", ((unsigned long)(REC->pathname))\n')


def piped_and_reference(fmt: str, **values: int | str) -> tuple[str, str]:
    """The line ``trace_pipe`` makes natively, and ``Printer.line``'s, of one record."""
    trace = TraceArray(Tracing(ncpus=1))
    trace.record(0, layout(fmt).encode(values, pid=42), "caller", "syscalls", fmt, ts=5000)
    event = next(trace.buffer.events())
    return TracePipe(trace, None).read(8191).decode(), trace.line(event)


def test_only_values_in_the_record_are_printed_natively() -> None:
    """A dynamic field (as a syscall's string copied from user space) has no
    native spec: the line comes from ``syscall_text``, the same in ``trace_pipe``."""
    assert syscall_spec(ENTER) is not None and syscall_spec(EXIT) is not None
    assert syscall_spec(STRING_ARG) is None
    got, reference = piped_and_reference(STRING_ARG, pathname=10, pathname_val="/tmp")
    assert got == reference and "sys_unlink(pathname: 0xa, pathname_val: 0x" in got
    got, reference = piped_and_reference(ENTER, which=9, who=10)
    assert got == reference and got.endswith(": sys_getpriority(which: 9, who: 0xa)\n")
