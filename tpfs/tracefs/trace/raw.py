"""``per_cpu/cpuN/trace_pipe_raw``: the buffer as the kernel's ring-buffer pages.

Each page is what ``events/header_page`` describes (a u64 time stamp, a u64
commit with the missed-events flags, then the events), zero-padded to
``PAGE_SIZE``, consumed whole from the buffer when a read takes it, a page
the writer is still on included (its later events start a new page). A read
of less than a page takes the start of the page and the next read goes on
from there, as ``tracing_buffers_read`` keeps its spare page; a read never
returns more than the rest of one page. With nothing to read it is EAGAIN,
for the adapter to wait on; ``poll`` says readable once the buffer is
``buffer_percent`` full (0: any data).
"""

from __future__ import annotations

import errno

from ...kernel.errors import TpfsError
from ...kernel.ring_buffer_format import PAGE_SIZE
from .trace import TraceArray


class TraceRawPipe:
    """One open ``trace_pipe_raw``: the page it is handing out, and where it is in it."""

    __slots__ = ("trace", "cpu", "page", "read_at")

    def __init__(self, trace: TraceArray, cpu: int) -> None:
        self.trace = trace
        self.cpu = cpu
        self.page = b""
        self.read_at = PAGE_SIZE

    def has_data(self) -> bool:
        return self.read_at < len(self.page) or not self.trace.buffer.empty(self.cpu)

    def at_end(self) -> bool:
        return False  # the kernel's raw reader waits for data, tracing on or off

    def poll_ready(self) -> bool:
        if self.read_at < len(self.page):
            return True
        percent = self.trace.tracing.buffer_percent
        buffer = self.trace.buffer
        return not buffer.empty(self.cpu) and buffer.full_hit(self.cpu, percent)

    def read(self, size: int) -> bytes:
        if self.read_at >= len(self.page):
            page = self.trace.buffer.read_page(self.cpu)
            if page is None:
                raise TpfsError(errno.EAGAIN, "trace_pipe_raw is empty")
            self.page, self.read_at = page.ljust(PAGE_SIZE, b"\0"), 0
        out = self.page[self.read_at:self.read_at + size]
        self.read_at += len(out)
        return out
