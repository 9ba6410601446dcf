"""What the listing files show: records rendered from a resumable cursor.

The fill function each ``*_filler`` makes renders whole records starting at the cursor until
at least ``want`` bytes are out (or the listing ends) and leaves the cursor
on the next record, as seq_file's ``start``/``show``/``next`` would.
``available_events`` lines never change, so they are sliced out of each
range's pre-rendered block; ``tracepoints`` lines carry live state and are
rendered one record at a time.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from .iterator import SortedWalk, TracepointIter
from .registry import TpModule

Fill = Callable[[TracepointIter, int], bytes]


def _settle(walk: SortedWalk, it: TracepointIter) -> tuple[TpModule, int] | None:
    """The range and position ``get_iter`` settles the cursor on; None at the end."""
    rng = walk.get_iter(it)
    if rng is None or it.tracepoint is None:
        return None
    return rng, it.tracepoint


def events_filler(walk: SortedWalk) -> Fill:
    def fill(it: TracepointIter, want: int) -> bytes:
        settled = _settle(walk, it)
        if settled is None:
            return b""
        rng, first = settled
        start = rng.offsets[first]
        parts = [rng.block[start:] if start else rng.block]
        want -= len(parts[0])
        if want >= 0:  # the rest of this range went whole: go on to the next ones
            for nxt in walk.ranges_after(rng):
                if want <= 0:
                    break
                rng, first, start = nxt, 0, 0
                parts.append(nxt.block)
                want -= len(nxt.block)
        if want < 0:  # the last range went only in part: cut it at a line end
            offsets = rng.offsets
            need = len(rng.block) + want  # bytes of it that were wanted
            last = bisect.bisect_left(offsets, need, first + 1, len(offsets) - 1)
            parts[-1] = rng.block[start:offsets[last]]
            walk.place(it, rng, last)
        else:
            walk.place(it, rng, len(rng.tracepoints))
        return b"".join(parts)

    return fill


def tracepoints_filler(walk: SortedWalk) -> Fill:
    def fill(it: TracepointIter, want: int) -> bytes:
        settled = _settle(walk, it)
        if settled is None:
            return b""
        rng, pos = settled
        parts: list[bytes] = []
        ranges = walk.ranges_after(rng)
        while want > 0:
            tps = rng.tracepoints
            if pos == len(tps):
                nxt = next(ranges, None)
                if nxt is None:
                    break
                rng, pos = nxt, 0
                continue
            tp = tps[pos]
            line = f"{tp.name} {tp.owner} {int(tp.state)} {tp.nprobes}\n".encode()
            parts.append(line)
            want -= len(line)
            pos += 1
        walk.place(it, rng, pos)
        return b"".join(parts)

    return fill
