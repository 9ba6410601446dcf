"""Giving freed memory back to the system after the requests that free it.

A ring buffer's pages are bytearrays of about 4 KiB, which glibc serves from
its heap; when a buffer shrinks or its instance goes (or modules unload, or
a histogram goes), they are freed to the heap, which returns to the system
only what lies at its top. So the daemon's RSS stayed at its peak: 183 MiB
after two 64 MiB buffers were shrunk to 1408 KiB. glibc's ``malloc_trim(0)``
releases every whole free page of the heap (10 ms for 135 MiB; some
microseconds when nothing is free).

An instance's buffers hang in reference cycles (its trace array and event
layer), so they are freed by the cyclic garbage collector, not when ``rmdir``
drops them: after a removal the task runs a full collection first (27 ms with
100,000 module tracepoints loaded; Python's own full collections cost the
same, whenever they come).

``HeapTrimmer.freed`` is told after each request that changes something; its
task trims once, ``DELAY`` after the first such request, however many come
meanwhile, so that a stream of writes costs one trim a second at most and an
idle daemon does nothing. Where glibc is not the C library there is no
``malloc_trim``, and nothing is done.
"""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import Callable

import trio

log = logging.getLogger(__name__)

#: Seconds from the first request that may have freed memory to the trim.
DELAY = 1.0


def _malloc_trim() -> Callable[[], object] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


#: glibc's ``malloc_trim(0)``, or None.
MALLOC_TRIM = _malloc_trim()


class HeapTrimmer:
    """Trims the C heap once after a burst of requests that may have freed memory."""

    def __init__(self, delay: float = DELAY,
                 trim: Callable[[], object] | None = MALLOC_TRIM) -> None:
        self.delay = delay
        self._trim = trim
        self._due = trio.Event()
        self._collect = False
        #: How many trims were made (for tests).
        self.trims = 0

    def freed(self, *, cycles: bool = False) -> None:
        """A request may have freed memory (``cycles``: in reference cycles, which a
        collection frees): trim within ``delay``."""
        self._collect = self._collect or cycles
        self._due.set()

    async def run(self) -> None:
        if self._trim is None:
            return
        while True:
            await self._due.wait()
            await trio.sleep(self.delay)
            self._due = trio.Event()
            if self._collect:
                self._collect = False
                gc.collect()
            self._trim()
            self.trims += 1
            log.debug("heap trimmed")
