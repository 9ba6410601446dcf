"""One firing of an event: what fires, on which CPU, as which task, how often,
with which record.

``fire`` parses its lines into these; the event's probes (``own_probe``), the
eprobes on it and the synthetic events its histograms fire each see one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Firing:
    """What to fire, where, as whom, how often, with which record. Not changed once
    made; not frozen only because a frozen dataclass is built four times slower, and
    a ``fire`` write of distinct lines builds one per line."""

    name: str
    cpu: int
    pid: int
    comm: str | None
    count: int
    record: bytes
    #: When it happened, on the monotonic clock: a live event's; None for now.
    ts: int | None = None
