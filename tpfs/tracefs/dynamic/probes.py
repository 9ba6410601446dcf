"""Probe event definitions (kprobes, uprobes, eprobes), parsed as ``trace_probe.c`` parses them.

A definition is one line of ``kprobe_events``, ``uprobe_events`` or
``dynamic_events``::

    p[:[GRP/][EVENT]] [MOD:]SYM[+OFFS]|ADDR [FETCHARGS]        kprobe
    r[MAXACTIVE][:[GRP/][EVENT]] [MOD:]SYM[+0] [FETCHARGS]     kretprobe
    p|r[:[GRP/][EVENT]] PATH:OFFSET[%return][(REF)] [FETCHARGS]   uprobe
    e[:[GRP/][EVENT]] SYS.EVENT [FETCHARGS]                    eprobe

Each fetch argument is ``[NAME=]FETCH[:TYPE]``, checked as the kernel checks
it (``traceprobe_parse_probe_arg``): registers, ``$stackN``, ``$retval`` on
return probes only, ``$argN`` at function entry or exit only, ``$comm``,
``@ADDR``/``@SYM[+-OFFS]`` (``@+OFFS`` in a uprobe's file), ``+|-OFFS(FETCH)``
dereferences, ``\\IMM`` and ``\\"STR"`` immediates, and an eprobe's
``$FIELD`` of the event it attaches to; types ``u8``..``u64``, ``s8``..``s64``,
``x8``..``x64``, ``char``, ``string``, ``ustring``, ``symbol`` (kprobes) and
``bWIDTH@OFFS/SIZE`` bitfields. A refused definition is a ``ProbeError``
carrying the kernel's ``error_log`` message and where its caret goes.

What the definition makes is a ``ProbeEvent``: the line the listing shows
back, and the ``format`` the kernel generates (``__probe_ip``, or
``__probe_func`` and ``__probe_ret_ip`` for return probes, then one field per
argument, packed, and the print fmt naming them).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...kernel.errors import TpfsError
from ..events.filter import Field, check_filter
from ..kstr import kstrtoull

KPROBE_GROUP, UPROBE_GROUP, EPROBE_GROUP = "kprobes", "uprobes", "eprobes"
MAX_EVENT_NAME_LEN = 64  # MAX_EVENT_NAME_LEN, and the group's limit too
MAX_TRACE_ARGS = 128
MAX_ARG_NAME_LEN = 32
#: ``FETCH_INSN_MAX``: an argument's fetch instructions, the last slot its end.
FETCH_INSN_MAX = 16
UINT_MAX = (1 << 32) - 1
#: ``MAX_ARGSTR_LEN``: the longest argument expression (after ``NAME=``).
MAX_ARGSTR_LEN = 63
MAX_ARRAY_LEN = 64
#: ``PARAM_MAX_STACK``: the deepest ``$stackN`` a kprobe may read (16 KiB of longs).
MAX_KPROBE_STACK = 2048
MAX_ACTIVE = 4096  # KRETPROBE_MAXACTIVE_MAX
#: The registers of x86-64's ``pt_regs`` a fetch argument may name.
REGISTERS = frozenset({
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
    "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BITFIELD = re.compile(r"b(\d+)@(\d+)/(\d+)")
_SYMBOL = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*:)?[A-Za-z_.][A-Za-z0-9_.]*")


@dataclass(frozen=True, slots=True)
class FetchType:
    """A fetch type as the format shows it: C type, size, sign and print format."""

    name: str
    ctype: str
    size: int
    signed: bool
    fmt: str

    @property
    def is_string(self) -> bool:
        return self.ctype == "__data_loc char[]"


def _types() -> dict[str, FetchType]:
    types = {}
    for bits in (8, 16, 32, 64):
        wide = "L" if bits == 64 else ""
        types[f"u{bits}"] = FetchType(f"u{bits}", f"u{bits}", bits // 8, False, f"%{wide}u")
        types[f"s{bits}"] = FetchType(f"s{bits}", f"s{bits}", bits // 8, True, f"%{wide}d")
        types[f"x{bits}"] = FetchType(f"x{bits}", f"u{bits}", bits // 8, False, f"0x%{wide}x")
    types["char"] = FetchType("char", "u8", 1, False, "'%c'")
    types["string"] = FetchType("string", "__data_loc char[]", 4, True, '\\"%s\\"')
    types["ustring"] = FetchType("ustring", "__data_loc char[]", 4, True, '\\"%s\\"')
    types["symbol"] = FetchType("symbol", "u64", 8, False, "%pS")
    return types


FETCH_TYPES = _types()
DEFAULT_TYPE = FETCH_TYPES["x64"]


class ProbeError(TpfsError):
    """A refused definition: ``message`` and ``pos`` for ``error_log`` (None: not
    logged). An eprobe's refused filter is logged as a filter is, with the filter
    as the command (``log_as`` and ``command``)."""

    def __init__(self, err: int, message: str | None = None, pos: int = 0,
                 log_as: str | None = None, command: str | None = None) -> None:
        super().__init__(err, message or "bad probe definition")
        self.message = message
        self.pos = pos
        self.log_as = log_as
        self.command = command


@dataclass(frozen=True, slots=True)
class ProbeArg:
    """One fetch argument: its field's name, what was written, and its type."""

    name: str
    comm: str
    type: FetchType
    #: An eprobe's ``$FIELD``: the attached event's field it copies.
    source: Field | None = None
    #: ``TYPE[N]``: an array of N (0: one value).
    count: int = 0

    def field_line(self, offset: int) -> str:
        """The argument's ``field:`` line (``traceprobe_define_arg_fields``)."""
        t = self.type
        if not self.count:
            decl, size = f"{t.ctype} {self.name}", t.size
        elif t.is_string:
            decl, size = f"{t.ctype}[{self.count}] {self.name}", t.size * self.count
        else:
            decl, size = f"{t.ctype} {self.name}[]", t.size * self.count
        return f"\tfield:{decl};\toffset:{offset};\tsize:{size};\tsigned:{int(t.signed)};\n"

    @property
    def size(self) -> int:
        return self.type.size * max(self.count, 1)

    def print_fmt(self) -> tuple[str, str]:
        """Its part of the print fmt: the format, and the arguments after it."""
        t = self.type
        if not self.count:
            ref = f"__get_str({self.name})" if t.is_string else f"REC->{self.name}"
            return t.fmt, f", {ref}"
        refs = [f"__get_str({self.name}[{i}])" if t.is_string else f"REC->{self.name}[{i}]"
                for i in range(self.count)]
        return "{" + ",".join([t.fmt] * self.count) + "}", "".join(f", {r}" for r in refs)


@dataclass(frozen=True, slots=True)
class ProbeEvent:
    """A probe event: its kind (``kprobe``, ``uprobe`` or ``eprobe``) and how it shows."""

    kind: str
    group: str
    event: str
    is_return: bool
    place: str  # the probed place as the listing shows it
    args: tuple[ProbeArg, ...]
    maxactive: int = 0
    attached: str | None = None  # an eprobe's SYS:EVENT
    #: An eprobe's filter on its attached event's record: it fires only on a match.
    filter: str | None = None

    @property
    def name(self) -> str:
        return f"{self.group}:{self.event}"

    def show(self) -> str:
        """The listing's line (``probes_seq_show`` and its kin)."""
        kind = "e" if self.kind == "eprobe" else "r" if self.is_return else "p"
        if self.maxactive:
            kind += str(self.maxactive)
        args = "".join(f" {a.name}={a.comm}" for a in self.args)
        tail = "" if self.filter is None else f" if {self.filter}"
        return f"{kind}:{self.group}/{self.event} {self.place}{args}{tail}\n"

    def profile(self, hits: int) -> str:
        """Its line in ``kprobe_profile`` or ``uprobe_profile``
        (``probes_profile_seq_show``): the event's name and hits, a kprobe's misses
        after (a firing in tpfs misses nothing), a uprobe's file before."""
        if self.kind == "uprobe":
            return f"  {self.place.rpartition(':')[0]} {self.event:<44} {hits:15d}\n"
        return f"  {self.event:<44} {hits:15d} {0:15d}\n"

    def head_fields(self) -> list[tuple[str, str, int]]:
        """The fields before the arguments: (C type, name, size)."""
        if self.kind == "eprobe":
            return []
        if self.is_return:
            return [("unsigned long", "__probe_func", 8), ("unsigned long", "__probe_ret_ip", 8)]
        return [("unsigned long", "__probe_ip", 8)]

    def format(self, event_id: int, common_fields: str) -> str:
        lines, offset = [], 8
        for ctype, name, size in self.head_fields():
            lines.append(f"\tfield:{ctype} {name};\toffset:{offset};\tsize:{size};\tsigned:0;\n")
            offset += size
        for arg in self.args:
            lines.append(arg.field_line(offset))
            offset += arg.size
        head = ("" if self.kind == "eprobe" else "(%lx <- %lx)" if self.is_return
                else "(%lx)")
        refs = "".join(f", REC->{name}" for _, name, _ in self.head_fields())
        for arg in self.args:
            fmt, args = arg.print_fmt()
            head += f" {arg.name}={fmt}"
            refs += args
        return (f"name: {self.event}\nID: {event_id}\nformat:\n{common_fields}\n"
                f"{''.join(lines)}\nprint fmt: \"{head}\"{refs}\n")


@dataclass(frozen=True, slots=True)
class Removal:
    """A ``-:[GRP/]EVENT [PLACE [ARGS]]`` line: what it removes (group None: any
    group; with a place and arguments, only the places that show them)."""

    group: str | None
    event: str
    words: tuple[str, ...] = ()

    def matches(self, probe: ProbeEvent) -> bool:
        """``trace_probe_match_command_args``, after the place: each word given is
        the argument at its position, as the listing shows it."""
        if not self.words:
            return True
        if self.words[0] != probe.place or len(self.words) - 1 > len(probe.args):
            return False
        return all(w == f"{a.name}={a.comm}" for w, a in zip(self.words[1:], probe.args,
                                                             strict=False))


class _Context:
    """What a fetch argument may use: the probe's kind, and an eprobe's fields."""

    def __init__(self, kind: str, is_return: bool, at_entry: bool,
                 fields: Mapping[str, Field]) -> None:
        self.kind = kind
        self.is_return = is_return
        self.at_entry = at_entry
        self.fields = fields
        #: Where the argument being parsed starts: an eprobe names a missing field there.
        self.word = 0


def _words(line: str) -> list[str]:
    return line.split()


def _offset_of(words: list[str], index: int) -> int:
    """Where word ``index`` starts in the command the error log shows (words joined)."""
    return sum(len(w) + 1 for w in words[:index])


def _err(message: str, pos: int, err: int = errno.EINVAL) -> ProbeError:
    return ProbeError(err, message, pos)


def _number(text: str, message: str, pos: int, signed: bool = False) -> int:
    """``kstrtoul`` (``kstrtol`` when ``signed``) whose error the kernel logs as
    ``message`` and passes on: ERANGE past the range, else EINVAL."""
    try:
        return kstrtoull(text, signed)
    except OverflowError:
        raise _err(message, pos, errno.ERANGE) from None
    except ValueError:
        raise _err(message, pos) from None


def parse_removal(line: str, bang: bool = False) -> Removal | None:
    """``-:[GRP/]EVENT`` (``dyn_event_release``), or None when the line defines
    instead. With ``bang`` (``dynamic_events``), a line starting with ``!`` removes
    too, the event named after its first colon: ``!p:GRP/EVENT PLACE ...``."""
    words = _words(line)
    if not words or not (words[0].startswith("-") or (bang and words[0].startswith("!"))):
        return None
    if words[0][0] == "-":
        if words[0][1:2] != ":":
            raise ProbeError(errno.EINVAL)
        name = words[0][2:]
    else:
        colon = words[0].find(":")
        if colon < 0:
            raise ProbeError(errno.EINVAL)
        name = words[0][colon + 1:]
    group, slash, event = name.partition("/") if "/" in name else ("", "", name)
    if not slash and not event:
        raise ProbeError(errno.EINVAL)
    return Removal(group if slash else None, event, tuple(words[1:]))  # no match: ENOENT


def _group_event(head: str, pos: int, default_group: str) -> tuple[str, str | None]:
    """``:[GRP/][EVENT]`` after the probe type: the group and the event (None: default)."""
    if not head:
        return default_group, None
    group, slash, event = head.rpartition("/")
    if slash:
        if not group:
            raise _err("Group name is not specified", pos)
        if len(group) >= MAX_EVENT_NAME_LEN:
            raise _err("Group name is too long", pos)
        if not _IDENT.fullmatch(group):
            raise _err("Group name must follow the same rules as C identifiers", pos)
    else:
        group = default_group
    epos = pos + len(head) - len(event)
    if not event:
        return group, None
    if len(event) >= MAX_EVENT_NAME_LEN:
        raise _err("Event name is too long", epos)
    if not _IDENT.fullmatch(event):
        raise _err("Event name must follow the same rules as C identifiers", epos)
    return group, event


def _sanitize(name: str) -> str:
    """``sanitize_event_name``: anything not alphanumeric becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:MAX_EVENT_NAME_LEN - 1]


def parse_probe(line: str, files: Callable[[str], bool | None] | None = None,
                event_fields: Callable[[str], Mapping[str, Field] | None] | None = None,
                allowed: str = "pre",
                same_symbols: Callable[[str], int | None] | None = None,
                ncpus: int = 1) -> ProbeEvent:
    """A definition line. ``allowed``: the kinds the file takes (``p``/``r`` for
    kprobes and uprobes, ``e`` for eprobes); ``files`` says whether a uprobe's
    path is a regular file (None: nothing is there), ``event_fields`` gives an
    eprobe's attached event's fields, ``same_symbols`` how many kernel symbols
    have a kprobe's symbol's name (None: unknown, and taken); ``ncpus`` bounds an
    eprobe filter's CPU masks."""
    words = _words(line)
    if not words:
        raise ProbeError(errno.EINVAL)
    kind_text, colon, head = words[0].partition(":")
    letter = kind_text[:1]
    if letter not in allowed or letter not in "pre" or len(words) < 2:
        raise ProbeError(errno.EINVAL)
    hpos = len(kind_text) + 1
    if colon and not head:  # traceprobe_parse_event_name: a colon and no name after
        raise _err("Event name is not specified", hpos)
    target = words[1]
    tpos = _offset_of(words, 1)
    if letter != "e" and ("/" in target.split(":", 1)[0]
                          or (":" in target and target.startswith("/"))):
        # trace_uprobe_create reads a name only right after the letter ("r2:x" has none)
        return _uprobe(words, letter == "r", "" if kind_text[1:] else head, hpos, tpos, files)
    maxactive = 0
    if kind_text[1:]:
        if not kind_text[1:].isdigit():
            raise _err("Invalid maxactive number", 1)
        if letter != "r":
            raise _err("Maxactive is not for kprobe", 1)
        maxactive = int(kind_text[1:])
        if not 0 < maxactive <= MAX_ACTIVE:
            raise _err("Maxactive is too big" if maxactive else "Invalid maxactive number", 1)
    if letter == "e":
        return _eprobe(words, head, hpos, event_fields, ncpus)
    return _kprobe(words, letter == "r", maxactive, head, hpos, tpos, same_symbols)


def _kprobe(words: list[str], is_return: bool, maxactive: int, head: str, hpos: int,
            tpos: int, same_symbols: Callable[[str], int | None] | None) -> ProbeEvent:
    target = words[1]
    if target.endswith("%return"):
        if is_return:
            raise _err("Invalid probed address suffix", tpos + len(target) - 7)
        is_return, target = True, target[:-7]
    offset = 0
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|[0-9]+", target):
        place = target
        default = f"{'r' if is_return else 'p'}_0x{int(target, 0):x}"
        at_entry = False
    else:
        symbol, plus, offs = target.partition("+")
        if plus:
            try:
                offset = kstrtoull(offs)
            except (ValueError, OverflowError):
                raise _err("Invalid probed address or symbol", tpos) from None
            if offset > UINT_MAX:
                raise _err("Invalid probed address or symbol", tpos)
        if not _SYMBOL.fullmatch(symbol):
            raise _err("Invalid probed address or symbol", tpos)
        count = None if same_symbols is None else same_symbols(symbol)
        if count == 0:  # validate_probe_symbol
            raise _err("Invalid probed address or symbol", tpos)
        if count is not None and count > 1:
            raise _err("The symbol is not unique", tpos)
        if is_return and offset:
            raise _err("Retprobe address must be an function entry", tpos)
        place = f"{symbol}+{offset}" if offset else symbol
        default = _sanitize(f"{'r' if is_return else 'p'}_{symbol}_{offset}")
        at_entry = offset == 0
    group, event = _group_event(head, hpos, KPROBE_GROUP)
    ctx = _Context("kprobe", is_return, at_entry, {})
    args = _args(words, 2, ctx)
    return ProbeEvent("kprobe", group, event or default, is_return, place, args, maxactive)


def _uprobe(words: list[str], is_return: bool, head: str, hpos: int, tpos: int,
            files: Callable[[str], bool | None] | None) -> ProbeEvent:
    """``trace_uprobe_create``'s place: ``PATH:OFFSET[(REF_CTR_OFFSET)][%return]``,
    checked in its order: the file, the reference counter, the suffix, the offset."""
    path, colon, arg = words[1].rpartition(":")
    if not colon or not path or not arg[:1].isdigit():
        raise ProbeError(errno.EINVAL)  # -ECANCELED: no uprobe, and nothing logged
    apos = tpos + len(path) + 1
    if files is not None:
        kind = files(path)
        if kind is None:
            raise _err("Failed to find the given file", tpos, errno.ENOENT)
        if not kind:
            raise _err("Not a regular file", tpos)
    ref = None
    opened = arg.find("(")
    if opened >= 0:
        closed = arg.find(")", opened)
        if closed < 0:
            raise _err("Reference counter brace is not closed", apos + len(arg))
        if closed + 1 < len(arg):
            raise _err("Reference counter has wrong suffix", apos + closed + 1)
        ref = _number(arg[opened + 1:closed], "Invalid reference counter offset",
                      apos + opened + 1)
        arg = arg[:opened]
    percent = arg.find("%")
    if percent >= 0:
        if arg[percent:] != "%return":
            raise _err("Invalid probed address suffix", apos + percent)
        is_return, arg = True, arg[:percent]
    offset = _number(arg, "Invalid uprobe offset", apos)
    group, event = _group_event(head, hpos, UPROBE_GROUP)
    default = _sanitize(f"p_{os.path.basename(path)}_0x{offset:x}")  # "p" for return too
    place = f"{path}:0x{offset:016x}" + ("" if ref is None else f"(0x{ref:x})")
    ctx = _Context("uprobe", is_return, False, {})
    args = _args(words, 2, ctx)
    return ProbeEvent("uprobe", group, event or default, is_return, place, args)


def _eprobe(words: list[str], head: str, hpos: int,
            event_fields: Callable[[str], Mapping[str, Field] | None] | None,
            ncpus: int) -> ProbeEvent:
    target = words[1]
    tpos = _offset_of(words, 1)
    # traceprobe_parse_event_name: SYSTEM/EVENT or SYSTEM.EVENT, both needed
    cut = target.find("/") if "/" in target else target.find(".")
    system, event_name = (target[:cut], target[cut + 1:]) if cut >= 0 else ("", target)
    if cut == 0:
        raise _err("Group name is not specified", tpos)
    if not system or not event_name:
        raise _err("This requires both group and event name to attach", tpos)
    attached = f"{system}:{event_name}"
    fields = None if event_fields is None else event_fields(attached)
    if fields is None:
        raise _err("Attached event does not exist", tpos)
    group, event = _group_event(head, hpos, EPROBE_GROUP)
    words, filter_text = _eprobe_filter(words, fields, ncpus)
    ctx = _Context("eprobe", False, False, fields)
    args = _args(words, 2, ctx)
    return ProbeEvent("eprobe", group, event or event_name, False, target, args,
                      attached=attached, filter=filter_text)


def _eprobe_filter(words: list[str], fields: Mapping[str, Field],
                   ncpus: int) -> tuple[list[str], str | None]:
    """``trace_eprobe_parse_filter``: the words before ``if``, and the filter after
    it, checked against the attached event as an event filter is (its error is
    logged as a filter's); parsed before the arguments, as the kernel does."""
    if "if" not in words[2:]:
        return words, None
    at = words.index("if", 2)
    rule = " ".join(words[at + 1:])
    if not rule:
        raise _err("No filter rule after 'if'", _offset_of(words, len(words)))
    err = check_filter(rule, fields, ncpus)
    if err is not None:
        raise ProbeError(err.errno, err.message, err.pos if err.code else 0,
                         "event filter parse error", rule)
    return words[:at], rule


def _args(words: list[str], first: int, ctx: _Context) -> tuple[ProbeArg, ...]:
    if len(words) - first > MAX_TRACE_ARGS:
        raise _err("Too many arguments are specified", _offset_of(words, first + MAX_TRACE_ARGS))
    args: list[ProbeArg] = []
    for i, word in enumerate(words[first:], start=1):
        pos = ctx.word = _offset_of(words, first + i - 1)
        name, eq, body = word.partition("=")
        if not eq:
            name, body = f"arg{i}", word
            bpos = pos
        else:
            if not name:
                raise _err("Argument name is not specified", pos)
            if len(name) > MAX_ARG_NAME_LEN:
                raise _err("Argument name is too long", pos)
            if not _IDENT.fullmatch(name):
                raise _err("Argument name must follow the same rules as C identifiers", pos)
            bpos = pos + len(name) + 1
        if any(a.name == name for a in args):
            raise _err("This argument name is already used", pos)
        if len(body) > MAX_ARGSTR_LEN:
            raise _err("Argument expression is too long", bpos, errno.E2BIG)
        if not body:
            raise _err("No argument expression", bpos)
        args.append(_arg(name, body, bpos, ctx))
    return tuple(args)


def _arg(name: str, body: str, pos: int, ctx: _Context) -> ProbeArg:
    """``traceprobe_parse_probe_arg_body``: the fetch, then its type."""
    fetch, colon, type_text = body.partition(":")  # the first colon, as strchr finds it
    type_name = type_text if colon else None
    fetched = _fetch(fetch, pos, ctx)
    source, what, last = fetched.source, fetched.what, fetched.last
    tpos = pos + len(fetch) + 1
    if type_name is None:
        ftype = DEFAULT_TYPE
        if what in ("comm", "immstr"):
            ftype = FETCH_TYPES["string"]
        elif source is not None:
            ftype = _field_type(source)
    else:
        type_name, count = _array(type_name, tpos)
        if count and what not in ("deref", "mem"):
            raise _err("String accepts only memory argument", tpos)
        bits = _BITFIELD.fullmatch(type_name)
        if bits:
            width, offset, size = (int(g) for g in bits.groups())
            if size not in (8, 16, 32, 64) or not 0 < width <= size or offset + width > size:
                raise _err("Invalid bitfield", tpos)
            ftype = FETCH_TYPES[f"u{size}"]
            # its instruction follows the store, as the array's loop follows it
            last = _store(fetched, ftype, tpos) + 1
            if last >= FETCH_INSN_MAX - 1:
                raise _err("Invalid bitfield", tpos)
            if count and last + 1 >= FETCH_INSN_MAX - 1:
                raise _err("Dereference is too much nested", fetched.offset, errno.E2BIG)
        else:
            found = FETCH_TYPES.get(type_name)
            if found is None or (type_name == "symbol" and ctx.kind != "kprobe"):
                raise _err("Unknown type is specified", tpos)
            ftype = found
        if ftype.is_string and what not in ("deref", "mem", "comm", "immstr", "field"):
            raise _err("String accepts only memory argument", tpos)
        if what in ("comm", "immstr") and not ftype.is_string:
            raise _err("$comm and immediate-string only accepts string type", tpos)
        if not bits:
            last = _store(fetched, ftype, tpos, count)
            if count and last + 1 >= FETCH_INSN_MAX - 1:  # the array's loop
                raise _err("Dereference is too much nested", fetched.offset, errno.E2BIG)
        return ProbeArg(name, body, ftype, source, count)
    return ProbeArg(name, body, ftype, source)


def _array(type_text: str, tpos: int) -> tuple[str, int]:
    """``TYPE[N]``: the type and N (0 when it is no array), checked as the kernel does."""
    base, bracket, rest = type_text.partition("[")
    if not bracket:
        return type_text, 0
    number, close, suffix = rest.partition("]")
    npos = tpos + len(base) + 1
    if not close:
        raise _err("Array is not closed", tpos + len(type_text))
    if suffix:
        raise _err("Array has wrong suffix", npos + len(number) + 1)
    try:
        count = kstrtoull(number)
    except (ValueError, OverflowError):
        raise _err("Invalid array size", npos) from None
    if not count:
        raise _err("Invalid array size", npos)
    if count > MAX_ARRAY_LEN:
        raise _err("Array number is too big", npos)
    return base, count


@dataclass(frozen=True, slots=True)
class _Fetched:
    """What a fetch parsed to: the eprobe field it reads, what kind of fetch it
    is, the slot of its last instruction, and where the kernel's parse context
    stood after it (an error after the fetch is logged there)."""

    source: Field | None
    what: str
    last: int
    offset: int


def _store(fetched: _Fetched, ftype: FetchType, tpos: int, count: int = 0) -> int:
    """``finalize_fetch_insn``'s store: a load from memory becomes the store;
    anything else, and a string from an address or an array of strings, takes a
    slot after it. The store's slot, or TOO_MANY_OPS when none is left."""
    loads = fetched.what in ("deref", "mem")
    extra = (ftype.is_string and (not loads or count > 0)) or (not ftype.is_string and not loads)
    if not extra:
        return fetched.last
    if fetched.last + 1 >= FETCH_INSN_MAX - 1:
        raise _err("Dereference is too much nested", fetched.offset,
                   errno.EINVAL if ftype.is_string else errno.E2BIG)
    return fetched.last + 1


def _field_type(source: Field) -> FetchType:
    """An eprobe ``$FIELD`` without a type: a string for text, else its size and sign."""
    if source.is_string:
        return FETCH_TYPES["string"]
    size = source.size if source.size in (1, 2, 4, 8) else 8
    return FETCH_TYPES[f"{'s' if source.signed else 'u'}{size * 8}"]


def _fetch(text: str, pos: int, ctx: _Context) -> _Fetched:
    """One fetch (``parse_probe_arg``), its instructions counted as the kernel
    lays them out: one for a register, a variable or an immediate, a load
    after an address, one more for each dereference."""
    head = text[:1]
    if head == "%":
        if ctx.kind == "eprobe":  # an event has no registers to read
            raise _err("Invalid $-variable specified", pos)
        if text[1:] not in REGISTERS:
            raise _err("Invalid register name", pos)
        return _Fetched(None, "reg", 0, pos)
    if head == "$":
        source, what = _variable(text[1:], pos, ctx)
        return _Fetched(source, what, 0, pos)
    if head == "@":
        return _Fetched(None, "mem", _memory(text[1:], pos, ctx), pos)
    if head in "+-" and text:
        return _deref(text, pos, ctx)
    if head == "\\":
        if text[1:2] == '"':
            if len(text) < 3 or not text.endswith('"'):
                raise _err("String is not closed with '\"'", pos + len(text))
            return _Fetched(None, "immstr", 0, pos)
        imm = text[1:]  # str_to_immediate: kstrtoul, or kstrtol with a sign
        if not imm[:1].isdigit() and imm[:1] not in ("-", "+"):
            raise _err("Invalid immediate value", pos + 1)
        _number(imm if imm[:1] != "+" else imm[1:], "Invalid immediate value", pos + 1,
                signed=not imm[:1].isdigit())
        return _Fetched(None, "imm", 0, pos)
    raise _err("Invalid fetch argument", pos)


def _variable(var: str, pos: int, ctx: _Context) -> tuple[Field | None, str]:
    if ctx.kind == "eprobe":
        fld = ctx.fields.get(var)
        if fld is not None:
            return fld, "field"
    if var == "retval":
        if not ctx.is_return:
            raise _err("$retval is not available on probe", pos)
        return None, "retval"
    if var.startswith("stack"):
        number = var[5:]
        if number and (not number.isdigit()
                       or (ctx.kind == "kprobe" and int(number) > MAX_KPROBE_STACK)):
            raise _err("Invalid stack number", pos)
        return None, "stack"
    if var in ("comm", "COMM"):
        return None, "comm"
    if var.startswith("arg"):
        if ctx.kind != "kprobe" or not (ctx.at_entry or ctx.is_return):
            raise _err("$arg* can be used only on function entry or exit", pos)
        number = var[3:]
        if not number.isdigit() or not 0 < int(number) <= MAX_TRACE_ARGS:
            raise _err("Invalid argument number", pos)
        return None, "arg"
    if ctx.kind == "eprobe":  # logged where the argument starts, as the kernel resets it
        raise _err("Attached event does not have this field", ctx.word)
    raise _err("Invalid $-variable specified", pos)


def _memory(addr: str, pos: int, ctx: _Context) -> int:
    """``@ADDR``, ``@+FILE_OFFSET`` or ``@SYM[+-OFFS]``: the slot of its load (an
    address, then the load; a symbol takes one more before them)."""
    if ctx.kind == "uprobe":
        if addr.startswith("+"):
            _number(addr[1:], "Invalid file offset value", pos, signed=True)
            return 1
        if not addr[:1].isdigit():
            raise _err("Symbol is not available with uprobe", pos)
    if addr[:1].isdigit():
        _number(addr, "Invalid memory address", pos)
        return 1
    if ctx.kind == "eprobe":
        raise _err("Invalid memory address", pos)
    symbol = re.split(r"[+-]", addr, maxsplit=1)[0]
    rest = addr[len(symbol):]
    if not _SYMBOL.fullmatch(symbol) or (rest and not re.fullmatch(r"[+-](?:0[xX][0-9a-fA-F]+|"
                                                                   r"[0-9]+)", rest)):
        raise _err("Invalid memory address", pos)
    return 2


def _deref(text: str, pos: int, ctx: _Context) -> _Fetched:
    """``[+|-][u]OFFS(FETCH)``. As the kernel: the fetch is what comes before the
    last ``)`` (anything after it is dropped), and positions inside a ``u``
    dereference count one short, as the kernel counts them."""
    body = text[1:]
    if body.startswith("u"):
        body = body[1:]
    cut = body.find("(")
    if cut < 0:
        raise _err("Dereference needs a brace", pos)
    _number(("-" if text[0] == "-" else "") + body[:cut], "Invalid dereference offset", pos,
            signed=True)
    ipos = pos + cut + 2
    rest = body[cut + 1:]
    close = rest.rfind(")")
    if close < 0:
        raise _err("Dereference brace is not closed", ipos + len(rest))
    inner = _fetch(rest[:close], ipos, ctx)
    if inner.what in ("comm", "immstr"):
        raise _err("$comm can not be dereferenced", ipos)
    if inner.last + 1 >= FETCH_INSN_MAX - 1:
        raise _err("Dereference is too much nested", ipos)
    return _Fetched(inner.source, "deref", inner.last + 1, ipos)


def fetch_value(arg: ProbeArg, record: bytes) -> int | str:
    """What an eprobe argument takes from its attached event's ``record``: the
    field it names, read as the field is laid out. Anything it would read from
    memory or registers tpfs does not have: zero, or an empty string."""
    src = arg.source
    if src is None or arg.comm.startswith(("+", "-")):
        return "" if arg.type.is_string else 0
    if src.filter_type not in ("dyn_string", "rdyn_string", "static_string"):
        value = int.from_bytes(record[src.offset:src.offset + src.size], "little",
                               signed=src.signed)
        return value if not arg.type.is_string else str(value)
    return src.text(record).decode("latin-1") if arg.type.is_string else 0
