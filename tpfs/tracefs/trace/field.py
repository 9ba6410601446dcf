"""One field of an event, as its ``format`` text declares it, and how to read it.

``EventField`` is the kernel's ``struct ftrace_event_field``: the C type (its
array dimensions included, ``char[16]``), the name, the offset, the size and
the sign. Everything that reads a field out of a binary record (filters,
histograms, eprobe arguments, the printer of synthetic events) and the
encoder that writes records (``record.Layout``) ask this one type, so a
field's place in a record is decoded here only: scalars at their offset,
arrays in place, ``x[]`` tails to the record's end, and dynamic fields through
their u32 ``length << 16 | offset`` (``__data_loc``; for ``__rel_loc`` the
offset counts from the end of the word).

``parse_fields(fmt)`` reads a format's ``field:`` lines once per text. The
generic fields a filter may name besides (``CPU``, ``COMM``, ...) are
``EventField``s too, of kind ``cpu`` or ``comm``: they are not in the record.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

Value = int | str | bytes
_U32 = struct.Struct("<I").unpack_from

_FIELD = re.compile(r"\tfield:\s*(?P<decl>[^;]+);\toffset:(?P<offset>\d+);"
                    r"\tsize:(?P<size>\d+);\tsigned:(?P<signed>-?\d+);")
_DECL = re.compile(r"(?P<type>.*?)\s*\b(?P<name>[A-Za-z_]\w*)(?P<dims>(?:\[[^\]]*\])*)$")
_DYNAMIC_PREFIXES = ("__data_loc", "__rel_loc")
#: Where a field's value is, by kind: in the record's fixed part (``scalar``,
#: ``array``), from its offset to the record's end (``tail``), where a u32
#: locator says (``dynamic``), or outside the record (``cpu``, ``comm``).
RECORD_KINDS = ("scalar", "array", "tail", "dynamic")
GENERIC_KINDS = ("cpu", "comm")


@dataclass(frozen=True, slots=True)
class EventField:
    """One field: ``type`` is the C type as the kernel keeps it (``char[16]``,
    ``__data_loc char[]``), ``kind`` one of ``RECORD_KINDS`` or ``GENERIC_KINDS``,
    ``align`` what the field asks of the record's struct."""

    type: str
    name: str
    offset: int
    size: int
    signed: bool
    kind: str
    align: int = 1

    # -- what the field is ------------------------------------------------------

    @property
    def is_text(self) -> bool:
        """Whether its bytes are characters (``char`` arrays and dynamic strings)."""
        return self.type.removeprefix("__data_loc ").removeprefix("__rel_loc ").startswith("char")

    @property
    def filter_type(self) -> str:
        """``filter_assign_type``: how the kernel's filters compare the field."""
        if self.kind in GENERIC_KINDS:
            return self.kind
        t = self.type
        if "__data_loc" in t and "char" in t:
            return "dyn_string"
        if "__data_loc" in t and "cpumask_t" in t:
            return "cpumask"
        if "__rel_loc" in t and "char" in t:
            return "rdyn_string"
        if "[" in t and "char" in t:
            return "static_string"
        if t in ("char *", "const char *"):
            return "ptr_string"
        return "other"

    @property
    def is_string(self) -> bool:
        """Whether filters and histograms take it as a string."""
        return self.filter_type in ("dyn_string", "rdyn_string", "static_string", "ptr_string",
                                    "comm")

    # -- reading a record -------------------------------------------------------

    def span(self, record: bytes) -> tuple[int, int]:
        """Where the field's bytes are in ``record``: their start and length."""
        if self.kind == "dynamic":
            loc = _U32(record, self.offset)[0]
            start = loc & 0xFFFF
            if self.type.startswith("__rel_loc"):
                start += self.offset + 4
            return start, loc >> 16
        if self.kind == "tail":
            return self.offset, max(0, len(record) - self.offset)
        return self.offset, self.size

    def spanner(self) -> Callable[[bytes], tuple[int, int]]:
        """``span`` as a function made once, for a path that asks it on every event."""
        offset, size = self.offset, self.size
        if self.kind == "dynamic":
            base = offset + 4 if self.type.startswith("__rel_loc") else 0

            def dynamic(record: bytes) -> tuple[int, int]:
                loc = _U32(record, offset)[0]
                return base + (loc & 0xFFFF), loc >> 16
            return dynamic
        if self.kind == "tail":
            return lambda record: (offset, max(0, len(record) - offset))
        return lambda record: (offset, size)

    def data(self, record: bytes) -> bytes:
        """The field's bytes in ``record``."""
        start, length = self.span(record)
        return record[start:start + length]

    def text(self, record: bytes) -> bytes:
        """The field's bytes up to their first NUL (a C string)."""
        return self.data(record).split(b"\0", 1)[0]

    def read(self, record: bytes) -> int | bytes:
        """The field's value in ``record``: a scalar as an integer of its size and
        sign, anything else as its bytes."""
        if self.kind == "scalar":
            return int.from_bytes(record[self.offset:self.offset + self.size], "little",
                                  signed=self.signed)
        return self.data(record)

    # -- writing a record (``record.Layout.encode``) -----------------------------

    def _value_bytes(self, value: Value, nul: bool) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str) and self.is_text:
            return value.encode() + (b"\0" if nul else b"")
        raise ValueError(f"field {self.name}: {type(value).__name__} is not a {self.type} value")

    def scalar(self, value: Value) -> bytes:
        """A scalar's bytes for ``value`` (ValueError if it does not fit)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"field {self.name}: {value!r} is not an integer")
        bits = 8 * self.size - self.signed
        low, high = (-(1 << bits) if self.signed else 0), (1 << bits) - 1
        if not low <= value <= high:
            raise ValueError(f"field {self.name}: {value} does not fit "
                             f"{'signed' if self.signed else 'unsigned'} {self.size} bytes")
        return value.to_bytes(self.size, "little", signed=self.signed)

    def array(self, value: Value) -> bytes:
        """An array's bytes for ``value``, NUL-padded to its size."""
        raw = self._value_bytes(value, nul=False)
        room = self.size - 1 if isinstance(value, str) else self.size
        if len(raw) > room:
            nul = " with its NUL" if room < self.size else ""
            base = self.type.partition("[")[0]
            raise ValueError(f"field {self.name}: {len(raw)} bytes do not fit "
                             f"{base} {self.name}[{self.size}]{nul}")
        return raw.ljust(self.size, b"\0")

    def dynamic(self, value: Value) -> bytes:
        """A dynamic field's or a tail's data for ``value`` (a string with its NUL)."""
        return self._value_bytes(value, nul=True)


def generic(name: str, kind: str) -> EventField:
    """A field of ``ftrace_generic_fields``: the CPU (an int) or the task's comm."""
    return EventField("int", name, 0, 0, True, kind) if kind == "cpu" else \
        EventField("char *", name, 0, 0, False, kind)


def _field(line: str) -> EventField | None:
    m = _FIELD.match(line)
    if m is None:
        return None
    decl = m["decl"].strip()
    d = _DECL.match(decl)
    if d is None:
        raise ValueError(f"cannot parse field declaration {decl!r}")
    size, dims, ftype = int(m["size"]), d["dims"], d["type"]
    if ftype.startswith(_DYNAMIC_PREFIXES):
        kind, align = "dynamic", 4
    elif dims:
        count = 1
        for c in re.findall(r"\[(\d*)\]", dims):
            count *= int(c) if c else 0
        kind = "array" if size else "tail"
        element = size // count if count and size % count == 0 else 1
        align = element if element in (1, 2, 4, 8) else 1
    else:
        kind, align = "scalar", size if size in (1, 2, 4, 8) else 1
    return EventField(ftype + dims, d["name"], int(m["offset"]), size, m["signed"] == "1", kind,
                      align)


@lru_cache(maxsize=4096)
def parse_fields(fmt: str) -> tuple[EventField, ...]:
    """The fields an event's ``format`` text declares, in order (cached per text)."""
    fields: list[EventField] = []
    for line in fmt.splitlines():
        if line.startswith("print fmt:"):
            break
        if (f := _field(line)) is not None:
            fields.append(f)
    return tuple(fields)
