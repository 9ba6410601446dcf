"""seq_file: whole records in, byte reads at any offset and size out.

One ``SeqFile`` per open handle. Records are rendered whole; only the copy
to the reader is split, and the unread tail of a split record is kept here
(copied out, so it survives its module vanishing) and served first on the
next read. A read at an offset other than where the last one ended replays
the listing from record 0, as the kernel's seq_read does for pread/lseek.
Nothing is held between reads but the cursor and that tail.
"""

from __future__ import annotations

from .iterator import TracepointIter
from .listing import Fill


class SeqFile:
    __slots__ = ("_fill", "_it", "_pending", "_pos", "_ended")

    def __init__(self, fill: Fill) -> None:
        self._fill = fill
        self._it = TracepointIter()
        self._pending = b""
        self._pos = 0
        self._ended = False  # the cursor ran off the end (it reads as reset)

    def read(self, offset: int, size: int) -> bytes:
        if offset != self._pos:
            self._replay(offset)
        out = self._take(size)
        self._pos += len(out)
        return out

    def _take(self, size: int) -> bytes:
        pending = self._pending
        if len(pending) >= size:
            self._pending = pending[size:]
            return pending[:size]
        want = size - len(pending)
        more = b"" if self._ended else self._fill(self._it, want)
        self._ended = len(more) < want
        data = pending + more if pending else more
        self._pending = data[size:]
        return data[:size]

    def _replay(self, offset: int) -> None:
        self._it.reset()
        self._pending = b""
        self._pos = 0
        self._ended = False
        skipped = self._take(offset)
        self._pos = len(skipped)
