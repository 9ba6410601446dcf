"""The listing files, ``available_events`` and ``tracepoints``, as seq_file operations.

Both walk the registry with the tracepoint iterator (sorted, or the legacy
walk when asked) and show one line per instance with the formats in
``lines``. ``available_events`` lines never change while their range
exists, so each range's lines are rendered once into a block (a cache kept
here, not in the model, dropped when the module goes) and a read slices
whole lines out of the blocks it crosses; ``tracepoints`` lines carry live state
and go through the generic one-record-at-a-time loop.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass
from itertools import accumulate

from ...kernel.iterator import SortedWalk, TracepointIter
from ...kernel.registry import Module, TpModule, Tracepoint
from ..vfs.seqfile import SeqOperations
from .lines import show_event, show_tracepoint


@dataclass(frozen=True, slots=True)
class Block:
    """A range's ``available_events`` lines; ``offsets[i]`` is where line ``i`` starts
    and ``offsets[-1]`` is the block's length."""

    data: bytes
    offsets: array[int]

    @classmethod
    def render(cls, rng: TpModule) -> Block:
        lines = [show_event(tp).encode() for tp in rng.tracepoints]
        # Made from a list, the array is exactly as long as it needs (appending
        # would over-allocate); 32 bits hold any range's length.
        offsets = array("I", list(accumulate(map(len, lines), initial=0)))
        return cls(b"".join(lines), offsets)


class TracepointListing(SeqOperations[TracepointIter, Tracepoint]):
    """One line per instance, in iterator order."""

    def __init__(self, walk: SortedWalk) -> None:
        self.walk = walk

    def cursor(self) -> TracepointIter:
        return TracepointIter()

    def start(self, cursor: TracepointIter) -> Tracepoint | None:
        return self.walk.start(cursor)

    def next(self, cursor: TracepointIter) -> Tracepoint | None:
        return self.walk.next(cursor)

    def stop(self, cursor: TracepointIter) -> None:
        self.walk.stop(cursor)

    def show(self, record: Tracepoint) -> bytes:
        return show_tracepoint(record).encode()


class EventListing(TracepointListing):
    """``available_events``: names only, sliced out of each range's block.

    One per tree, shared by every open handle, so that a block is rendered
    once per module, not once per open.
    """

    def __init__(self, walk: SortedWalk) -> None:
        super().__init__(walk)
        self._blocks: dict[TpModule, Block] = {}
        walk.registry.module_going_hooks.append(self._module_going)

    def _module_going(self, module: Module) -> None:
        if module.tp_mod is not None:
            self._blocks.pop(module.tp_mod, None)

    def show(self, record: Tracepoint) -> bytes:
        return show_event(record).encode()

    def block(self, rng: TpModule) -> Block:
        block = self._blocks.get(rng)
        if block is None:
            block = self._blocks[rng] = Block.render(rng)
        return block

    def fill(self, cursor: TracepointIter, want: int) -> tuple[bytes, bool]:
        walk = self.walk
        rng = walk.get_iter(cursor)
        if rng is None or cursor.tracepoint is None:
            return b"", True
        first = cursor.tracepoint
        block = self.block(rng)
        start = block.offsets[first]
        parts = [block.data[start:] if start else block.data]
        want -= len(parts[0])
        if want >= 0:  # the rest of this range went whole: go on to the next ones
            for nxt in walk.ranges_after(rng):
                if want <= 0:
                    break
                rng, first, start = nxt, 0, 0
                block = self.block(nxt)
                parts.append(block.data)
                want -= len(block.data)
        if want < 0:  # the last range went only in part: cut it at a line end
            offsets = block.offsets
            need = len(block.data) + want  # bytes of it that were wanted
            last = bisect.bisect_left(offsets, need, first + 1, len(offsets) - 1)
            parts[-1] = block.data[start:offsets[last]]
            walk.place(cursor, rng, last)
        else:  # every range went whole; if bytes are still wanted, none is left
            walk.place(cursor, rng, len(rng.tracepoints))
        return b"".join(parts), want > 0
