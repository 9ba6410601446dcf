"""What a file opened with O_NONBLOCK holds now: for tools and tests that drain a
tracefs's ``trace_pipe`` or ``trace_pipe_raw`` (tpfs's or the kernel's) without
waiting for more."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..kernel.ring_buffer_format import PAGE_SIZE


def ready_reads(fd: int, size: int = PAGE_SIZE) -> Iterator[bytes]:
    """Each read of ``size`` bytes ``fd`` (non-blocking) answers, until it would wait
    (EAGAIN) or ends; of a ``trace_pipe_raw``, with the default size, its pages."""
    while True:
        try:
            chunk = os.read(fd, size)
        except BlockingIOError:
            return
        if not chunk:
            return
        yield chunk
