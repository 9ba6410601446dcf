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
EINTR at once; after a lazy unmount they end as at the end of the file,
so that their readers close and the daemon can end. O_NONBLOCK set or
cleared after the open (``fcntl``) is found the same way, in
``/proc/PID/fdinfo``, before and while a read waits.

pyfuse3 gives each request a worker task, and each worker holds a request
buffer, so waiting reads are capped: at most ``max_waiting`` (by default
``MAX_WAITING``) wait at once and one more is EAGAIN, as if the file was
opened with O_NONBLOCK. Few readers come near it: a CPU has one consuming
reader at a time, and the kernel sends one read of an open file at a time.
"""

from __future__ import annotations

import errno
import logging
import os
import select
from collections.abc import Callable

import pyfuse3
import trio

from ..kernel.errors import TpfsError
from ..tracefs.vfs.handles import PipeHandle

log = logging.getLogger(__name__)

SIGNAL_POLL = 0.1
#: The file system type tpfs mounts show in mountinfo (``subtype=tpfs``).
FSTYPE = "fuse.tpfs"
MAX_WAITING = 128
#: What ``poll`` reports for a file that is always ready (``DEFAULT_POLLMASK``).
ALWAYS_READY = select.POLLIN | select.POLLOUT | select.POLLRDNORM | select.POLLWRNORM
READABLE = select.POLLIN | select.POLLRDNORM


def fd_nonblocking(pid: int, ino: int) -> bool | None:
    """Whether task ``pid`` holds inode ``ino`` of a tpfs mount open with O_NONBLOCK
    now; None when it holds no such file (gone, or handed on to another task).

    pyfuse3 passes a read neither its file's flags nor its caller, so what
    ``fcntl(F_SETFL)`` did after the open (trace-cmd sets O_NONBLOCK, and
    clears it again for its last reads) is found in ``/proc/PID/fdinfo``.
    Only procfs is read: a ``stat`` of the mount here would wait for this
    very daemon.
    """
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
        with open(f"/proc/{pid}/mountinfo") as mountinfo:
            ours = {line.split(maxsplit=1)[0] for line in mountinfo
                    if f" - {FSTYPE} " in line}
    except OSError:
        return None
    wanted = f"ino:\t{ino}\n"
    found: bool | None = None
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                text = info.read()
        except OSError:
            continue
        if wanted not in text:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("mnt_id") in ours:
            found = bool(found) or bool(int(fields.get("flags", "0"), 8) & os.O_NONBLOCK)
    return found


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


def _nonblocking(handle: PipeHandle, pid: int, ino: int) -> bool:
    """The file's O_NONBLOCK now, as far as /proc tells; else as it was opened."""
    now = fd_nonblocking(pid, ino)
    return handle.nonblocking if now is None else now


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

    async def wait(self, handle: PipeHandle, pid: int, ino: int) -> bool:
        """Return once a read of ``handle`` has something to return (at once if it
        does, or if its file is O_NONBLOCK: its read is then EAGAIN); False when
        the mount was detached meanwhile: the read is then the end of the file."""
        if handle.ready() or _nonblocking(handle, pid, ino):
            return True
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
                if fd_nonblocking(pid, ino):
                    return True
                if not self.attached():
                    return False
        finally:
            self.waiting -= 1
        return True
