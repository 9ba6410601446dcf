"""seq_file: whole records in, byte reads at any offset and size out.

A listing supplies ``SeqOperations``: ``start`` settles a cursor on the
record to show next, ``show`` renders one record, ``next`` advances,
``stop`` ends a pass, as the kernel's ``struct seq_operations``. A listing
that can render many records faster than one at a time overrides ``fill``,
which must give the same bytes as the generic loop.

One ``SeqFile`` per open handle. Only the copy to the reader is split: the
unread tail of a split record is kept here (copied out, so it survives its
module vanishing) and served first on the next read. A read at an offset
other than where the last one ended replays the listing from record 0, as
the kernel's seq_read does for pread/lseek. Nothing is held between reads
but the cursor and that tail.
"""

from __future__ import annotations

from typing import Generic, TypeVar

Cursor = TypeVar("Cursor")
Record = TypeVar("Record")


class SeqOperations(Generic[Cursor, Record]):
    """How a listing walks and shows its records."""

    def cursor(self) -> Cursor:
        """A cursor before the first record."""
        raise NotImplementedError

    def start(self, cursor: Cursor) -> Record | None:
        """The record at ``cursor`` (settling it there), or None at the end."""
        raise NotImplementedError

    def next(self, cursor: Cursor) -> Record | None:
        """Advance past the current record; the record now at ``cursor``, or None."""
        raise NotImplementedError

    def stop(self, cursor: Cursor) -> None:
        """End of one pass: release whatever start took (nothing, by default)."""

    def show(self, record: Record) -> bytes:
        raise NotImplementedError

    def fill(self, cursor: Cursor, want: int) -> tuple[bytes, bool]:
        """Whole records from ``cursor`` on, until ``want`` bytes or the end.

        Leaves ``cursor`` on the first record not returned; says whether the
        listing ended (the kernel's iterator resets itself there, so the
        cursor alone cannot say).
        """
        parts: list[bytes] = []
        record = self.start(cursor)
        while record is not None:
            line = self.show(record)
            parts.append(line)
            want -= len(line)
            record = self.next(cursor)
            if want <= 0:
                break
        self.stop(cursor)
        return b"".join(parts), record is None


class SeqFile(Generic[Cursor, Record]):
    __slots__ = ("_ops", "_cursor", "_pending", "_pos", "_ended")

    def __init__(self, ops: SeqOperations[Cursor, Record]) -> None:
        self._ops = ops
        self._cursor = ops.cursor()
        self._pending = b""
        self._pos = 0
        self._ended = False  # the cursor ran off the end

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
        if self._ended:
            more = b""
        else:
            more, self._ended = self._ops.fill(self._cursor, want)
        data = pending + more if pending else more
        self._pending = data[size:]
        return data[:size]

    def _replay(self, offset: int) -> None:
        self._cursor = self._ops.cursor()
        self._pending = b""
        self._pos = 0
        self._ended = False
        skipped = self._take(offset)
        self._pos = len(skipped)
