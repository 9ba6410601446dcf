"""Records committed in the common case, written to their buffers together.

An event with no triggers, no histogram, no filter or pid filter refusing it
and not soft-disabled is committed by its own probe as soon as it fires
(``own_probe``). Within one slice of a ``fire`` write nothing reads a buffer
or changes what a buffer would do with a record (no other request is served,
and a firing that has triggers or histograms, which could, first flushes what
is pending), so those records are kept here, each admitted and stamped when it
fired, and written per instance and CPU in one ``RingBuffer.write_many``: the
same pages, counters and time stamps as writing each at once.
"""

from __future__ import annotations

from ..trace.trace import TraceArray


class CommitBatch:
    """Admitted and stamped records not yet in their buffers, by instance and CPU."""

    __slots__ = ("_runs",)

    def __init__(self) -> None:
        self._runs: dict[tuple[int, int], tuple[TraceArray, list[int], list[bytes]]] = {}

    def add(self, trace: TraceArray, cpu: int, record: bytes, comm: str | None, subsys: str,
            fmt: str, ts: int | None) -> None:
        """``trace.record``, its write deferred to ``flush``."""
        if not trace.admit(cpu, record, comm, subsys, fmt):
            return
        key = (id(trace), cpu)
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = (trace, [], [])
        run[1].append(trace.stamp(ts))
        run[2].append(record)

    def flush(self) -> None:
        """Write every pending record, in the order each CPU's were added."""
        if not self._runs:
            return
        runs, self._runs = self._runs, {}
        for (_, cpu), (trace, stamps, records) in runs.items():
            trace.buffer.write_many(cpu, stamps, records)
