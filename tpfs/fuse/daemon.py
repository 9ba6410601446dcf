"""Running the mount: trio's loop, pyfuse3's session, signals and unmounting.

Every signal in ``ENDING`` unmounts and ends the daemon with status 0, however
many arrive and however fast: from the start of ``Daemon.run`` to the exit of
the process they are caught (inside trio's loop by a receiver that stops
pyfuse3's loop, before it by a handler that passes them on to that
receiver), held back or ignored. SIGHUP is logged and ignored, so that a daemon
run in the foreground outlives its terminal. SIGPIPE and SIGXFSZ stay ignored
as Python leaves them: the write that caused them fails with EPIPE or EFBIG
instead, and the daemon's only such writes are to its log, whose reader going
away is no reason to take the mount from its users.

An external ``umount`` ends pyfuse3's loop by itself, and a lazy one does so
when the last file open under the mount closes. Either way the process exits
0. Reads waiting for data (``trace_pipe``) end with EINTR when a signal
unmounts, so that pyfuse3's loop, which waits for every request it has
begun, can end. The daemon unmounts only its own mount, and only while it is the one on
top at the mountpoint: after a lazy unmount a later mount there is left alone.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from types import FrameType

import pyfuse3
import trio

from ..tools.mounting import unescape
from .live import LiveReader
from .operations import Operations

log = logging.getLogger(__name__)

#: The signals that end the daemon: all whose default action ends the process,
#: except SIGHUP, SIGPIPE, SIGXFSZ (see above) and those that report a fault of
#: the process itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS).
ENDING = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
          signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGXCPU, signal.SIGPWR,
          signal.SIGIO, signal.SIGSTKFLT, *range(signal.SIGRTMIN, signal.SIGRTMAX + 1))
CAUGHT = (*ENDING, signal.SIGHUP)


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # a real-time signal between SIGRTMIN and SIGRTMAX
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


def _top_mount(path: str) -> str | None:
    """The device (``major:minor``) of the mount on top at ``path``, if any."""
    device = None
    with open("/proc/self/mountinfo", errors="surrogateescape") as mounts:
        for line in mounts:
            fields = line.split()
            if unescape(fields[4]) == path:
                device = fields[2]
    return device


class Daemon:
    """One mount of one Operations instance, for the life of the process."""

    def __init__(self, ops: Operations, mountpoint: str, options: set[str],
                 live: LiveReader | None = None) -> None:
        self.ops = ops
        #: ``--live``: the reader of the kernel's instance, run beside the requests and
        #: closed (the instance removed) however the daemon ends.
        self.live = live
        self.mountpoint = mountpoint
        self.options = options
        self.early: list[int] = []  # signals caught before the receiver was open
        self.ending = False

    def run(self, ready: Callable[[], None] = lambda: None) -> None:
        """Mount, call ``ready``, serve until unmounted or signalled, clean up."""
        for signum in CAUGHT:
            signal.signal(signum, self._keep)
        # Resolved before mounting: afterwards resolving it would ask this very daemon.
        target = os.path.realpath(self.mountpoint)
        pyfuse3.init(self.ops, self.mountpoint, self.options)
        ours = _top_mount(target)
        self.ops.waiters.attached = lambda: ours is not None and _top_mount(target) == ours
        if ours is not None:
            self.ops.raw_fifos.start(os.makedev(*map(int, ours.split(":"))))
        log.info("mounted %s (pid %d)", self.mountpoint, os.getpid())
        try:
            ready()
            trio.run(self._serve)
        finally:
            # The daemon is ending anyway: it exits 0 whatever comes now. Ignoring
            # discards what _serve held back.
            for signum in CAUGHT:
                signal.signal(signum, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, CAUGHT)
            # Gone after an external umount, detached (and perhaps covered by a
            # later mount) after a lazy one: then there is nothing of ours to unmount.
            pyfuse3.close(unmount=ours is not None and _top_mount(target) == ours)
            self.ops.raw_fifos.close()
            if self.live is not None:
                self.live.close()
        log.info("unmounted %s", self.mountpoint)

    def _keep(self, signum: int, frame: FrameType | None) -> None:
        self.early.append(signum)

    async def _serve(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_signals)
                nursery.start_soon(self.ops.raw_fifos.run)
                nursery.start_soon(self.ops.heap.run)
                nursery.start_soon(self.ops.busy_poll.run)
                if self.live is not None:
                    nursery.start_soon(self.live.run, self.ops.waiters.changed)
                # Room for every waiting read and still workers for the rest.
                await pyfuse3.main(max_tasks=self.ops.waiters.max_waiting + 32)
                nursery.cancel_scope.cancel()
        finally:
            # Held back from here on: trio closes the socket it wakes up on
            # before it stops signals writing to it.
            signal.pthread_sigmask(signal.SIG_BLOCK, CAUGHT)

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(*CAUGHT) as signals:
            for signum in self.early:
                self._on_signal(signum)
            async for signum in signals:
                self._on_signal(signum)

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            log.info("SIGHUP: ignored (SIGTERM unmounts)")
        elif self.ending:
            log.debug("%s: already unmounting", _name(signum))
        else:
            log.info("%s: unmounting", _name(signum))
            self.ending = True
            self.ops.waiters.close()
            pyfuse3.terminate()
