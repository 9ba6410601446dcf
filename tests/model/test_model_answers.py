"""Boundaries of the model that one-character slips would cross unnoticed.

- ``ring_buffer_read_page`` stores the missed-events count after the data when
  ``BUF_PAGE_SIZE - commit >= 8``: exactly 8 bytes left is room enough.
- The explorer's slab hands freed addresses back last in, first out, as
  SLUB's per-CPU freelist does (free two, and the second comes back first).
"""

from __future__ import annotations

import struct

from tpfs.kernel.ring_buffer_format import (
    BUF_PAGE_SIZE,
    PAGE_SIZE,
    RB_MISSED_EVENTS,
    RB_MISSED_STORED,
    subbuffer,
)
from tpfs.kernel.slab import Slab
from tpfs.tools.explore import ScriptedSlab

HEADER = struct.Struct("<QQ")  # time stamp, commit (a long on a 64-bit kernel)


def test_a_page_with_exactly_eight_bytes_left_stores_the_count() -> None:
    used = BUF_PAGE_SIZE - 8
    page = subbuffer(9, b"\2" * used, missed=0x0102030405060708)
    assert len(page) == PAGE_SIZE
    assert HEADER.unpack_from(page) == (9, used | RB_MISSED_EVENTS | RB_MISSED_STORED)
    assert struct.unpack_from("<Q", page, HEADER.size + used) == (0x0102030405060708,)


def test_a_page_with_seven_bytes_left_only_flags_the_loss() -> None:
    used = BUF_PAGE_SIZE - 7
    page = subbuffer(9, b"\2" * used, missed=5)
    assert HEADER.unpack_from(page) == (9, used | RB_MISSED_EVENTS)
    assert page[HEADER.size + used:] == bytes(7)


def test_the_explorers_slab_reuses_the_last_freed_first() -> None:
    slab = ScriptedSlab()
    slab.script.extend([0x3000, 0x2000, 0x1000])  # popped from the end
    first, second = slab.alloc(), slab.alloc()
    assert (first, second) == (0x1000, 0x2000)
    slab.free(first)
    slab.free(second)
    assert slab.reuses
    assert slab.alloc() == second
    assert slab.alloc() == first
    assert not slab.reuses and slab.alloc() == 0x3000


def test_the_daemons_slab_reuses_the_last_freed_first() -> None:
    slab = Slab(3)
    a, b, c = slab.alloc(), slab.alloc(), slab.alloc()
    for address in (b, a, c):
        slab.free(address)
    assert [slab.alloc() for _ in range(3)] == [c, a, b]
