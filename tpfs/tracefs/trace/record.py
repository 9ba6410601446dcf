"""Binary event records laid out exactly as an event's ``format`` text says.

``layout(fmt)`` parses a format once (cached per text) into a ``Layout``;
``Layout.encode`` builds the record a probe would write into the ring
buffer: the common header (``common_type`` = the event's id, flags,
preempt count, pid), then the event's fields, then the data of its dynamic
fields (``__data_loc``: a u32 ``length << 16 | offset``; ``__rel_loc``: the
offset counts from the end of the field), padded to 4 bytes as the ring
buffer pads payloads. ``encode_print`` builds a ``trace_marker`` record
(``ftrace:print``) as ``tracing_mark_write`` does, ``encode_stack`` a
``stacktrace`` trigger's (``ftrace:kernel_stack``) as ``__ftrace_trace_stack``
does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .field import EventField, parse_fields
from .field import Value as Value  # what a field takes, re-exported for the encoders

#: ``events/ftrace/print/format`` of the reference kernel (Linux 6.18, read
#: from its tracefs): the embedded catalogue leaves out the ftrace events.
#: The event a ``trace_marker`` write records.
#: The system that synthetic events live in (``SYNTH_SYSTEM``).
SYNTH_SYSTEM = "synthetic"
PRINT_EVENT = "ftrace:print"
PRINT_FORMAT = (
    "name: print\nID: 5\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n"
    "\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n"
    "\n"
    'print fmt: "%ps: %s", (void *)REC->ip, REC->buf\n'
)
PRINT_ID = 5
KERNEL_STACK_ID = 4
#: ``events/ftrace/kernel_stack/format`` of the same kernel. Its records are
#: as long as their stack: ``size`` entries, not the eight the format shows.
KERNEL_STACK_FORMAT = (
    "name: kernel_stack\nID: 4\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:int size;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:unsigned long caller[8];\toffset:16;\tsize:64;\tsigned:0;\n"
    "\n"
    'print fmt: "\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n" "\\t=> %ps\\n\\t=> %ps\\n\\t=> %ps\\n" '
    '"\\t=> %ps\\n\\t=> %ps\\n", (void *)REC->caller[0], (void *)REC->caller[1], '
    "(void *)REC->caller[2], (void *)REC->caller[3], (void *)REC->caller[4], "
    "(void *)REC->caller[5], (void *)REC->caller[6], (void *)REC->caller[7]\n"
)
KERNEL_STACK_ENTRIES = 8


#: The fields every event begins with, in order.
COMMON_FIELD_NAMES = ("common_type", "common_flags", "common_preempt_count", "common_pid")


@dataclass(frozen=True, slots=True)
class Layout:
    """An event's record layout: its name, id and fields in format order."""

    name: str
    id: int
    fields: tuple[EventField, ...]
    #: Bytes before the dynamic data: the end of the last field, rounded up
    #: to the struct's alignment as the C struct's size is.
    fixed_size: int
    by_name: Mapping[str, EventField] = field(repr=False, compare=False)

    def encode(self, values: Mapping[str, Value] | None = None, *, pid: int = 0,
               flags: int = 0, preempt_count: int = 0, event_id: int | None = None) -> bytes:
        """The record for ``values`` (field name → int, or str/bytes for arrays and
        dynamic fields); fields not given are zero or empty."""
        values = dict(values or {})
        for name in values:
            if name not in self.by_name or name in COMMON_FIELD_NAMES:
                raise ValueError(f"{self.name}: no field {name!r} to set")
        values.update(common_type=self.id if event_id is None else event_id,
                      common_flags=flags, common_preempt_count=preempt_count, common_pid=pid)
        record = bytearray(self.fixed_size)
        tail = bytearray()
        for f in self.fields:
            value = values.get(f.name)
            if f.kind == "scalar":
                record[f.offset:f.offset + f.size] = f.scalar(0 if value is None else value)
            elif f.kind == "array":
                if value is not None:
                    record[f.offset:f.offset + f.size] = f.array(value)
            elif f.kind == "tail":
                tail += b"" if value is None else f.dynamic(value)
            else:
                data = (b"\0" if f.is_text else b"") if value is None else f.dynamic(value)
                start = self.fixed_size + len(tail)
                where = start - (f.offset + f.size) if f.type.startswith("__rel_loc") else start
                if len(data) > 0xFFFF or where > 0xFFFF:
                    raise ValueError(f"field {self.name}: {len(data)} bytes are too long")
                record[f.offset:f.offset + 4] = (len(data) << 16 | where).to_bytes(4, "little")
                tail += data
        record += tail
        return bytes(record.ljust(-(-len(record) // 4) * 4, b"\0"))


@lru_cache(maxsize=4096)
def layout(fmt: str) -> Layout:
    """Parse an event's ``format`` text (cached per text)."""
    name, event_id = "", 0
    for line in fmt.splitlines():
        if line.startswith("name: "):
            name = line[6:].strip()
        elif line.startswith("ID: "):
            event_id = int(line[4:])
        elif line.startswith("print fmt:"):
            break
    fields = parse_fields(fmt)
    by_name = {f.name: f for f in fields}
    missing = [c for c in COMMON_FIELD_NAMES if c not in by_name]
    if missing:
        raise ValueError(f"format of {name!r} lacks {', '.join(missing)}")
    end = max(f.offset + f.size for f in fields)
    align = max(f.align for f in fields)
    return Layout(name, event_id, fields, -(-end // align) * align, by_name)


def encode_print(text: str | bytes, *, ip: int = 0, pid: int = 0, flags: int = 0,
                 preempt_count: int = 0) -> bytes:
    """A ``trace_marker`` record: header, ip, the text with a ``\\n`` added if
    missing, a NUL; sized as ``tracing_mark_write`` reserves it (text + 2)."""
    raw = text.encode() if isinstance(text, str) else text
    body = raw if raw.endswith(b"\n") else raw + b"\n"
    record = layout(PRINT_FORMAT).encode({"ip": ip, "buf": body + b"\0"}, pid=pid, flags=flags,
                                         preempt_count=preempt_count)
    return record.ljust(-(-(16 + len(raw) + 2) // 4) * 4, b"\0")


def encode_stack(callers: Sequence[int] = (), *, pid: int = 0, flags: int = 0,
                 preempt_count: int = 0) -> bytes:
    """A ``kernel_stack`` record of up to eight return addresses, sized as
    ``__ftrace_trace_stack`` reserves it: the header, ``size``, then the callers."""
    if len(callers) > KERNEL_STACK_ENTRIES:
        raise ValueError(f"a kernel_stack record holds {KERNEL_STACK_ENTRIES} callers")
    calls = b"".join(c.to_bytes(8, "little") for c in callers)
    record = layout(KERNEL_STACK_FORMAT).encode({"size": len(callers), "caller": calls}, pid=pid,
                                                flags=flags, preempt_count=preempt_count)
    return record[:16 + len(calls)]
