"""Open-file handles: what a read() or write() on one open file does."""

from __future__ import annotations

import errno
from collections.abc import Callable

from .errors import TpfsError
from .listing import Fill
from .seqfile import SeqFile


class Handle:
    """A handle that neither reads nor writes; subclasses allow one or both."""

    __slots__ = ()

    def read(self, offset: int, size: int) -> bytes:
        raise TpfsError(errno.EINVAL, "file is not readable")

    def write(self, offset: int, buf: bytes) -> int:
        raise TpfsError(errno.EINVAL, "file is not writable")


class SeqHandle(Handle):
    """A listing read through its own seq_file cursor."""

    __slots__ = ("seq",)

    def __init__(self, fill: Fill) -> None:
        self.seq = SeqFile(fill)

    def read(self, offset: int, size: int) -> bytes:
        return self.seq.read(offset, size)


class TextHandle(Handle):
    """Contents rendered once at open, as seq_file's single_open does."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]


class ControlHandle(Handle):
    """Each write() is one command batch; the offset is ignored."""

    __slots__ = ("apply",)

    def __init__(self, apply: Callable[[bytes], None]) -> None:
        self.apply = apply

    def write(self, offset: int, buf: bytes) -> int:
        self.apply(buf)
        return len(buf)
