"""What every probe kind shares, as ``trace_probe.c`` is shared: the head of a
definition, fetch arguments and their types, and the ``ProbeEvent`` made.

The kinds themselves are ``kprobe``, ``uprobe`` and ``eprobe`` (one module each,
as ``trace_kprobe.c``, ``trace_uprobe.c`` and ``trace_eprobe.c``).

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
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...kernel.errors import TpfsError
from ..events.filter import Field
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
SYMBOL_RE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*:)?[A-Za-z_.][A-Za-z0-9_.]*")


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


class ArgContext:
    """What a fetch argument may use: the probe's kind, and an eprobe's fields."""

    def __init__(self, kind: str, is_return: bool, at_entry: bool,
                 fields: Mapping[str, Field]) -> None:
        self.kind = kind
        self.is_return = is_return
        self.at_entry = at_entry
        self.fields = fields
        #: Where the argument being parsed starts: an eprobe names a missing field there.
        self.word = 0


def words_of(line: str) -> list[str]:
    return line.split()


def offset_of(words: list[str], index: int) -> int:
    """Where word ``index`` starts in the command the error log shows (words joined)."""
    return sum(len(w) + 1 for w in words[:index])


def probe_err(message: str, pos: int, err: int = errno.EINVAL) -> ProbeError:
    return ProbeError(err, message, pos)


def probe_number(text: str, message: str, pos: int, signed: bool = False) -> int:
    """``kstrtoul`` (``kstrtol`` when ``signed``) whose error the kernel logs as
    ``message`` and passes on: ERANGE past the range, else EINVAL."""
    try:
        return kstrtoull(text, signed)
    except OverflowError:
        raise probe_err(message, pos, errno.ERANGE) from None
    except ValueError:
        raise probe_err(message, pos) from None


@dataclass(frozen=True, slots=True)
class ProbeHead:
    """What every probe kind reads first (``trace_probe.c``'s common part): the
    words, the kind's letter and what follows it, the ``:[GRP/][EVENT]`` text
    and where it and the probed place start."""

    words: list[str]
    kind_text: str  # the letter and a maxactive after it ("r10")
    colon: bool
    head: str  # GRP/EVENT after the colon
    hpos: int
    target: str
    tpos: int

    @property
    def letter(self) -> str:
        return self.kind_text[:1]

    def check_name(self) -> None:
        """``traceprobe_parse_event_name``: a colon and no name after it is refused."""
        if self.colon and not self.head:
            raise probe_err("Event name is not specified", self.hpos)


def probe_head(line: str, letters: str) -> ProbeHead | None:
    """The line's head if it starts with one of ``letters`` and names a place: else
    None, the line is no such probe's (``-ECANCELED``)."""
    words = words_of(line)
    if not words:
        return None
    kind_text, colon, head = words[0].partition(":")
    if kind_text[:1] not in letters or len(words) < 2:
        return None
    return ProbeHead(words, kind_text, bool(colon), head, len(kind_text) + 1, words[1],
                     offset_of(words, 1))


def is_uprobe_place(target: str) -> bool:
    """Whether a ``p``/``r`` line's place is a uprobe's ``PATH:OFFSET``."""
    return "/" in target.split(":", 1)[0] or (":" in target and target.startswith("/"))


def maxactive_of(kind_text: str) -> int:
    """``r[MAXACTIVE]``: the number after the letter (0: none), checked."""
    if not kind_text[1:]:
        return 0
    if not kind_text[1:].isdigit():
        raise probe_err("Invalid maxactive number", 1)
    if kind_text[0] != "r":
        raise probe_err("Maxactive is not for kprobe", 1)
    maxactive = int(kind_text[1:])
    if not 0 < maxactive <= MAX_ACTIVE:
        raise probe_err("Maxactive is too big" if maxactive else "Invalid maxactive number", 1)
    return maxactive


def group_event(head: str, pos: int, default_group: str) -> tuple[str, str | None]:
    """``:[GRP/][EVENT]`` after the probe type: the group and the event (None: default)."""
    if not head:
        return default_group, None
    group, slash, event = head.rpartition("/")
    if slash:
        if not group:
            raise probe_err("Group name is not specified", pos)
        if len(group) >= MAX_EVENT_NAME_LEN:
            raise probe_err("Group name is too long", pos)
        if not _IDENT.fullmatch(group):
            raise probe_err("Group name must follow the same rules as C identifiers", pos)
    else:
        group = default_group
    epos = pos + len(head) - len(event)
    if not event:
        return group, None
    if len(event) >= MAX_EVENT_NAME_LEN:
        raise probe_err("Event name is too long", epos)
    if not _IDENT.fullmatch(event):
        raise probe_err("Event name must follow the same rules as C identifiers", epos)
    return group, event


def sanitize(name: str) -> str:
    """``sanitize_event_name``: anything not alphanumeric becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:MAX_EVENT_NAME_LEN - 1]


def parse_args(words: list[str], first: int, ctx: ArgContext) -> tuple[ProbeArg, ...]:
    if len(words) - first > MAX_TRACE_ARGS:
        raise probe_err("Too many arguments are specified",
                        offset_of(words, first + MAX_TRACE_ARGS))
    args: list[ProbeArg] = []
    for i, word in enumerate(words[first:], start=1):
        pos = ctx.word = offset_of(words, first + i - 1)
        name, eq, body = word.partition("=")
        if not eq:
            name, body = f"arg{i}", word
            bpos = pos
        else:
            if not name:
                raise probe_err("Argument name is not specified", pos)
            if len(name) > MAX_ARG_NAME_LEN:
                raise probe_err("Argument name is too long", pos)
            if not _IDENT.fullmatch(name):
                raise probe_err("Argument name must follow the same rules as C identifiers", pos)
            bpos = pos + len(name) + 1
        if any(a.name == name for a in args):
            raise probe_err("This argument name is already used", pos)
        if len(body) > MAX_ARGSTR_LEN:
            raise probe_err("Argument expression is too long", bpos, errno.E2BIG)
        if not body:
            raise probe_err("No argument expression", bpos)
        args.append(_arg(name, body, bpos, ctx))
    return tuple(args)


def _arg(name: str, body: str, pos: int, ctx: ArgContext) -> ProbeArg:
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
            raise probe_err("String accepts only memory argument", tpos)
        bits = _BITFIELD.fullmatch(type_name)
        if bits:
            width, offset, size = (int(g) for g in bits.groups())
            if size not in (8, 16, 32, 64) or not 0 < width <= size or offset + width > size:
                raise probe_err("Invalid bitfield", tpos)
            ftype = FETCH_TYPES[f"u{size}"]
            # its instruction follows the store, as the array's loop follows it
            last = _store(fetched, ftype, tpos) + 1
            if last >= FETCH_INSN_MAX - 1:
                raise probe_err("Invalid bitfield", tpos)
            if count and last + 1 >= FETCH_INSN_MAX - 1:
                raise probe_err("Dereference is too much nested", fetched.offset, errno.E2BIG)
        else:
            found = FETCH_TYPES.get(type_name)
            if found is None or (type_name == "symbol" and ctx.kind != "kprobe"):
                raise probe_err("Unknown type is specified", tpos)
            ftype = found
        if ftype.is_string and what not in ("deref", "mem", "comm", "immstr", "field"):
            raise probe_err("String accepts only memory argument", tpos)
        if what in ("comm", "immstr") and not ftype.is_string:
            raise probe_err("$comm and immediate-string only accepts string type", tpos)
        if not bits:
            last = _store(fetched, ftype, tpos, count)
            if count and last + 1 >= FETCH_INSN_MAX - 1:  # the array's loop
                raise probe_err("Dereference is too much nested", fetched.offset, errno.E2BIG)
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
        raise probe_err("Array is not closed", tpos + len(type_text))
    if suffix:
        raise probe_err("Array has wrong suffix", npos + len(number) + 1)
    try:
        count = kstrtoull(number)
    except (ValueError, OverflowError):
        raise probe_err("Invalid array size", npos) from None
    if not count:
        raise probe_err("Invalid array size", npos)
    if count > MAX_ARRAY_LEN:
        raise probe_err("Array number is too big", npos)
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
        raise probe_err("Dereference is too much nested", fetched.offset,
                   errno.EINVAL if ftype.is_string else errno.E2BIG)
    return fetched.last + 1


def _field_type(source: Field) -> FetchType:
    """An eprobe ``$FIELD`` without a type: a string for text, else its size and sign."""
    if source.is_string:
        return FETCH_TYPES["string"]
    size = source.size if source.size in (1, 2, 4, 8) else 8
    return FETCH_TYPES[f"{'s' if source.signed else 'u'}{size * 8}"]


def _fetch(text: str, pos: int, ctx: ArgContext) -> _Fetched:
    """One fetch (``parse_probe_arg``), its instructions counted as the kernel
    lays them out: one for a register, a variable or an immediate, a load
    after an address, one more for each dereference."""
    head = text[:1]
    if head == "%":
        if ctx.kind == "eprobe":  # an event has no registers to read
            raise probe_err("Invalid $-variable specified", pos)
        if text[1:] not in REGISTERS:
            raise probe_err("Invalid register name", pos)
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
                raise probe_err("String is not closed with '\"'", pos + len(text))
            return _Fetched(None, "immstr", 0, pos)
        imm = text[1:]  # str_to_immediate: kstrtoul, or kstrtol with a sign
        if not imm[:1].isdigit() and imm[:1] not in ("-", "+"):
            raise probe_err("Invalid immediate value", pos + 1)
        probe_number(imm if imm[:1] != "+" else imm[1:], "Invalid immediate value", pos + 1,
                signed=not imm[:1].isdigit())
        return _Fetched(None, "imm", 0, pos)
    raise probe_err("Invalid fetch argument", pos)


def _variable(var: str, pos: int, ctx: ArgContext) -> tuple[Field | None, str]:
    if ctx.kind == "eprobe":
        fld = ctx.fields.get(var)
        if fld is not None:
            return fld, "field"
    if var == "retval":
        if not ctx.is_return:
            raise probe_err("$retval is not available on probe", pos)
        return None, "retval"
    if var.startswith("stack"):
        number = var[5:]
        if number and (not number.isdigit()
                       or (ctx.kind == "kprobe" and int(number) > MAX_KPROBE_STACK)):
            raise probe_err("Invalid stack number", pos)
        return None, "stack"
    if var in ("comm", "COMM"):
        return None, "comm"
    if var.startswith("arg"):
        if ctx.kind != "kprobe" or not (ctx.at_entry or ctx.is_return):
            raise probe_err("$arg* can be used only on function entry or exit", pos)
        number = var[3:]
        if not number.isdigit() or not 0 < int(number) <= MAX_TRACE_ARGS:
            raise probe_err("Invalid argument number", pos)
        return None, "arg"
    if ctx.kind == "eprobe":  # logged where the argument starts, as the kernel resets it
        raise probe_err("Attached event does not have this field", ctx.word)
    raise probe_err("Invalid $-variable specified", pos)


def _memory(addr: str, pos: int, ctx: ArgContext) -> int:
    """``@ADDR``, ``@+FILE_OFFSET`` or ``@SYM[+-OFFS]``: the slot of its load (an
    address, then the load; a symbol takes one more before them)."""
    if ctx.kind == "uprobe":
        if addr.startswith("+"):
            probe_number(addr[1:], "Invalid file offset value", pos, signed=True)
            return 1
        if not addr[:1].isdigit():
            raise probe_err("Symbol is not available with uprobe", pos)
    if addr[:1].isdigit():
        probe_number(addr, "Invalid memory address", pos)
        return 1
    if ctx.kind == "eprobe":
        raise probe_err("Invalid memory address", pos)
    symbol = re.split(r"[+-]", addr, maxsplit=1)[0]
    rest = addr[len(symbol):]
    if not SYMBOL_RE.fullmatch(symbol) or (rest and not re.fullmatch(r"[+-](?:0[xX][0-9a-fA-F]+|"
                                                                   r"[0-9]+)", rest)):
        raise probe_err("Invalid memory address", pos)
    return 2


def _deref(text: str, pos: int, ctx: ArgContext) -> _Fetched:
    """``[+|-][u]OFFS(FETCH)``. As the kernel: the fetch is what comes before the
    last ``)`` (anything after it is dropped), and positions inside a ``u``
    dereference count one short, as the kernel counts them."""
    body = text[1:]
    if body.startswith("u"):
        body = body[1:]
    cut = body.find("(")
    if cut < 0:
        raise probe_err("Dereference needs a brace", pos)
    probe_number(("-" if text[0] == "-" else "") + body[:cut], "Invalid dereference offset", pos,
            signed=True)
    ipos = pos + cut + 2
    rest = body[cut + 1:]
    close = rest.rfind(")")
    if close < 0:
        raise probe_err("Dereference brace is not closed", ipos + len(rest))
    inner = _fetch(rest[:close], ipos, ctx)
    if inner.what in ("comm", "immstr"):
        raise probe_err("$comm can not be dereferenced", ipos)
    if inner.last + 1 >= FETCH_INSN_MAX - 1:
        raise probe_err("Dereference is too much nested", ipos)
    return _Fetched(inner.source, "deref", inner.last + 1, ipos)
