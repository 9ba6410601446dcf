"""Syscall events as the kernel's ``trace`` prints them, not by their format.

The kernel prints ``syscalls:sys_enter_NAME`` and ``sys_exit_NAME`` through
the syscall tracer's own output functions (``print_syscall_enter``,
``print_syscall_exit``), not through the print fmt their ``format`` shows:
``sys_NAME(ARG: VALUE, ...)`` for an entry, each value decimal below 10 and
``0x`` hex from there, and ``sys_NAME -> 0xRET`` for an exit, the return value
as an unsigned long. The decimal-below-10 rule is upstream's
``print_syscall_enter`` in ``kernel/trace/trace_syscalls.c`` since its
arguments stopped printing as bare ``%lx`` (``if (trace->args[i] < 10)
"%s: %lu" else "%s: 0x%lx"``, with ``", "`` put before every argument but
the first); this machine's 6.18.44 prints so. So a line of ``trace`` reads ``sys_getppid()``, not
``sys_enter_getppid: ``. (trace-cmd and perf print the records with their own
libtraceevent, through the print fmt, as they do on the kernel.)

``syscall_spec`` describes the same text once per format for ``_render.c``,
which prints the records itself (``Printer.add_event`` keeps the specs);
``syscall_text`` stays the reference the tests compare the native lines with.
"""

from __future__ import annotations

import struct

from .field import EventField
from .record import COMMON_FIELD_NAMES, layout

SYSCALL_SYSTEM = "syscalls"
_ENTER, _EXIT = "sys_enter_", "sys_exit_"
#: The field before the arguments (or the return value): the syscall's number.
_NR = "__syscall_nr"


#: The forms of ``syscall_spec``: an entry's arguments (below 10 in decimal, else
#: hex) or an exit's return value (always hex); ``_render.c``'s kinds of body.
ENTER_FORM, EXIT_FORM = 3, 4
#: The field kinds and the widest size ``_render.c`` reads a value of (``span`` is
#: the field's offset and size for both, and 8 bytes fit an unsigned long long).
_NATIVE_KINDS = frozenset(("scalar", "array"))
_NATIVE_SIZE = 8


def _value(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _fields(fmt: str) -> tuple[str, list[EventField]]:
    """The event's name and the fields it prints: those after ``__syscall_nr``."""
    event = layout(fmt)
    return event.name, [f for f in event.fields[len(COMMON_FIELD_NAMES):] if f.name != _NR]


def _text(raw: str) -> bytes:
    data = raw.encode("utf-8", "surrogateescape")
    return struct.pack("<H", len(data)) + data


def syscall_text(record: bytes, fmt: str) -> str | None:
    """The line's text for a record of a syscall event with format ``fmt``, newline
    included; None for an event that is not a syscall's entry or exit."""
    event_name, fields = _fields(fmt)
    if event_name.startswith(_ENTER):
        name = "sys_" + event_name[len(_ENTER):]
        args = ", ".join(
            f"{f.name}: {v}" if (v := _value(f.data(record))) < 10 else f"{f.name}: {v:#x}"
            for f in fields)
        return f"{name}({args})\n"
    if event_name.startswith(_EXIT) and len(fields) == 1:
        return f"sys_{event_name[len(_EXIT):]} -> {_value(fields[0].data(record)):#x}\n"
    return None


def syscall_spec(fmt: str) -> tuple[int, bytes] | None:
    """What ``_render.c`` needs to print ``syscall_text`` of a format's records:
    ``(ENTER_FORM or EXIT_FORM, spec)``, or None for an event whose text it
    leaves to ``syscall_text`` (not an entry or exit, or a field not a value
    of 0 to 8 bytes in the record's fixed part). The spec is the text before
    the values (``u16`` length, then UTF-8), the text after them, the count
    of values (``u16``) and, for each, its offset and size (``u16`` each) and
    the text before it (``", NAME: "``)."""
    name, fields = _fields(fmt)
    if name.startswith(_ENTER):
        form, head, tail = ENTER_FORM, f"sys_{name[len(_ENTER):]}(", ")\n"
        labels = [f"{', ' if i else ''}{f.name}: " for i, f in enumerate(fields)]
    elif name.startswith(_EXIT) and len(fields) == 1:
        form, head, tail, labels = EXIT_FORM, f"sys_{name[len(_EXIT):]} -> ", "\n", [""]
    else:
        return None
    if any(f.kind not in _NATIVE_KINDS or not 0 <= f.size <= _NATIVE_SIZE
           or f.offset > 0xFFFF for f in fields):
        return None
    spec = _text(head) + _text(tail) + struct.pack("<H", len(fields))
    for f, label in zip(fields, labels, strict=True):
        spec += struct.pack("<HH", f.offset, f.size) + _text(label)
    return form, spec
