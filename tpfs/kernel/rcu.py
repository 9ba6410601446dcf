"""A model of an RCU grace period, for releasing replaced probe arrays.

Readers (a tracepoint firing on another CPU, walking the probe array it
loaded) enter and leave read-side critical sections. ``call_rcu`` queues an
object that may still be in use; it is released once every reader that was
already inside when it was queued has left. With no reader inside, the grace
period is over at once.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class Reader:
    """A read-side critical section; ``epoch`` orders it against callbacks."""

    epoch: int


@dataclass(slots=True)
class GracePeriod:
    """Queued callbacks and the readers that hold them back."""

    released: int = 0
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _epoch: int = 0
    _readers: dict[int, Reader] = field(default_factory=dict)
    _queue: deque[tuple[int, object]] = field(default_factory=deque)

    def read_lock(self) -> Reader:
        reader = Reader(self._epoch)
        self._readers[id(reader)] = reader
        return reader

    def read_unlock(self, reader: Reader) -> None:
        del self._readers[id(reader)]
        if self._queue:
            self._advance()

    def call_rcu(self, obj: object) -> None:
        self._epoch = next(self._clock)
        self._queue.append((self._epoch, obj))
        self._advance()

    @property
    def pending(self) -> int:
        """How many queued objects still wait for their grace period."""
        return len(self._queue)

    def _advance(self) -> None:
        oldest = min((r.epoch for r in self._readers.values()), default=self._epoch)
        while self._queue and self._queue[0][0] <= oldest:
            self._queue.popleft()
            self.released += 1
