"""Reads that wait for data (``trace_pipe``), and ``poll`` on the files that have it.

A read of a pipe-like file (``PipeHandle``) with nothing to return waits on
trio for the next write to the mount instead of returning, so the worker
task serving it is parked and every other request goes on being served.
It reads state only once it is done waiting, then reads it without awaiting.

A waiting read costs next to nothing while it waits. What ends it:

- data: every request that may have changed what a pipe holds calls
  ``changed``, which wakes the waiting reads to look again;
- a signal to the reading task: the kernel sends FUSE_INTERRUPT, libfuse
  records it on the request and ``request.Request`` wakes the read, which
  ends with EINTR, as the kernel's ``trace_pipe`` wait ends on a pending
  signal. The reading task is the request's own (``cat <&3`` after the shell
  opened fd 3), and a SIGKILL ends the read at once instead of leaving the
  reader in D state until data comes. Where the request cannot be found in
  pyfuse3 (see ``request``), the read falls back on looking at the opener's
  pending signals in ``/proc/PID/status`` every ``SIGNAL_POLL`` seconds;
- O_NONBLOCK set with ``fcntl`` while it waits: looked up once per request
  (``fdflags``: a whole fd table is read once, in chunks, then one fdinfo
  file), then only in the remembered fdinfo file, every ``TICK`` seconds;
- unmounting: every wait ends with EINTR at once; after a lazy unmount
  (noticed within ``TICK``) they end as at the end of the file, so that
  their readers close and the daemon can end.

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
from collections.abc import Callable

import pyfuse3
import trio

from ..kernel.errors import TpfsError
from ..tracefs.vfs.handles import PipeHandle
from .fdflags import FileFlags
from .request import Request

log = logging.getLogger(__name__)

#: How often a waiting read looks at its file's flags and the mount (seconds).
TICK = 0.5
#: How often a read whose request was not found looks for the opener's signals.
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


class Caller:
    """The task a read waits for: the request's own when found (its interrupt
    wakes the read), else the opener's, whose signals are polled."""

    __slots__ = ("pid", "request")

    def __init__(self, pid: int, request: Request | None) -> None:
        self.pid = pid
        self.request = request

    def signalled(self) -> bool:
        if self.request is not None:
            return self.request.interrupted
        return signal_pending(self.pid)

    @property
    def tick(self) -> float:
        return TICK if self.request is not None else SIGNAL_POLL


class Waiters:
    """The reads waiting for data and the polls waiting to be told, of one mount.

    ``changed`` is called after every request that may have changed what a
    pipe holds (each write, each open): it wakes every waiting read to look
    again and notifies each poll whose file became ready.
    """

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        #: Whether the mount is still attached (the daemon sets it): after a lazy
        #: unmount waiting reads end, so their files close and the daemon can end.
        self.attached: Callable[[], bool] = lambda: True
        self.waiting = 0
        self.closing = False
        self._changed = trio.Event()
        self._polls: dict[int, tuple[PipeHandle, pyfuse3.PollHandle]] = {}
        #: When ``attached`` was last asked, and its answer: one look per TICK
        #: for all waiting reads.
        self._attached_seen: tuple[float, bool] = (-TICK, True)

    def changed(self) -> None:
        if self.waiting:
            self._wake()
        for fh, (handle, poll_handle) in list(self._polls.items()):
            if handle.poll_ready():
                del self._polls[fh]
                poll_handle.notify()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

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

    def _still_attached(self) -> bool:
        now = trio.current_time()
        seen, answer = self._attached_seen
        if now - seen >= TICK:
            answer = self.attached()
            self._attached_seen = (now, answer)
        return answer

    async def nonblocking(self, flags: FileFlags, pid: int) -> bool:
        """The file's O_NONBLOCK now, as task ``pid`` holds it: from the remembered
        fdinfo file, else from a scan of its fd table that lets other requests
        in between chunks, else as the file was opened."""
        known = flags.known(pid)
        if known is not None:
            return known
        found: list[bool] = []
        for _ in flags.locate(pid, found):
            await trio.lowlevel.checkpoint()
        return found[0] if found else flags.opened_nonblocking

    async def wait(self, handle: PipeHandle, caller: Caller, flags: FileFlags) -> bool:
        """Return once a read of ``handle`` has something to return (at once if its
        file is O_NONBLOCK: its read is then EAGAIN); False when the mount was
        detached meanwhile: the read is then the end of the file. The caller
        has checked that the read cannot return at once."""
        if await self.nonblocking(flags, caller.pid):
            return True
        if self.waiting >= self.max_waiting:
            log.warning("%d reads already wait: EAGAIN for task %d", self.waiting, caller.pid)
            raise TpfsError(errno.EAGAIN, "too many waiting reads")
        self.waiting += 1
        if caller.request is not None:
            caller.request.listen(self._wake)
        try:
            while not handle.has_data():
                if self.closing:
                    raise TpfsError(errno.EINTR, "unmounting")
                if caller.signalled():
                    raise TpfsError(errno.EINTR, f"task {caller.pid} was interrupted")
                if flags.nonblocking(caller.pid):
                    return True
                if not self._still_attached():
                    return False
                with trio.move_on_after(caller.tick):
                    await self._changed.wait()
        finally:
            if caller.request is not None:
                caller.request.release()
            self.waiting -= 1
        return True
