"""Open-file handles: what a read() or write() on one open file does."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from ..kernel.errors import TpfsError
from .seqfile import SeqFile, SeqOperations


class Handle:
    """A handle that neither reads nor writes; subclasses allow one or both."""

    __slots__ = ()

    def read(self, offset: int, size: int) -> bytes:
        raise TpfsError(errno.EINVAL, "file is not readable")

    def write(self, offset: int, buf: bytes) -> int:
        raise TpfsError(errno.EINVAL, "file is not writable")


#: Applies one write; returns the bytes it consumed (None: all of them).
Apply = Callable[[bytes], "int | None"]


def apply_write(apply: Apply, buf: bytes) -> int:
    """Hand ``buf`` to ``apply``; the count a write() returns."""
    used = apply(buf)
    return len(buf) if used is None else used


class SeqHandle(Handle):
    """A listing read through its own seq_file cursor; with ``apply``, writable too
    (each write handed to it, the offset ignored)."""

    __slots__ = ("seq", "apply")

    def __init__(self, ops: SeqOperations[Any, Any], apply: Apply | None = None) -> None:
        self.seq: SeqFile[Any, Any] = SeqFile(ops)
        self.apply = apply

    def read(self, offset: int, size: int) -> bytes:
        return self.seq.read(offset, size)

    def write(self, offset: int, buf: bytes) -> int:
        if self.apply is None:
            return super().write(offset, buf)
        return apply_write(self.apply, buf)




#: Whether the object a file stands for still exists.
Alive = Callable[[], bool]


class TextHandle(Handle):
    """A small file: rendered whole by a read from offset 0 (as seq_file's
    single_open does at each read from the start), later offsets sliced from
    that rendering, and each write() handed to ``apply`` with its offset
    ignored. Without ``render`` it is write-only; without ``apply``,
    read-only. Once ``alive`` says the object behind the file is gone, reads
    and writes fail with ENODEV, as the kernel's stale tracefs files do."""

    __slots__ = ("render", "apply", "alive", "data")

    def __init__(self, render: Callable[[], str] | None, apply: Apply | None = None,
                 alive: Alive | None = None) -> None:
        self.render = render
        self.apply = apply
        self.alive = alive
        self.data = b""

    def _check_alive(self) -> None:
        if self.alive is not None and not self.alive():
            raise TpfsError(errno.ENODEV, "the file's object is gone")

    def read(self, offset: int, size: int) -> bytes:
        if self.render is None:
            return super().read(offset, size)
        self._check_alive()
        if offset == 0:
            self.data = self.render().encode()
        return self.data[offset:offset + size]

    def write(self, offset: int, buf: bytes) -> int:
        if self.apply is None:
            return super().write(offset, buf)
        self._check_alive()
        return apply_write(self.apply, buf)
