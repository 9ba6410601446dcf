"""Open-file handles: what a read() or write() on one open file does."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, Protocol

from ...kernel.errors import TpfsError
from .seqfile import SeqFile, SeqOperations


class Handle:
    """A handle that neither reads nor writes; subclasses allow one or both."""

    __slots__ = ()

    def read(self, offset: int, size: int) -> bytes:
        raise TpfsError(errno.EINVAL, "file is not readable")

    def write(self, offset: int, buf: bytes) -> int:
        raise TpfsError(errno.EINVAL, "file is not writable")

    def release(self) -> None:
        """The last close of the open file."""


#: Applies one write; returns the bytes it consumed (None: all of them).
Apply = Callable[[bytes], "int | None"]


def apply_write(apply: Apply, buf: bytes) -> int:
    """Hand ``buf`` to ``apply``; the count a write() returns."""
    used = apply(buf)
    return len(buf) if used is None else used


class SeqHandle(Handle):
    """A listing read through its own seq_file cursor; with ``apply``, writable too
    (each write handed to it, the offset ignored). Once ``alive`` says the
    object behind the file is gone, reads fail with ENODEV."""

    __slots__ = ("seq", "apply", "alive")

    def __init__(self, ops: SeqOperations[Any, Any], apply: Apply | None = None,
                 alive: Alive | None = None) -> None:
        self.seq: SeqFile[Any, Any] = SeqFile(ops)
        self.apply = apply
        self.alive = alive

    def read(self, offset: int, size: int) -> bytes:
        if self.alive is not None and not self.alive():
            raise TpfsError(errno.ENODEV, "the file's object is gone")
        return self.seq.read(offset, size)

    def write(self, offset: int, buf: bytes) -> int:
        if self.apply is None:
            return super().write(offset, buf)
        return apply_write(self.apply, buf)


class Pipe(Protocol):
    """A consuming reader that never waits (``trace.TracePipe``)."""

    def has_data(self) -> bool: ...

    def at_end(self) -> bool: ...

    def poll_ready(self) -> bool: ...

    def read(self, size: int) -> bytes: ...


class PipeHandle(Handle):
    """An open pipe-like file: reads consume, and a read with nothing to
    return is EAGAIN. ``ready`` tells the adapter whether a read would return
    now, so that it can wait (unless ``nonblocking``) before reading;
    ``release`` gives the reader's claim back."""

    __slots__ = ("pipe", "nonblocking", "on_release")

    def __init__(self, pipe: Pipe, nonblocking: bool, on_release: Callable[[], None]) -> None:
        self.pipe = pipe
        self.nonblocking = nonblocking
        self.on_release = on_release

    def ready(self) -> bool:
        return self.pipe.has_data() or self.pipe.at_end()

    def has_data(self) -> bool:
        return self.pipe.has_data()

    def poll_ready(self) -> bool:
        return self.pipe.poll_ready()

    def read(self, offset: int, size: int) -> bytes:
        return self.pipe.read(size)

    def release(self) -> None:
        self.on_release()


class ReleaseHandle(Handle):
    """A write-only file that takes every write and ignores it, and acts at its
    last close (``free_buffer``: only the close matters, so ``echo`` works)."""

    __slots__ = ("on_release",)

    def __init__(self, on_release: Callable[[], None]) -> None:
        self.on_release = on_release

    def write(self, offset: int, buf: bytes) -> int:
        return len(buf)

    def release(self) -> None:
        self.on_release()


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
