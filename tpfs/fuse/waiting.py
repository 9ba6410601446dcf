"""Reads that wait for data (``trace_pipe``), and ``poll`` on the files that have it.

A read of a pipe-like file (``PipeHandle``) with nothing to return waits on
trio for the next write to the mount instead of returning, so the worker
task serving it is parked and every other request goes on being served.
It reads state only once it is done waiting, then reads it without awaiting.

FUSE interrupts never reach pyfuse3, and once the daemon has read a request
the kernel waits for its answer even when the caller gets a fatal signal:
a read that waited for data alone would keep ``cat trace_pipe`` alive past
Ctrl-C for as long as nothing is traced. So a waiting read also looks at its
task's pending signals every ``SIGNAL_POLL`` seconds (``/proc/PID/status``:
pending and not blocked) and ends with EINTR when one is there; the kernel's
``trace_pipe`` ends its wait the same way. Unmounting ends every wait with
EINTR at once.

pyfuse3 gives each request a worker task, and each worker holds a request
buffer, so waiting reads are capped: at most ``max_waiting`` (by default
``MAX_WAITING``) wait at once and one more is EAGAIN, as if the file was
opened with O_NONBLOCK. Few readers come near it: a CPU has one consuming
reader at a time, and the kernel sends one read of an open file at a time.
"""

from __future__ import annotations

import errno
import logging
import select

import pyfuse3
import trio

from ..kernel.errors import TpfsError
from ..tracefs.handles import PipeHandle

log = logging.getLogger(__name__)

SIGNAL_POLL = 0.1
MAX_WAITING = 128
#: What ``poll`` reports for a file that is always ready (``DEFAULT_POLLMASK``).
ALWAYS_READY = select.POLLIN | select.POLLOUT | select.POLLRDNORM | select.POLLWRNORM
READABLE = select.POLLIN | select.POLLRDNORM


def signal_pending(pid: int) -> bool:
    """Whether task ``pid`` has a signal pending that it does not block."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            text = status.read()
    except OSError:
        return False
    masks = {}
    for line in text.splitlines():
        key, _, value = line.partition(b":")
        if key in (b"SigPnd", b"ShdPnd", b"SigBlk"):
            masks[key] = int(value, 16)
    return bool((masks.get(b"SigPnd", 0) | masks.get(b"ShdPnd", 0)) & ~masks.get(b"SigBlk", 0))


class Waiters:
    """The reads waiting for data and the polls waiting to be told, of one mount.

    ``changed`` is called after every request that may have changed what a
    pipe holds (each write, each open): it wakes every waiting read to look
    again and notifies each poll whose file became ready.
    """

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        self.waiting = 0
        self.closing = False
        self._changed = trio.Event()
        self._polls: dict[int, tuple[PipeHandle, pyfuse3.PollHandle]] = {}

    def changed(self) -> None:
        if self.waiting:
            self._changed.set()
            self._changed = trio.Event()
        for fh, (handle, poll_handle) in list(self._polls.items()):
            if handle.poll_ready():
                del self._polls[fh]
                poll_handle.notify()

    def close(self) -> None:
        """Unmounting: end every wait now, and every later one at once."""
        self.closing = True
        self._changed.set()

    def poll(self, fh: int, handle: PipeHandle, poll_handle: pyfuse3.PollHandle | None) -> int:
        """The file's readiness; if not ready, keep ``poll_handle`` to notify later."""
        if handle.poll_ready():
            return READABLE
        if poll_handle is not None:
            self._polls[fh] = (handle, poll_handle)
        return 0

    def forget(self, fh: int) -> None:
        self._polls.pop(fh, None)

    async def wait(self, handle: PipeHandle, pid: int) -> None:
        """Return once a read of ``handle`` has something to return (at once if it
        does, or if it was opened O_NONBLOCK: its read is then EAGAIN)."""
        if handle.nonblocking or handle.ready():
            return
        if self.waiting >= self.max_waiting:
            log.warning("%d reads already wait: EAGAIN for task %d", self.waiting, pid)
            raise TpfsError(errno.EAGAIN, "too many waiting reads")
        self.waiting += 1
        try:
            while not handle.has_data():
                if self.closing:
                    raise TpfsError(errno.EINTR, "unmounting")
                with trio.move_on_after(SIGNAL_POLL):
                    await self._changed.wait()
                if signal_pending(pid):
                    raise TpfsError(errno.EINTR, f"task {pid} has a signal pending")
        finally:
            self.waiting -= 1
