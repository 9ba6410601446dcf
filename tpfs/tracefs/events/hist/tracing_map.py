"""``tracing_map``: a histogram's entries, kept apart from what they mean, as
``kernel/trace/tracing_map.c`` is kept apart from ``trace_events_hist.c``.

A map holds at most ``1 << bits`` entries, one per key (the key's bytes),
each with its running sums, its variables and the comm of the task that
made it; a hit on a new key when the map is full is a drop. Entries are
also kept in the order they came (``entries[e.seq] is e``), so that a
sorted listing can be held as an array of 4-byte positions rather than of
entries or rendered text (``sort_entries``). ``clear`` starts a new
generation: a listing sorted before it is stale.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: What a variable or a value of an entry holds.
Value = int | bytes
#: A sort key: what to compare of an entry, and whether descending.
SortKey = tuple[Callable[["MapElt"], Any], bool]


@dataclass(eq=False, slots=True)
class MapElt:
    """``tracing_map_elt``: a key's sums, variables and the comm that made it."""

    key: bytes
    sums: list[int]
    vars: list[Value | None]
    comm: str
    seq: int


@dataclass(slots=True)
class TracingMap:
    """``tracing_map``: at most ``1 << bits`` entries; a new key when full is a drop."""

    bits: int
    elts: dict[bytes, MapElt] = field(default_factory=dict)
    #: The entries in the order they came: ``entries[e.seq] is e``.
    entries: list[MapElt] = field(default_factory=list)
    hits: int = 0
    drops: int = 0
    #: How many times the map was cleared.
    generation: int = 0

    def insert(self, key: bytes, n_vals: int, n_vars: int, comm: str) -> MapElt | None:
        elt = self.elts.get(key)
        if elt is None:
            if len(self.elts) >= 1 << self.bits:
                self.drops += 1
                return None
            elt = MapElt(key, [0] * n_vals, [None] * n_vars, comm, len(self.entries))
            self.entries.append(elt)
            self.elts[key] = elt
        self.hits += 1
        return elt

    def clear(self) -> None:
        self.elts.clear()
        self.entries = []
        self.hits = self.drops = 0
        self.generation += 1

    def sort_entries(self, keys: Sequence[SortKey]) -> array[int]:
        """``tracing_map_sort_entries``: the entries' positions, by the first sort
        key, entries equal on it by the second. The kernel's order among equal
        entries is its hash table's; here it is the order the keys came in."""
        order = list(self.entries)
        for what, descending in reversed(keys):
            order.sort(key=what, reverse=descending)
        return array("I", [elt.seq for elt in order])
