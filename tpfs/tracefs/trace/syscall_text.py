"""Syscall events as the kernel's ``trace`` prints them, not by their format.

The kernel prints ``syscalls:sys_enter_NAME`` and ``sys_exit_NAME`` through
the syscall tracer's own output functions (``print_syscall_enter``,
``print_syscall_exit``), not through the print fmt their ``format`` shows:
``sys_NAME(ARG: VALUE, ...)`` for an entry, each value decimal below 10 and
``0x`` hex from there, and ``sys_NAME -> 0xRET`` for an exit, the return value
as an unsigned long. So a line of ``trace`` reads ``sys_getppid()``, not
``sys_enter_getppid: ``. (trace-cmd and perf print the records with their own
libtraceevent, through the print fmt, as they do on the kernel.)
"""

from __future__ import annotations

from .record import COMMON_FIELD_NAMES, layout

SYSCALL_SYSTEM = "syscalls"
_ENTER, _EXIT = "sys_enter_", "sys_exit_"
#: The field before the arguments (or the return value): the syscall's number.
_NR = "__syscall_nr"


def _value(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def syscall_text(record: bytes, fmt: str) -> str | None:
    """The line's text for a record of a syscall event with format ``fmt``, newline
    included; None for an event that is not a syscall's entry or exit."""
    event = layout(fmt)
    fields = [f for f in event.fields[len(COMMON_FIELD_NAMES):] if f.name != _NR]
    if event.name.startswith(_ENTER):
        name = "sys_" + event.name[len(_ENTER):]
        args = ", ".join(
            f"{f.name}: {v}" if (v := _value(f.data(record))) < 10 else f"{f.name}: {v:#x}"
            for f in fields)
        return f"{name}({args})\n"
    if event.name.startswith(_EXIT) and len(fields) == 1:
        return f"sys_{event.name[len(_EXIT):]} -> {_value(fields[0].data(record)):#x}\n"
    return None
