"""An event probe firing with the event it is attached to (``eprobe_trigger_func``):
the eprobe's filter asked against the event's record, its arguments fetched from
that record into a record of its own.

``EprobeFiring.attached`` gives, for one firing of an event, the firings of the
eprobes on it whose filter passes; the event layer's probes then record each
as they record any event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..events.events import EventLayer
from ..events.filter import Predicate, compile_filter, task_comm
from ..events.firing import Firing
from ..trace.record import Value, layout
from .dynevents import MAX_DYNAMIC_EVENTS
from .eprobe import fetch_value
from .probes import ProbeEvent


class EprobeFiring:
    """The eprobes on each event, firing with it."""

    def __init__(self, layer: EventLayer, eprobes: Callable[[str], Sequence[ProbeEvent]]) -> None:
        self.layer = layer  # the top level's: formats
        #: The event probes attached to an event: each fires when the event does.
        self.eprobes = eprobes
        #: Each filtered eprobe's compiled filter, with the definition it is of.
        self._tests: dict[str, tuple[ProbeEvent, Predicate]] = {}

    def attached(self, firing: Firing) -> list[Firing]:
        """The firings of the eprobes on ``firing``'s event whose filter, if they have
        one, the event's record passes."""
        eprobes = self.eprobes(firing.name)
        if not eprobes:  # the common case: none on the event, nothing to build
            return []
        comm = task_comm(firing.comm)
        return [self._eprobe_firing(e, firing) for e in eprobes
                if e.filter is None or self._test(e)(firing.record, firing.cpu, comm)]

    def _test(self, eprobe: ProbeEvent) -> Predicate:
        """An eprobe's filter, compiled over its attached event's format (once: an
        attached event's format does not change while an eprobe holds it)."""
        test = self._tests.get(eprobe.name)
        if test is None or test[0] is not eprobe:
            assert eprobe.filter is not None and eprobe.attached is not None
            if len(self._tests) >= MAX_DYNAMIC_EVENTS:  # removed ones linger: bounded
                self._tests.clear()
            test = self._tests[eprobe.name] = (eprobe, compile_filter(
                eprobe.filter, self.layer.format(eprobe.attached), self.layer.ncpus))
        return test[1]

    def _eprobe_firing(self, eprobe: ProbeEvent, firing: Firing) -> Firing:
        """An eprobe's record: its arguments fetched from its attached event's."""
        event = layout(self.layer.format(eprobe.name))
        values: dict[str, Value] = {a.name: fetch_value(a, firing.record) for a in eprobe.args}
        record = event.encode(values, pid=firing.pid)
        return Firing(eprobe.name, firing.cpu, firing.pid, firing.comm, 1, record, firing.ts)
