"""The ``hist`` file, as ``hist_show`` prints it, read as a seq_file.

Each histogram of the event shows a header (its trigger line), one line per
entry in sort order, and its totals; histograms are separated by a blank
line. ``HistListing`` serves this one record (a header, an entry, the
totals) at a time, so that a handle never holds the rendered file:

- a pass takes the event's histograms as they are at its first read, each
  by its serial, and skips one removed meanwhile;
- on reaching a histogram it sorts the map's entries once into an array of
  4-byte positions (``TracingMap.sort_entries``) and renders each entry
  only when the reader gets to it, with the entry's sums as they are then;
- entries added after that sort are not in this pass, and a histogram
  cleared meanwhile (a new map generation) shows no more entries, only its
  totals: no entry is shown twice and every line is whole (the seq_file
  keeps the unread tail of a record).

A handle's memory is its cursor: that array (4 bytes per entry, at most
``1 << TRACING_MAP_BITS_MAX`` entries, 512 KiB), the histograms' serials,
and the unread tail of one record. Every handle's arrays together stay within a
``SortBudget`` (``sort_budget.py``), reserved before a histogram's header shows.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from ....kernel.errors import TpfsError
from ...vfs.seqfile import SeqOperations
from .actions import track_print
from .errors import HIST_STACKTRACE_DEPTH, U64
from .fields import (
    FL_BUCKET,
    FL_CPU,
    FL_EXECNAME,
    FL_EXPR,
    FL_GRAPH,
    FL_HEX,
    FL_KEY,
    FL_LOG2,
    FL_PERCENT,
    FL_STACKTRACE,
    FL_STRING,
    FL_SYM,
    FL_SYM_OFFSET,
    FL_SYSCALL,
    FL_VAR,
    HistField,
)
from .histogram import HistTrigger, HistTriggerData
from .sort_budget import SortBudget
from .tracing_map import MapElt, SortKey

#: An address to ``%ps`` / ``%pS`` text, a syscall number to its name; None where unknown.
Resolver = Callable[[int], "str | None"]


def _key_u64(key: bytes, hf: HistField) -> int:
    return int.from_bytes(key[hf.offset:hf.offset + 8], "little")


def _unknown(number: int) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Resolvers:
    """What the ``hist`` file needs from outside: ``%ps`` and ``%pS`` of an
    address, the name of a syscall number. None: unknown."""

    sym: Resolver = _unknown
    sym_offset: Resolver = _unknown
    syscall: Resolver = _unknown


def _print_key(data: HistTriggerData, elt: MapElt, res: Resolvers) -> str:
    """``hist_trigger_print_key``."""
    key = elt.key
    parts = []
    multiline = False
    for hf in data.keys:
        name = hf.display_name
        f = hf.flags
        if f & FL_HEX:
            parts.append(f"{name}: {_key_u64(key, hf):x}")
        elif f & (FL_SYM | FL_SYM_OFFSET):
            addr = _key_u64(key, hf)
            text = (res.sym if f & FL_SYM else res.sym_offset)(addr) or f"0x{addr:x}"
            width = 45 if f & FL_SYM else 55
            parts.append(f"{name}: [{addr:x}] {text:<{width}}")
        elif f & FL_EXECNAME:
            parts.append(f"{name}: {elt.comm:<16}[{_key_u64(key, hf):>10}]")
        elif f & FL_SYSCALL:
            nr = _key_u64(key, hf)
            parts.append(f"{name}: {res.syscall(nr) or 'unknown_syscall':<30}[{nr:>3}]")
        elif f & FL_STACKTRACE:
            head = f"{hf.name}.stacktrace" if hf.field is not None else "common_stacktrace:\n"
            lines = ""
            for i in range(HIST_STACKTRACE_DEPTH):
                addr = int.from_bytes(key[hf.offset + 8 * i:hf.offset + 8 * i + 8], "little")
                if not addr:
                    break
                lines += " " * 9 + (res.sym_offset(addr) or f"0x{addr:x}") + "\n"
            parts.append(head + lines)
            multiline = True
        elif f & FL_LOG2:
            parts.append(f"{name}: ~ 2^{_key_u64(key, hf):<2}")
        elif f & FL_BUCKET:
            low = _key_u64(key, hf)
            parts.append(f"{name}: ~ {low}-{(low + hf.buckets - 1) & U64}")
        elif f & FL_STRING:
            raw = key[hf.offset:hf.offset + hf.size].split(b"\0", 1)[0]
            parts.append(f"{name}: {raw.decode('latin-1'):<50}")
        else:
            parts.append(f"{name}: {_key_u64(key, hf):>10}")
    return "{ " + ", ".join(parts) + ("" if multiline else " ") + "}"


def _percentage(val: int, total: int) -> int | None:
    """``__get_percentage``: hundredths of a percent, None for the error case."""
    if total:
        if val < U64 // 10000:
            return val * 10000 // total
        total //= 10000
        if total:
            return val // total
    return None if val else 0


def _bar(val: int, top: int) -> str:
    """``__fill_bar_str`` of 20 characters."""
    pc = _percentage(val, top)
    if pc is None:
        return "[ERROR]"
    n = (pc * 20 // 10000) & 0xFFFFFFFF
    return ("#" * min(n, 20)).ljust(20)


def _print_val(name: str, hf: HistField | None, val: int, total: int, top: int) -> str:
    """``hist_trigger_print_val``."""
    f = hf.flags if hf is not None else 0
    if f & FL_PERCENT:
        pc = _percentage(val, total)
        if pc is None or pc > 0xFFFFFFFF:
            return f" {name} (%):[ERROR]"
        return f" {name} (%): {pc // 100:>3}.{pc % 100:02}"
    if f & FL_GRAPH:
        return f" {name}: {_bar(val, top):>20}"
    if f & FL_HEX:
        return f" {name}: {val:>10x}"
    return f" {name}: {val:>10}"



def _cmp_key(hf: HistField, key: bytes) -> int | bytes:
    """What ``tracing_map``'s compare function of a key field compares."""
    if hf.flags & FL_STACKTRACE:
        return 0
    if hf.flags & FL_STRING:
        return key[hf.offset:hf.offset + hf.size].split(b"\0", 1)[0]
    fld = hf.field
    size, signed = (fld.size, fld.signed) if fld is not None and not hf.flags & FL_CPU else (
        hf.size, hf.is_signed)
    raw = key[hf.offset:hf.offset + min(size, 8)]
    return int.from_bytes(raw, "little", signed=signed)


def _sort_key(data: HistTriggerData, hf: HistField) -> Callable[[MapElt], object]:
    if hf.flags & FL_KEY:
        return lambda e: _cmp_key(hf, e.key)
    idx = data.vals.index(hf)
    return lambda e: e.sums[idx]


def sort_keys(data: HistTriggerData) -> list[SortKey]:
    """The histogram's sort keys as its map compares them."""
    return [(_sort_key(data, hf), descending) for hf, descending in data.sort_keys]


def _header(trigger: HistTrigger) -> str:
    return "# event histogram\n#\n# trigger info: " + trigger.render() + "#\n\n"


def _totals(data: HistTriggerData) -> str:
    m = data.map
    return (f"\nTotals:\n    Hits: {m.hits}\n    Entries: {len(m.elts)}\n"
            f"    Dropped: {m.drops}\n")


def _stats(data: HistTriggerData) -> dict[int, tuple[int, int]]:
    """The total and the largest of each ``.percent`` or ``.graph`` value."""
    stats: dict[int, tuple[int, int]] = {}
    for i, hf in enumerate(data.vals):
        if hf.flags & (FL_PERCENT | FL_GRAPH):
            sums = [e.sums[i] for e in data.map.entries]
            stats[i] = (sum(sums), max(sums, default=0))
    return stats


def _entry(d: HistTriggerData, elt: MapElt, res: Resolvers,
           stats: dict[int, tuple[int, int]]) -> str:
    """One entry's line(s): its key, hitcount, values and tracked values."""
    line = _print_key(d, elt, res)
    if not d.no_hitcount:
        line += _print_val("hitcount", None, elt.sums[0], 0, 0)
    for i, hf in enumerate(d.vals[1:], 1):
        if hf.flags & (FL_VAR | FL_EXPR):
            continue
        total, top = stats.get(i, (0, 0))
        line += " " + _print_val(hf.display_name, hf, elt.sums[i], total, top)
    line += "".join(track_print(d, a, elt) for a in d.actions if a.handler.tracks)
    return line + "\n"


class Part(Enum):
    """The part of a histogram a reader is in."""

    HEADER = 0
    ENTRIES = 1
    TOTALS = 2


@dataclass(slots=True, weakref_slot=True, eq=False)
class HistCursor:
    """Where a reader of a ``hist`` file is: which histogram (by serial), which
    part of it, and in its entries, the sorted positions and how far it got; what
    it has reserved of the ``SortBudget`` for them."""

    todo: list[int] | None = None  # the serials of this pass's histograms
    index: int = 0  # the histogram at hand: todo[index]
    phase: Part = Part.HEADER
    shown: bool = False  # a histogram was shown before: the next one is set apart
    order: array[int] = field(default_factory=lambda: array("I"))
    pos: int = 0
    generation: int = 0
    stats: dict[int, tuple[int, int]] = field(default_factory=dict)
    reserved: int = 0


class HistListing(SeqOperations[HistCursor, bytes]):
    """An event's ``hist`` file: ``triggers`` gives its histograms (in the
    ``trigger`` file's order), ``resolvers`` how addresses and syscalls are named;
    ``budget`` is shared by every ``hist`` file's handles."""

    def __init__(self, triggers: Callable[[], list[HistTrigger]],
                 resolvers: Callable[[], Resolvers], budget: SortBudget) -> None:
        self.triggers = triggers
        self.resolvers = resolvers
        self.budget = budget

    def cursor(self) -> HistCursor:
        return HistCursor()

    def _at(self, cursor: HistCursor) -> HistTrigger | None:
        """The histogram at hand, settling past those removed; None at the end."""
        todo = cursor.todo
        if todo is None:
            todo = cursor.todo = [t.serial for t in self.triggers()]
        while cursor.index < len(todo):
            serial = todo[cursor.index]
            found = next((t for t in self.triggers() if t.serial == serial), None)
            if found is not None:
                return found
            self._next_histogram(cursor)
        return None

    def _next_histogram(self, cursor: HistCursor) -> None:
        self.budget.release(cursor)
        cursor.index += 1
        cursor.phase = Part.HEADER
        cursor.order = array("I")
        cursor.pos = 0
        cursor.stats = {}

    def start(self, cursor: HistCursor) -> bytes | None:
        trigger = self._at(cursor)
        if trigger is None:
            return None
        d = trigger.data
        if cursor.phase is Part.HEADER:
            if not cursor.reserved:  # before its header shows: the sort will fit
                self.budget.reserve(cursor, 1 << d.map.bits)
            return (("\n\n" if cursor.shown else "") + _header(trigger)).encode()
        if cursor.phase is Part.ENTRIES:
            m = d.map
            if m.generation == cursor.generation and cursor.pos < len(cursor.order):
                elt = m.entries[cursor.order[cursor.pos]]
                return _entry(d, elt, self.resolvers(), cursor.stats).encode()
            cursor.phase = Part.TOTALS
            cursor.order = array("I")
        return _totals(d).encode()

    def next(self, cursor: HistCursor) -> bytes | None:
        trigger = self._at(cursor)
        if trigger is None:
            return None
        if cursor.phase is Part.HEADER:
            m = trigger.data.map
            cursor.order = m.sort_entries(sort_keys(trigger.data))
            cursor.generation = m.generation
            cursor.stats = _stats(trigger.data)
            cursor.pos = 0
            cursor.phase = Part.ENTRIES
            cursor.shown = True
        elif cursor.phase is Part.ENTRIES:
            cursor.pos += 1
        else:
            self._next_histogram(cursor)
        return self.start(cursor)

    def show(self, record: bytes) -> bytes:
        return record

    def fill(self, cursor: HistCursor, want: int) -> tuple[bytes, bool]:
        """The generic loop, except that a histogram the budget has no room for
        ends the read with what came before it (the error is the next read's,
        as ``seq_read`` returns what it copied before an error)."""
        parts: list[bytes] = []
        record = self.start(cursor)
        while record is not None:
            parts.append(record)
            want -= len(record)
            try:
                record = self.next(cursor)
            except TpfsError:
                return b"".join(parts), False
            if want <= 0:
                break
        return b"".join(parts), record is None


def render(triggers: list[HistTrigger], res: Resolvers) -> str:
    """The whole ``hist`` text of these histograms, as a reader gets it."""
    listing = HistListing(lambda: triggers, lambda: res, SortBudget())
    cursor = listing.cursor()
    parts = []
    record = listing.start(cursor)
    while record is not None:
        parts.append(record)
        record = listing.next(cursor)
    return b"".join(parts).decode()
