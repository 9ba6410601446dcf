"""Looking for the next request for a moment after each one, instead of sleeping.

Each FUSE request costs two wake-ups: the caller's request wakes the daemon,
and the reply wakes the caller. On a virtual machine whose idle CPUs halt at
once (cpuidle-haltpoll with ``guest_halt_poll_ns=0``, as on Firecracker),
waking a halted CPU takes tens of microseconds, more than tpfs takes to answer
a ``trace_pipe`` read. A reader that asks again as soon as it is answered
(``cat trace_pipe``: a read per 8 KiB, as the kernel's ``trace_seq`` holds)
pays that on every read.

With a window (``--busy-poll-us``), ``BusyPoll.run`` keeps a task runnable
in trio's loop for that long after each answered request: the loop then asks
epoll for ready file descriptors without waiting, so the next request is
taken as soon as the kernel queues it, on a CPU that never went idle. Once a
window passes with no request, the task waits on an event again: an idle
daemon spends nothing, a busy one at most one window of CPU per request (its
share of one CPU is at most the request rate times the window). It never
delays a request: it yields at each turn of the loop.

It is off unless asked for: it pays only where the caller runs on another
CPU. Where the scheduler would put the caller on the daemon's CPU (each
handing the CPU to the other, no CPU ever idle: the fastest case), a polling
daemon looks busy and pushes the caller to the other CPU, where both
wake-ups are paid again (docs/busy-poll.md has the figures).
"""

from __future__ import annotations

import trio

#: The default window, in microseconds: off (see above).
DEFAULT_WINDOW_US = 0


class BusyPoll:
    """The window after each request in which the daemon does not sleep."""

    __slots__ = ("window", "_last", "_answered", "turns")

    def __init__(self, window: float) -> None:
        #: Seconds; 0 turns it off.
        self.window = window
        self._last = 0.0
        self._answered = trio.Event()
        #: Turns of trio's loop spent polling (for tests and the curious).
        self.turns = 0

    def answered(self) -> None:
        """A request was answered: poll for the next one until a window from now."""
        self._last = trio.current_time()
        self._answered.set()

    async def run(self) -> None:
        if self.window <= 0:
            return
        while True:
            await self._answered.wait()
            self._answered = trio.Event()
            while trio.current_time() - self._last < self.window:
                self.turns += 1
                await trio.lowlevel.checkpoint()
