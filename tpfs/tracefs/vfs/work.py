"""Writes whose application may take long: checked whole, then applied in steps.

A ``WorkHandle`` is a write-only file (``fire``) whose ``begin`` checks a
whole write, raising with nothing changed if any of it is bad, and returns
the ``Work`` that applies it. The FUSE adapter calls ``step`` with a
``more`` that says when its slice of time is used up, and serves other
requests between steps, so that no write holds the daemon's one thread for
long; ``write`` applies it all at once, for callers without a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .handles import Handle


class Work(Protocol):
    """A checked write being applied."""

    def step(self, more: Callable[[], bool]) -> bool:
        """Apply some (at least one unit, if any is left), going on while ``more()``;
        True once all is applied."""
        ...


def run(work: Work) -> None:
    """Apply all of ``work`` now."""
    while not work.step(lambda: True):
        pass


class WorkHandle(Handle):
    """A write-only file whose writes are checked by ``start`` and applied in steps;
    the offset is ignored, and a write that passes the check takes all its bytes."""

    __slots__ = ("start",)

    def __init__(self, start: Callable[[bytes], Work]) -> None:
        self.start = start

    def begin(self, offset: int, buf: bytes) -> Work:
        return self.start(buf)

    def write(self, offset: int, buf: bytes) -> int:
        run(self.begin(offset, buf))
        return len(buf)
