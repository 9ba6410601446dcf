"""An event firing in each instance: the event's own probe and its commit, its
triggers around them, and the synthetic events its histograms fire.

The event's own probe (``trace_event_raw_event_*`` with
``trace_trigger_soft_disabled`` and ``trace_event_buffer_commit``) runs the
event's triggers and records the event unless it is soft-disabled,
set_event_pid refuses the task or its filter does not match.

Triggers act in the kernel's order. With none that needs the record (no
filter, no post trigger), all act before the event is reserved, pid filter
or not: a ``disable_event`` of the event itself keeps it out. Otherwise
the event is reserved first (into the buffer, or into a side buffer when it
is filtered or soft-disabled, so only then does a ``traceon`` come in time),
each trigger's filter is asked against the record, those that pass act,
post triggers (``traceoff``, ``stacktrace``) only after the event is
committed: a ``traceoff`` keeps the event that tripped it. Each firing sees
the state the previous firing's triggers left. ``COMM`` in a filter is the
firing task's ``@comm`` (empty for a task named by ``@pid`` alone, whose name
tpfs does not know).

Hist triggers sit at the tail of the event's trigger list and need the
record, so an event with one runs all its triggers with the record. They
aggregate before the event's own filter is asked, stamped by the instance's
buffer clock, with the task's ``@comm`` (else the saved one for its pid) as
the ``.execname`` of a new entry. The synthetic events their actions fire
are fired (``trace_synth``), as the same task on the same CPU, once the
event that caused them has its place in the buffer and before its post
triggers, into every instance, their own triggers and histograms included,
nested at most ``MAX_SYNTH_NESTING`` deep.

A ``trace_marker`` write runs its instance's ``ftrace:print`` triggers through
the same steps (``mark``): all with the record, there being no soft mode and
no filter of the event's own, around the marker's commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial

from ...kernel.registry import Probe, ProbeCall, Registry, Tracepoint
from ..trace.record import PRINT_EVENT, SYNTH_SYSTEM, layout
from ..trace.trace import TraceArray
from .commit_batch import CommitBatch
from .events import EventLayer, event_probe
from .filter import task_comm
from .filter.evaluate import Predicate
from .firing import Firing
from .hist import HistHit, SynthFiring
from .pid_filter import pid_allowed, scheduled_tasks
from .trigger import Trigger
from .trigger_actions import act

#: How deep synthetic events fired by hist actions may nest: the kernel's ring
#: buffer lets an event be written inside another only a few levels deep
#: (``ring_buffer_nest_start``), so a synthetic event whose histogram fires
#: itself stops there.
MAX_SYNTH_NESTING = 4


#: An own probe's common case, as ``EventProbes._common`` finds it: the trace array
#: and filter to record through, ``SKIP`` (nothing to do) or None (the long way).
Common = tuple[TraceArray, Predicate | None] | str | None
SKIP = "skip"
UNKNOWN = "unknown"


@lru_cache(maxsize=4096)
def _names(name: str) -> tuple[str, str, str]:
    """The function of the probe that enabling ``name`` registers (``event_probe``),
    the event's system and its own name."""
    subsys, _, event = name.partition(":")
    return event_probe(name).func, subsys, event


class EventProbes:
    """What an event's own probe does when it fires, in the instance whose probe
    it is, and what fires with it."""

    def __init__(self, registry: Registry, layer: EventLayer,
                 targets: Mapping[int, tuple[EventLayer, TraceArray]],
                 attached: Callable[[Firing], Sequence[Firing]]) -> None:
        self.registry = registry
        self.layer = layer  # the top level's: names and formats
        #: Each trace instance's events and buffers, by the data of its event probes.
        self.targets = targets
        #: The firings of the events that fire with one (the eprobes on it).
        self.attached = attached
        #: Synthetic events being fired now, one inside another.
        self._nesting = 0
        #: Common-case records not yet written: ``flush`` writes them.
        self.batch = CommitBatch()
        #: Each own probe's common case by (instance, event), found once a slice: the
        #: state it depends on changes only between slices, or by the triggers of a
        #: firing that goes the long way, which flushes (forgetting it all) first.
        self._known: dict[tuple[int, str], Common] = {}
        #: Each event's own-probe function, system, name and format, found once a slice
        #: (a format changes only through requests, served between slices).
        self._events: dict[str, tuple[str, str, str, str]] = {}

    def flush(self) -> None:
        """Write the records the common case committed (see ``commit_batch``): at the
        end of each slice of firings, and before anything that could see a buffer.
        What was found of each own probe's common case is forgotten with them."""
        self.batch.flush()
        self._known.clear()
        self._events.clear()

    def calls(self, firing: Firing) -> list[tuple[str, ProbeCall]]:
        """What firing the event calls: its probes, and those of the events that fire
        with it (the eprobes on it whose filter passes)."""
        calls = [(firing.name, self.probe_call(firing))]
        attached = self.attached(firing)
        if attached:
            calls.extend([(f.name, self.probe_call(f)) for f in attached])
        return calls

    def _fire_synth(self, synth: SynthFiring, cause: Firing) -> None:
        """``trace_synth``: a hist action fires a synthetic event, as the task and
        on the CPU of the event that caused it, in every instance."""
        if self._nesting >= MAX_SYNTH_NESTING:
            return
        name = f"{SYNTH_SYSTEM}:{synth.event}"
        record = layout(self.layer.format(name)).encode(synth.values, pid=cause.pid)
        self._nesting += 1
        try:
            for event, call in self.calls(Firing(name, cause.cpu, cause.pid, cause.comm, 1,
                                                  record, cause.ts)):
                self.registry.fire(event, call)
        finally:
            self._nesting -= 1

    def _common(self, data: int, name: str, subsys: str, event: str) -> Common:
        """What the event's own probe in the instance of ``data`` does now, if it is
        the common case: ``SKIP`` (no such instance, or soft-disabled) or the trace
        array and filter to record through; None if it has triggers or hists."""
        target = self.targets.get(data)
        if target is None:
            return SKIP
        layer, trace = target
        if layer.triggers(name) or layer.hist.triggered(subsys, event):
            return None
        return SKIP if layer.soft_disabled(name) else (trace, layer.predicate(name))

    def probe_call(self, firing: Firing) -> ProbeCall:
        name = firing.name
        found = self._events.get(name)
        if found is None:
            found = self._events[name] = (*_names(name), self.layer.format(name))
        return partial(self._call, firing, found)

    def _call(self, firing: Firing, found: tuple[str, str, str, str], tp: Tracepoint,
              probe: Probe) -> None:
        """The own probe of ``firing``'s event (``found``: its probe's function, system,
        name and format) called by the probe array of ``tp``, as ``probe``."""
        own, subsys, event, fmt = found
        if probe.func != own:
            return
        name = firing.name
        key = (probe.data, name)
        known = self._known
        common = known.get(key, UNKNOWN)
        if common is UNKNOWN:
            common = known[key] = self._common(probe.data, name, subsys, event)
        if isinstance(common, tuple):  # the common case, in short: the same steps
            trace, predicate = common
            tracing = trace.tracing
            record, cpu = firing.record, firing.cpu
            if ((not (tracing.event_pids or tracing.notrace_pids)
                 or pid_allowed(tracing, firing.pid, scheduled_tasks(name, fmt, record)))
                    and (predicate is None
                         or predicate(record, cpu, task_comm(firing.comm)))):
                self.batch.add(trace, cpu, record, firing.comm, subsys, fmt, firing.ts)
            return
        if common is SKIP:
            return
        self._long_way(firing, probe.data, fmt)

    def _long_way(self, firing: Firing, data: int, fmt: str) -> None:
        """The own probe of an event with triggers or hists, in the instance of ``data``."""
        name, record, cpu, pid = firing.name, firing.record, firing.cpu, firing.pid
        _, subsys, event = _names(name)
        target = self.targets.get(data)  # the instance whose probe this is
        if target is None:
            return
        layer, trace = target
        tracing = trace.tracing
        allowed = pid_allowed(tracing, pid, scheduled_tasks(name, fmt, record))
        triggers = layer.triggers(name)
        hists = layer.hist.triggered(subsys, event)
        comm = task_comm(firing.comm)
        # This path writes at once: the records before it go first. The flush also
        # forgets each own probe's common case, which the triggers below may change.
        self.flush()
        # A hist trigger needs the record (EVENT_CMD_FL_NEEDS_REC).
        cond = hists or any(t.needs_record for t in triggers)
        if not cond:  # trace_trigger_soft_disabled
            for trigger in triggers:
                act(trigger, firing, layer, trace)
            if layer.soft_disabled(name):
                return
        if not allowed:
            return
        # trace_event_buffer_reserve: a filtered or soft-disabled event goes to a
        # side buffer and is copied at commit, if tracing is on by then.
        predicate = layer.predicate(name)
        buffered = predicate is not None or layer.soft_disabled(name)
        reserved = buffered or tracing.tracing_on
        if not (reserved or cond):
            return

        def commit() -> None:  # trace_event_buffer_commit
            if (reserved and not layer.soft_disabled(name)
                    and (predicate is None or predicate(record, cpu, comm))):
                trace.record(cpu, record, firing.comm, subsys, fmt, firing.ts)

        self.event_triggers(firing, layer, trace, triggers if cond else [], commit)

    def mark(self, layer: EventLayer, trace: TraceArray, record: bytes, pid: int,
             comm: Callable[[], str | None], cpu: int) -> None:
        """A ``trace_marker`` write's ``ftrace:print`` triggers, as
        ``write_marker_to_buffer`` runs them once its record is reserved: all with
        the record (no soft mode, no filter of the event's own)."""
        if layer.has_triggers(PRINT_EVENT):
            firing = Firing(PRINT_EVENT, cpu, pid, comm(), 1, record)
            self.event_triggers(firing, layer, trace, layer.triggers(PRINT_EVENT),
                                lambda: None)

    def event_triggers(self, firing: Firing, layer: EventLayer, trace: TraceArray,
                       triggers: Sequence[Trigger], commit: Callable[[], object]) -> None:
        """``event_triggers_call`` with the record, ``commit`` (which writes the event,
        or not), then ``event_triggers_post_call``: each trigger whose filter passes
        acts, post triggers after the commit; hist triggers, at the list's tail,
        aggregate before it and the synthetic events they fire follow it."""
        record, cpu, pid = firing.record, firing.cpu, firing.pid
        comm = task_comm(firing.comm)
        subsys, _, event = firing.name.partition(":")
        post: list[Trigger] = []
        for trigger in triggers:
            if trigger.test is None or trigger.test(record, cpu, comm):
                if trigger.post:
                    post.append(trigger)
                else:
                    act(trigger, firing, layer, trace)
        # The time stamp is the buffer clock's.
        synths = layer.hist.fire(subsys, event, HistHit(
            record, cpu, pid, trace.cmdlines.find(pid) if firing.comm is None
            else firing.comm, trace.stamp(firing.ts),
            ts_in_ns=trace.in_ns)) if layer.hist.triggered(subsys, event) else []
        commit()
        for synth in synths:  # nested in the event, which took its place first
            self._fire_synth(synth, firing)
        self.flush()  # the synthetic events' records, before the post triggers act
        for trigger in post:
            act(trigger, firing, layer, trace)
