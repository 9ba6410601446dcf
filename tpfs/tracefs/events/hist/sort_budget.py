"""What the open ``hist`` handles may hold at once: their sorted entry positions.

A ``hist`` handle sorts a histogram's entries once, when its reader reaches
that histogram, and keeps the positions (4 bytes each) until it moves past it
or is closed (``printing.HistListing``). One handle is bounded by its map's
size, but handles are as many as readers open. ``SortBudget`` caps them all
together: a handle reaching a histogram first reserves the map's whole size,
so that the sort it makes later, however the map grew, stays inside the
reservation. A reservation past the cap is ENOMEM, as a read the kernel
cannot allocate for, and changes nothing: the reader may read again once
others closed their handles. A reservation ends when its handle moves past
the histogram or is closed (the handle's cursor is gone: the budget holds
cursors weakly).
"""

from __future__ import annotations

import errno
import weakref
from typing import Protocol

from ....kernel.errors import TpfsError

#: Sorted positions of every open handle together: 16 Mi entries, 64 MiB (128
#: handles in full 131,072-entry maps at once, 8,192 in maps of the default 2,048).
MAX_RESERVED_ENTRIES = 1 << 24


class Holder(Protocol):
    """A handle's cursor: the entries it has reserved (0: none)."""

    reserved: int


class SortBudget:
    """The reservations of every open ``hist`` handle of a daemon."""

    __slots__ = ("limit", "_holders")

    def __init__(self, limit: int = MAX_RESERVED_ENTRIES) -> None:
        self.limit = limit
        self._holders: weakref.WeakSet[Holder] = weakref.WeakSet()

    def held(self) -> int:
        """Entries reserved by handles open now."""
        return sum(holder.reserved for holder in self._holders)

    def reserve(self, holder: Holder, entries: int) -> None:
        """``holder``'s reservation becomes ``entries``, or (ENOMEM) stays as it was."""
        if self.held() - holder.reserved + entries > self.limit:
            raise TpfsError(errno.ENOMEM, f"hist handles hold {self.held()} sorted entries "
                                          f"of {self.limit}")
        holder.reserved = entries
        self._holders.add(holder)

    def release(self, holder: Holder) -> None:
        holder.reserved = 0
        self._holders.discard(holder)
