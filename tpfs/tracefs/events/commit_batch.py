"""Records committed in the common case, written to their buffers together.

An event with no triggers, no histogram, no filter or pid filter refusing it
and not soft-disabled is committed by its own probe as soon as it fires
(``own_probe``). Within one slice of a ``fire`` write (or one kernel page of
``--live`` records, fired together and flushed before the reader yields) nothing
reads a buffer
or changes what a buffer would do with a record (no other request is served,
and a firing that has triggers or histograms, which could, first flushes what
is pending), so those records are kept here, each admitted and stamped when it
fired, and written per instance and CPU in one ``RingBuffer.write_many``: the
same pages, counters and time stamps as writing each at once.

Admitting a record (``TraceArray.admit``) notes its format, comm and tgid. A
record admitted right after one with the same header (event id, flags, pid), CPU,
comm and format into the same instance, with no other comm saved in between,
would note nothing new: it is only stamped and kept. Tracing on, the CPU mask and
the options that admission asks change only between slices or through a trigger,
whose firing flushes first, which forgets what was admitted.
"""

from __future__ import annotations

from ..trace.trace import TraceArray

#: What makes an admission the same as the last one into an instance: CPU, the
#: record's common header, comm, system and format.
_Admitted = tuple[int, bytes, str | None, str, str]


class CommitBatch:
    """Admitted and stamped records not yet in their buffers, by instance and CPU."""

    __slots__ = ("_runs", "_admitted", "_saved")

    def __init__(self) -> None:
        self._runs: dict[tuple[int, int], tuple[TraceArray, list[int], list[bytes]]] = {}
        #: Each instance's last admission in this batch.
        self._admitted: dict[int, _Admitted] = {}
        #: The comm the last admission saved: which saved-comms table, header and comm.
        self._saved: tuple[int, bytes, str | None] | None = None

    def add(self, trace: TraceArray, cpu: int, record: bytes, comm: str | None, subsys: str,
            fmt: str, ts: int | None) -> None:
        """``trace.record``, its write deferred to ``flush``."""
        head = record[:8]
        same = (cpu, head, comm, subsys, fmt)
        key = id(trace)
        saved = (id(trace.cmdlines), head, comm)
        if self._admitted.get(key) != same or self._saved != saved:
            if not trace.admit(cpu, record, comm, subsys, fmt):
                return
            self._admitted[key] = same
            self._saved = saved
        run = self._runs.get((key, cpu))
        if run is None:
            run = self._runs[(key, cpu)] = (trace, [], [])
        run[1].append(trace.stamp(ts))
        run[2].append(record)

    def flush(self) -> None:
        """Write every pending record, in the order each CPU's were added."""
        self._admitted.clear()
        self._saved = None
        if not self._runs:
            return
        runs, self._runs = self._runs, {}
        for (_, cpu), (trace, stamps, records) in runs.items():
            trace.buffer.write_many(cpu, stamps, records)
