"""What the listing files show: records rendered from a resumable cursor.

Each ``fill_*`` function renders whole records starting at the cursor until
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

Fill = Callable[[TracepointIter, int], bytes]


def events_filler(walk: SortedWalk) -> Fill:
    def fill(it: TracepointIter, want: int) -> bytes:
        parts: list[bytes] = []
        rng = walk.get_iter(it)
        while rng is not None:
            first = it.tracepoint
            assert first is not None
            offsets = rng.offsets
            start = offsets[first]
            block = rng.block
            if len(block) - start <= want:  # the rest of this range, whole
                parts.append(block if start == 0 else block[start:])
                want -= len(block) - start
                rng = walk.next_range(it, rng)
                if want <= 0:
                    break
                continue
            last = bisect.bisect_left(offsets, start + want, first + 1, len(offsets) - 1)
            parts.append(block[start:offsets[last]])
            it.tracepoint = last
            break
        return b"".join(parts)

    return fill


def tracepoints_filler(walk: SortedWalk) -> Fill:
    def fill(it: TracepointIter, want: int) -> bytes:
        parts: list[bytes] = []
        rng = walk.get_iter(it)
        while rng is not None and want > 0:
            pos = it.tracepoint
            assert pos is not None
            tps = rng.tracepoints
            while pos < len(tps) and want > 0:
                tp = tps[pos]
                line = f"{tp.name} {tp.owner} {int(tp.state)} {tp.nprobes}\n".encode()
                parts.append(line)
                want -= len(line)
                pos += 1
            it.tracepoint = pos
            if pos == len(tps):
                rng = walk.next_range(it, rng)
        return b"".join(parts)

    return fill
