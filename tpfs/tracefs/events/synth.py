"""Synthetic events (``synthetic_events``), parsed and shown as ``trace_events_synth.c`` does.

A synthetic event is a name and typed fields (``NAME TYPE FIELD[; TYPE
FIELD...]``) that hist trigger actions (``onmatch().trace()``,
``onmax().trace()``) fire with values taken from histogram variables. Here
is the definition: parsing a command, the line ``synthetic_events`` lists,
the ``format`` text the kernel generates for the event (its fields after the
common header, 8 bytes each or ``STR_VAR_LEN_MAX`` for a ``char[N]``), and
what the hist layer needs to check an action's parameters against it.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...kernel.errors import TpfsError
from ..kstr import kstrtoull
from ..trace.record import SYNTH_SYSTEM

SYNTH_FIELDS_MAX = 64
#: ``STR_VAR_LEN_MAX``: what a ``char[N]`` field may hold, and the room it takes.
STR_VAR_LEN_MAX = 256
#: ``err_text[]`` of ``trace_events_synth.c``.
SYNTH_ERRORS = (
    "Illegal name", "Command must be of the form: <name> field[;field] ...",
    "Command must be of the form: s or -:[synthetic/]<name> field[;field] ...",
    "Event already exists", "Too many fields", "Incomplete type", "Invalid type",
    "Invalid field", "Invalid array specification",
)
(BAD_NAME, INVALID_CMD, INVALID_DYN_CMD, EVENT_EXISTS, TOO_MANY_FIELDS, INCOMPLETE_TYPE,
 INVALID_TYPE, INVALID_FIELD, INVALID_ARRAY_SPEC) = range(9)

#: ``synth_field_size`` and ``synth_field_fmt`` of the scalar types.
_SCALARS = {
    "s64": (8, "%lld"), "u64": (8, "%llu"), "s32": (4, "%d"), "u32": (4, "%u"),
    "s16": (2, "%d"), "u16": (2, "%u"), "s8": (1, "%d"), "u8": (1, "%u"),
    "char": (1, "%d"), "unsigned char": (1, "%u"), "int": (4, "%d"),
    "unsigned int": (4, "%u"), "long": (8, "%ld"), "unsigned long": (8, "%lu"),
    "bool": (1, "%d"), "pid_t": (4, "%d"), "gfp_t": (4, "%x"),
}
_GOOD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SynthError(TpfsError):
    """A refused ``synthetic_events`` command, with its ``error_log`` text if it has one."""

    def __init__(self, err: int, code: int | None = None, pos: int = 0) -> None:
        self.code = code
        #: Where the error log's caret goes in the command.
        self.pos = pos
        super().__init__(err, "synthetic event: " + (
            "refused" if code is None else SYNTH_ERRORS[code]))

    @property
    def message(self) -> str | None:
        return None if self.code is None else SYNTH_ERRORS[self.code]


@dataclass(frozen=True, slots=True)
class SynthField:
    """``struct synth_field``: ``type`` is as the format shows it (``__data_loc char[]``)."""

    type: str
    name: str
    size: int
    is_signed: bool
    is_string: bool
    is_dynamic: bool

    @property
    def fmt(self) -> str:
        """``synth_field_fmt``."""
        return "%.*s" if self.is_string else _SCALARS[self.type][1]


@dataclass(frozen=True, slots=True)
class SynthEvent:
    name: str
    fields: tuple[SynthField, ...]

    def show(self) -> str:
        """The line ``synthetic_events`` lists (``__synth_event_show``)."""
        fields = "; ".join(f"{f.type.removeprefix('__data_loc ')} {f.name}" for f in self.fields)
        return f"{self.name}\t{fields}\n"

    def format(self, event_id: int, common_fields: str) -> str:
        """The event's ``format`` file: ``common_fields`` (the header's lines),
        then the fields at their offsets, then the print fmt."""
        lines = []
        offset = 8
        for f in self.fields:
            decl = f"{f.type} {f.name}"
            if f.is_string and not f.is_dynamic:
                base, _, dims = f.type.partition("[")
                decl = f"{base} {f.name}[{dims}"
            lines.append(f"\tfield:{decl};\toffset:{offset};\tsize:{f.size};"
                         f"\tsigned:{int(f.is_signed)};\n")
            offset += STR_VAR_LEN_MAX if f.is_string and not f.is_dynamic else 8
        text = ", ".join(f"{f.name}={f.fmt}" for f in self.fields)
        args = "".join(f", __get_str({f.name})" if f.is_dynamic else f", REC->{f.name}"
                       for f in self.fields)
        return (f"name: {self.name}\nID: {event_id}\nformat:\n{common_fields}\n"
                f"{''.join(lines)}\nprint fmt: \"{text}\"{args}\n")

    def values(self, vals: list[int | bytes]) -> dict[str, int | bytes]:
        """Field name to value as ``trace_event_raw_event_synth`` stores them: numbers
        cut to the field's size (and its sign), strings up to their NUL."""
        out: dict[str, int | bytes] = {}
        for f, v in zip(self.fields, vals, strict=True):
            if f.is_string:
                raw = v if isinstance(v, bytes) else b""
                room = STR_VAR_LEN_MAX - 1 if f.is_dynamic else f.size - 1
                out[f.name] = raw.split(b"\0", 1)[0][:room]
            else:
                n = (v if isinstance(v, int) else 0) & ((1 << 8 * f.size) - 1)
                if f.is_signed and n >> (8 * f.size - 1):
                    n -= 1 << 8 * f.size
                out[f.name] = n
        return out


def _field(words: list[str], errpos: Callable[[str], int]) -> tuple[SynthField, int]:
    """``parse_synth_field``: one field from the words, and how many it took;
    ``errpos`` places a word in the command, as the kernel's ``errpos`` does."""
    prefix = ""
    if words[0] == "unsigned":
        if len(words) < 3:
            raise SynthError(errno.EINVAL, INCOMPLETE_TYPE, errpos(words[0]))
        prefix, ftype, fname, used = "unsigned ", words[1], words[2], 3
    else:
        if len(words) < 2:
            raise SynthError(errno.EINVAL, INVALID_FIELD, errpos(words[0]))
        ftype, fname, used = words[0], words[1], 2
    name, bracket, array = fname.partition("[")
    if not _GOOD_NAME.fullmatch(name):
        raise SynthError(errno.EINVAL, BAD_NAME, errpos(fname))
    ctype = prefix + ftype + bracket + array

    def refused() -> SynthError:
        return (SynthError(errno.EINVAL, INVALID_ARRAY_SPEC, errpos(fname)) if bracket
                else SynthError(errno.EINVAL, INVALID_TYPE, errpos(ftype)))

    if "char[" in ctype:
        dims = ctype[ctype.index("char[") + 5:]
        if not dims.endswith("]") or "]" in dims[:-1] or len(dims) > 4:
            raise refused()
        if dims == "]":
            return SynthField("__data_loc " + ctype, name, 8, True, True, True), used
        try:
            size = kstrtoull(dims[:-1])
        except (ValueError, OverflowError):
            size = STR_VAR_LEN_MAX + 1
        if size > STR_VAR_LEN_MAX:
            raise refused()
        return SynthField(ctype, name, size, True, True, False), used
    if ctype not in _SCALARS:
        raise SynthError(errno.EINVAL, INVALID_TYPE, errpos(ftype))
    signed = not ctype.startswith("u") and ctype != "gfp_t"
    return SynthField(ctype, name, _SCALARS[ctype][0], signed, False, False), used


def parse_synth_event(line: str, existing: Mapping[str, SynthEvent]) -> SynthEvent:
    """A ``synthetic_events`` definition ``NAME TYPE FIELD[; ...]``, or a
    ``dynamic_events`` one ``s:[synthetic/]NAME ...`` (``create_synth_event``);
    ``existing`` holds the events there are (a name is defined once: EEXIST).
    A refusal carries where the kernel puts its caret: at the first place the
    offending word appears in the command (``errpos`` finds it with strstr)."""
    cmd = line.strip()

    def errpos(word: str) -> int:
        return max(cmd.find(word), 0)

    text = cmd
    if text.startswith("s:"):
        if not any(c in text for c in " \t"):
            raise SynthError(errno.EINVAL, INVALID_CMD)
        text = text[2:]
        head = re.split(r"[ \t]", text, maxsplit=1)[0]
        if "/" in head:
            if not head.startswith(SYNTH_SYSTEM + "/"):
                raise SynthError(errno.EINVAL, INVALID_DYN_CMD)
            text = text[len(SYNTH_SYSTEM) + 1:]
    # check_command: the name and a first field before any ';'
    if len(text.split(";", 1)[0].split()) < 3:
        raise SynthError(errno.EINVAL, INVALID_CMD)
    name, raw = re.split(r"[ \t]", text, maxsplit=1)
    if not _GOOD_NAME.fullmatch(name):
        raise SynthError(errno.EINVAL, BAD_NAME, errpos(name))
    if name in existing:
        raise SynthError(errno.EEXIST, EVENT_EXISTS, errpos(name))
    fields: list[SynthField] = []
    for part in raw.split(";"):
        words = part.split()
        while words:
            field, used = _field(words, errpos)
            fields.append(field)
            if len(fields) == SYNTH_FIELDS_MAX:  # the kernel's array holds one less
                raise SynthError(errno.EINVAL, TOO_MANY_FIELDS)
            words = words[used:]
    if not fields:
        raise SynthError(errno.EINVAL, INVALID_CMD)
    return SynthEvent(name, tuple(fields))
