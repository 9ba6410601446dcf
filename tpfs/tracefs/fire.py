"""The ``fire`` file: make tracepoints fire, as the code around them would.

Each line is ``SUBSYS:EVENT [@cpu=N] [@pid=N] [@comm=NAME] [@count=N]
[FIELD=VALUE ...]`` (the ``@`` words anywhere after the name). It fires every
registered instance of the name, ``count`` times, on that CPU (by default the
writer's, as the kernel's markers), as that task (by default the writer), with
the record its ``format`` lays out for those values: integers in decimal or
``0x`` hex, text for ``char[N]`` and ``__data_loc char[]`` fields, zero or
empty for fields not given. Each instance calls its probes through the
registry; the event's own probe (``trace_event_raw_event_*`` with
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
the state the previous firing's triggers left. ``stacktrace`` records an
``ftrace:kernel_stack`` event with an empty stack: tpfs has no kernel stack
to walk. ``COMM`` in a filter is the firing task's ``@comm`` (empty for a
task named by ``@pid`` alone, whose name tpfs does not know).

Hist triggers sit at the tail of the event's trigger list and need the
record, so an event with one runs all its triggers with the record. They
aggregate before the event's own filter is asked, stamped by the instance's
buffer clock, with the task's ``@comm`` (else the saved one for its pid) as
the ``.execname`` of a new entry. The synthetic events their actions fire
are fired, as the same task on the same CPU, once the event that caused
them has its place in the buffer and before its post triggers, into every
instance, their own triggers and histograms included, nested at most
``MAX_SYNTH_NESTING`` deep.

A ``trace_marker`` write runs its instance's ``ftrace:print`` triggers through
the same steps (``mark``): all with the record, there being no soft mode and
no filter of the event's own, around the marker's commit.

A write is one batch: every line is parsed and its record encoded before
anything fires, so a bad line (EINVAL), a name with no instance (ENOENT) or
more than ``MAX_FIRINGS`` firings in all (EINVAL) fires nothing.
"""

from __future__ import annotations

import errno
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..kernel.errors import TpfsError
from ..kernel.registry import Probe, ProbeCall, Registry, Tracepoint
from .control import parse_event_name, split_lines
from .dynevents import MAX_DYNAMIC_EVENTS
from .events import EventLayer, event_probe
from .filter import Predicate, compile_filter, task_comm
from .hist import Firing as HistFiring
from .hist import SynthFiring
from .nodes import Opener
from .probes import ProbeEvent, fetch_value
from .record import KERNEL_STACK_FORMAT, PRINT_EVENT, Value, encode_stack, layout
from .settings import Tracing
from .synth import SYNTH_SYSTEM
from .trace import TraceArray
from .trigger import Trigger

#: Firings one write may ask for: the daemon serves nothing else meanwhile.
MAX_FIRINGS = 100_000
#: How deep synthetic events fired by hist actions may nest: the kernel's ring
#: buffer lets an event be written inside another only a few levels deep
#: (``ring_buffer_nest_start``), so a synthetic event whose histogram fires
#: itself stops there.
MAX_SYNTH_NESTING = 4
MAX_PID = (1 << 22) - 1  # pid_max's ceiling on 64-bit kernels
_NUMBER_RE = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_COMM_MAX = 15  # TASK_COMM_LEN less its NUL


@dataclass(frozen=True, slots=True)
class Firing:
    """One parsed line: what to fire, where, as whom, how often, with which record."""

    name: str
    cpu: int
    pid: int
    comm: str | None
    count: int
    record: bytes
    #: When it happened, on the monotonic clock: a live event's; None for now.
    ts: int | None = None


def _invalid(why: str) -> TpfsError:
    return TpfsError(errno.EINVAL, why)


def _number(word: str, low: int, high: int, what: str) -> int:
    if not _NUMBER_RE.fullmatch(word):
        raise _invalid(f"{what}: {word!r} is not a number")
    value = int(word, 0) if "x" in word.lower() else int(word)
    if not low <= value <= high:
        raise _invalid(f"{what}: {value} is out of range {low}..{high}")
    return value


#: The scheduler events whose pid filtering looks at the tasks they are about
#: (``event_filter_pid_sched_*_probe_pre``), and the fields that name them.
_SCHED_TASKS = {"sched:sched_switch": ("prev_pid", "next_pid"),
                "sched:sched_wakeup": ("pid",), "sched:sched_wakeup_new": ("pid",),
                "sched:sched_waking": ("pid",)}


#: ``options/event-fork`` (``trace_event_follow_fork``): a fork adds the child to
#: each pid list that holds its parent, the task's free removes it.
_FOLLOW_FORK = {"sched:sched_process_fork": ("parent_pid", "child_pid"),
                "sched:sched_process_free": ("pid",)}


def _scheduled_tasks(name: str, fmt: str, record: bytes,
                     table: Mapping[str, tuple[str, ...]] = _SCHED_TASKS) -> tuple[int, ...]:
    """The pids a scheduler event is about (by ``table``): a switch's prev and
    next, the task a wakeup wakes; none for any other event."""
    fields = table.get(name)
    if fields is None:
        return ()
    by_name = layout(fmt).by_name
    pids = []
    for field_name in fields:
        fld = by_name.get(field_name)
        if fld is None:
            return ()
        pids.append(int.from_bytes(record[fld.offset:fld.offset + fld.size], "little",
                                   signed=fld.signed))
    return tuple(pids)


def _pid_allowed(tracing: Tracing, pid: int, tasks: tuple[int, ...]) -> bool:
    """Whether the instance's pid filters let the event record. A switch is left
    out only when both of its tasks are ignored (both named notrace, or neither
    in ``set_event_pid``); a wakeup records when the current task or the woken
    one is traced; any other event when the current task is."""
    if len(tasks) == 2:
        prev, nxt = tasks
        both_notrace = prev in tracing.notrace_pids and nxt in tracing.notrace_pids
        neither_listed = bool(tracing.event_pids) and not (
            prev in tracing.event_pids or nxt in tracing.event_pids)
        return not (both_notrace or neither_listed)
    if len(tasks) == 1:
        return not tracing.ignores(pid) or not tracing.ignores(tasks[0])
    return not tracing.ignores(pid)


class Firer:
    """Parses ``fire`` writes and fires them through the registry."""

    def __init__(self, registry: Registry, layer: EventLayer,
                 targets: Mapping[int, tuple[EventLayer, TraceArray]],
                 eprobes: Callable[[str], Sequence[ProbeEvent]] = lambda name: (),
                 hit: Callable[[str], None] = lambda name: None) -> None:
        self.registry = registry
        self.layer = layer  # the top level's: names and formats
        #: Each trace instance's events and buffers, by the data of its event probes.
        self.targets = targets
        #: The event probes attached to an event: each fires when the event does.
        self.eprobes = eprobes
        #: Told of each firing that reached an event's probes (the profiles count them).
        self.hit = hit
        #: Synthetic events being fired now, one inside another.
        self._nesting = 0
        #: Each filtered eprobe's compiled filter, with the definition it is of.
        self._eprobe_tests: dict[str, tuple[ProbeEvent, Predicate]] = {}

    def parse(self, words: list[str], opener: Opener,
              writer_comm: Callable[[], str | None] | None = None,
              writer_cpu: Callable[[], int] | None = None) -> Firing:
        """One line; ``writer_comm`` and ``writer_cpu`` give the writer's name and
        CPU (looked up once a write)."""
        name = parse_event_name(words[0])
        if not self.layer.exists(name):
            raise TpfsError(errno.ENOENT, f"no tracepoint {name} is registered")
        ncpus = self.layer.ncpus
        cpu: int | None = None
        pid, count = opener.pid, 1
        comm: str | None = None
        named = False  # @pid without @comm: a task whose name was not saved
        event = layout(self.layer.format(name))
        values: dict[str, Value] = {}
        for word in words[1:]:
            key, eq, value = word.partition("=")
            if not eq:
                raise _invalid(f"{word!r} is not WORD=VALUE")
            if key == "@cpu":
                cpu = _number(value, 0, ncpus - 1, "@cpu")
            elif key == "@pid":
                pid, named = _number(value, 0, MAX_PID, "@pid"), True
            elif key == "@comm":
                if not 0 < len(value) <= _COMM_MAX:
                    raise _invalid(f"@comm {value!r} is not 1 to {_COMM_MAX} characters")
                comm = value
                named = True
            elif key == "@count":
                count = _number(value, 1, MAX_FIRINGS, "@count")
            elif key in values:
                raise _invalid(f"field {key} given twice")
            else:
                fld = event.by_name.get(key)
                is_text = fld is not None and fld.kind != "scalar" and fld.is_text
                values[key] = value if is_text else _number(value, -(1 << 63), (1 << 64) - 1,
                                                            key)
        if not named:
            comm = opener.comm if writer_comm is None else writer_comm()
        if cpu is None:
            cpu = opener.cpu(ncpus) if writer_cpu is None else writer_cpu()
        try:
            record = event.encode(values, pid=pid)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        return Firing(name, cpu, pid, comm, count, record)

    def write(self, buf: bytes, opener: Opener) -> None:
        writer_comm = functools.cache(lambda: opener.comm)
        writer_cpu = functools.cache(lambda: opener.cpu(self.layer.ncpus))
        firings = [self.parse(words, opener, writer_comm, writer_cpu)
                   for words in split_lines(buf)]
        if sum(f.count for f in firings) > MAX_FIRINGS:
            raise _invalid(f"more than {MAX_FIRINGS} firings in one write")
        for firing in firings:
            calls = self._calls(firing)
            for _ in range(firing.count):
                for name, call in calls:
                    if self.registry.fire(name, call):
                        self.hit(name)
            if firing.name in _FOLLOW_FORK:
                self._follow_fork(firing)

    def fire_live(self, firing: Firing) -> bool:
        """One event the kernel recorded, fired as a written line is: into every
        instance that has it enabled, through its pid filters, filter, triggers and
        hists, with the kernel's time stamp. False when no instance took it."""
        fired = False
        for name, call in self._calls(firing):
            if self.registry.fire(name, call):
                self.hit(name)
                fired = True
        if firing.name in _FOLLOW_FORK:
            self._follow_fork(firing)
        return fired

    def _follow_fork(self, firing: Firing) -> None:
        """``event_filter_pid_sched_process_fork`` and ``_exit``, in each instance
        with ``event-fork`` set: after the event, as their lowest priority runs."""
        pids = _scheduled_tasks(firing.name, self.layer.format(firing.name), firing.record,
                                _FOLLOW_FORK)
        for _, trace in self.targets.values():
            if not trace.options.values["event-fork"]:
                continue
            for listed in (trace.tracing.event_pids, trace.tracing.notrace_pids):
                if len(pids) == 2:
                    if pids[0] in listed:  # trace_filter_add_remove_task
                        listed.add(pids[1])
                elif pids:
                    listed.discard(pids[0])

    def _calls(self, firing: Firing) -> list[tuple[str, ProbeCall]]:
        """What firing the event calls: its probes, and those of the eprobes on it
        whose filter, if they have one, the event's record passes."""
        calls = [(firing.name, self._probe_call(firing))]
        comm = task_comm(firing.comm)
        calls.extend((e.name, self._probe_call(self._eprobe_firing(e, firing)))
                     for e in self.eprobes(firing.name)
                     if e.filter is None or self._eprobe_test(e)(firing.record, firing.cpu, comm))
        return calls

    def _eprobe_test(self, eprobe: ProbeEvent) -> Predicate:
        """An eprobe's filter, compiled over its attached event's format (once: an
        attached event's format does not change while an eprobe holds it)."""
        test = self._eprobe_tests.get(eprobe.name)
        if test is None or test[0] is not eprobe:
            assert eprobe.filter is not None and eprobe.attached is not None
            if len(self._eprobe_tests) >= MAX_DYNAMIC_EVENTS:  # removed ones linger: bounded
                self._eprobe_tests.clear()
            test = self._eprobe_tests[eprobe.name] = (eprobe, compile_filter(
                eprobe.filter, self.layer.format(eprobe.attached), self.layer.ncpus))
        return test[1]

    def _fire_synth(self, synth: SynthFiring, cause: Firing) -> None:
        """``trace_synth``: a hist action fires a synthetic event, as the task and
        on the CPU of the event that caused it, in every instance."""
        if self._nesting >= MAX_SYNTH_NESTING:
            return
        name = f"{SYNTH_SYSTEM}:{synth.event}"
        record = layout(self.layer.format(name)).encode(synth.values, pid=cause.pid)
        self._nesting += 1
        try:
            for event, call in self._calls(Firing(name, cause.cpu, cause.pid, cause.comm, 1,
                                                  record, cause.ts)):
                self.registry.fire(event, call)
        finally:
            self._nesting -= 1

    def _eprobe_firing(self, eprobe: ProbeEvent, firing: Firing) -> Firing:
        """An eprobe's record: its arguments fetched from its attached event's."""
        event = layout(self.layer.format(eprobe.name))
        values: dict[str, Value] = {a.name: fetch_value(a, firing.record) for a in eprobe.args}
        record = event.encode(values, pid=firing.pid)
        return Firing(eprobe.name, firing.cpu, firing.pid, firing.comm, 1, record, firing.ts)

    def _probe_call(self, firing: Firing) -> ProbeCall:
        name, record, cpu, pid = firing.name, firing.record, firing.cpu, firing.pid
        own = event_probe(name).func
        subsys, _, event = name.partition(":")
        fmt = self.layer.format(name)
        comm = task_comm(firing.comm)
        targets = self.targets
        tasks = _scheduled_tasks(name, fmt, record)

        def call(tp: Tracepoint, probe: Probe) -> None:
            if probe.func != own:
                return
            target = targets.get(probe.data)  # the instance whose probe this is
            if target is None:
                return
            layer, trace = target
            tracing = trace.tracing
            allowed = _pid_allowed(tracing, pid, tasks)
            triggers = layer.triggers(name)
            hists = layer.hist.triggered(subsys, event)
            if not triggers and not hists:  # the common case, in short: the same steps
                if allowed and not layer.soft_disabled(name):
                    predicate = layer.predicate(name)
                    if predicate is None or predicate(record, cpu, comm):
                        trace.record(cpu, record, firing.comm, subsys, fmt, firing.ts)
                return
            # A hist trigger needs the record (EVENT_CMD_FL_NEEDS_REC).
            cond = hists or any(t.needs_record for t in triggers)
            if not cond:  # trace_trigger_soft_disabled
                for trigger in triggers:
                    self._act(trigger, firing, layer, trace)
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

        return call

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
                    self._act(trigger, firing, layer, trace)
        # The time stamp is the buffer clock's.
        synths = layer.hist.fire(subsys, event, HistFiring(
            record, cpu, pid, trace.cmdlines.find(pid) if firing.comm is None
            else firing.comm, trace.stamp(firing.ts),
            ts_in_ns=trace.in_ns)) if layer.hist.triggered(subsys, event) else []
        commit()
        for synth in synths:  # nested in the event, which took its place first
            self._fire_synth(synth, firing)
        for trigger in post:
            self._act(trigger, firing, layer, trace)

    def _act(self, trigger: Trigger, firing: Firing, layer: EventLayer,
             trace: TraceArray) -> None:
        """One trigger's ``func``: each acts, and counts, only when it changes something."""
        tracing = trace.tracing
        command = trigger.command
        if command == "traceon":
            if trigger.take(tracing.tracing_on):
                tracing.tracing_on = True
        elif command == "traceoff":
            if trigger.take(not tracing.tracing_on):
                tracing.tracing_on = False
        elif command == "stacktrace":
            if trigger.take(False):
                trace.record(firing.cpu, encode_stack(pid=firing.pid), firing.comm,
                             "ftrace", KERNEL_STACK_FORMAT, firing.ts)
        else:
            assert trigger.target is not None
            disable = command == "disable_event"
            if trigger.take(layer.soft_disabled(trigger.target) == disable):
                layer.set_soft_disabled(trigger.target, disable)
