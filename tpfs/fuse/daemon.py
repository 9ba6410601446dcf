"""Running the mount: trio's loop, pyfuse3's session, signals and unmounting.

SIGTERM and SIGINT unmount and end the daemon; an external ``umount`` ends
pyfuse3's loop by itself. Either way the process exits 0 with no mount left.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

import pyfuse3
import trio

log = logging.getLogger(__name__)


class Daemon:
    """One mount of one Operations instance, for the life of the process."""

    def __init__(self, ops: pyfuse3.Operations, mountpoint: str, options: set[str]) -> None:
        self.ops = ops
        self.mountpoint = mountpoint
        self.options = options
        self.signalled = False

    def run(self, ready: Callable[[], None] = lambda: None) -> None:
        """Mount, call ``ready``, serve until unmounted or signalled, clean up."""
        pyfuse3.init(self.ops, self.mountpoint, self.options)
        log.info("mounted %s (pid %d)", self.mountpoint, os.getpid())
        try:
            ready()
            trio.run(self._serve)
        finally:
            # After an external umount there is nothing left to unmount.
            pyfuse3.close(unmount=self.signalled)
        log.info("unmounted %s", self.mountpoint)

    async def _serve(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_signals)
            await pyfuse3.main()
            nursery.cancel_scope.cancel()

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info("%s: unmounting", signal.Signals(signum).name)
                self.signalled = True
                pyfuse3.terminate()
                return
