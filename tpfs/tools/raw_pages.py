"""The pages a ``trace_pipe_raw`` opened with O_NONBLOCK holds now: for tools that
read a tracefs's raw buffers (tpfs's or the kernel's) without waiting."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..kernel.ring_buffer_format import PAGE_SIZE


def ready_pages(fd: int) -> Iterator[bytes]:
    """Each page ``fd`` (a non-blocking ``trace_pipe_raw``) gives, until it would
    wait (EAGAIN) or ends."""
    while True:
        try:
            page = os.read(fd, PAGE_SIZE)
        except BlockingIOError:
            return
        if not page:
            return
        yield page
