"""The trace-event layer over the registry: what events/ and set_event show and do.

An event is a registered tracepoint name. Enabling it registers the
built-in probe ``trace_event_raw_event_EVENT`` on the name, as the kernel's
trace events do; disabling unregisters it, so the enabled state is read
back from the registry and never stored twice. Triggers put events in
"soft mode" (``__ftrace_event_enable_disable`` with ``soft_disable``): the
event that has triggers, and the target of an ``enable_event`` or
``disable_event``, keep their probe registered while they have such users,
and are "soft disabled" (the probe runs, records nothing) unless enabled by
hand or by a trigger; ``enable`` shows ``0*`` or ``1*`` for them.

The index of events (subsystem -> events, in the kernel's orders) is an
``EventIndex`` that follows the registry's modules.

Ids and formats are an ``EventTypes`` the top level and instances share.
Filters (their text and, when the text was taken, its compiled
predicate), triggers and soft-mode state are remembered per event in one
``EventFile`` (the kernel's ``trace_event_file``) and dropped when the
last instance of the name goes (hist triggers, kept by the layer's
``HistContext``, with those that match the event or read its variables);
at most ``MAX_FILTERS`` events hold a filter and ``MAX_TRIGGERS``
triggers, hist ones included, exist at once (each text is under a page,
as the kernel requires), which bounds their number.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ...kernel.errors import TpfsError
from ...kernel.registry import Module, Probe, ProbeChange, Registry
from ..kstr import SPACES
from ..trace.record import PRINT_EVENT, PRINT_FORMAT
from ..trace.settings import host_cpus, log_error
from ..trace.trace import TraceArray
from .catalog import Catalog
from .enable_value import parse_bool, parse_enable_number
from .event_file import EventFile
from .event_types import COMMON_FIELDS as COMMON_FIELDS  # the header every format has
from .event_types import DYNAMIC_ID_TOP as DYNAMIC_ID_TOP
from .event_types import EventTypes
from .filter import (
    BAD_SUBSYS_FILTER,
    MAX_WRITE,
    Field,
    FilterError,
    Predicate,
    check_filter,
    compile_filter,
    filter_fields,
)
from .hist import HistContext, HistError, Resolvers, SortBudget
from .index import EventIndex
from .synth import SynthEvent
from .trigger import TRIGGER_HELP, Trigger, hist_line, parse_trigger

#: Bounds on what writers can make the daemon remember (the kernel has none:
#: its memory is the machine's). Past them a write is ENOSPC and changes nothing.
MAX_FILTERS = 65536  # events with a filter (or a filter's error) shown
MAX_TRIGGERS = 65536  # triggers over all events
FILTER_ERROR = "event filter parse error"
#: Events that take triggers but are no tracepoint, by their format: the code
#: that writes their record runs their triggers (``ftrace:print``: a
#: ``trace_marker`` write). No probe of theirs is registered, so they have no
#: soft mode, and no trigger can name them as its target.
UNPROBED = {PRINT_EVENT: PRINT_FORMAT}


def event_probe(name: str, data: int = 0) -> Probe:
    """The probe that enabling ``name`` registers; ``data`` tells the trace
    instance (the kernel passes the instance's ``trace_event_file``)."""
    return Probe(f"trace_event_raw_event_{name.partition(':')[2]}", data)


def _split(name: str) -> tuple[str, str]:
    """``S:E`` as the hist layer names events."""
    system, _, event = name.partition(":")
    return system, event


def _written(buf: bytes) -> str:
    """A filter or trigger write as the kernel reads it: one page at most, to a NUL,
    without trailing blanks (leading ones stay: ``strstrip`` keeps the pointer)."""
    if len(buf) >= MAX_WRITE:
        raise TpfsError(errno.EINVAL, "a filter or trigger write must be under a page")
    return buf.split(b"\0", 1)[0].decode("latin-1").rstrip(SPACES)


@dataclass
class EventLayer:
    """Events, their ids, formats, filters and triggers, over one registry: the
    event side of one trace instance, recording into ``trace``."""

    registry: Registry
    catalog: Catalog
    #: The instance's trace array: enabling an event expands its buffer
    #: (``tracing_update_buffers``), a hist trigger with time stamps sets its clock,
    #: and a module going whose events were used empties it.
    trace: TraceArray
    ncpus: int = field(default_factory=host_cpus)
    error_log: list[str] = field(default_factory=list)
    #: The data of this layer's event probes: 0 for the top-level instance.
    probe_data: int = 0
    #: The top-level layer, whose ids and formats an instance's layer uses.
    shared: EventLayer | None = None
    #: Each event's state in this instance (filter, triggers, soft mode), for
    #: the events that have any.
    _files: dict[str, EventFile] = field(default_factory=dict)
    _nfilters: int = 0  # files with a filter (or a filter's error) shown
    _ntriggers: int = 0  # hist triggers included
    #: The hist triggers of this instance's events (``hist:...`` in ``trigger``).
    hist: HistContext = field(init=False)
    #: How the ``hist`` file names addresses (``.sym``) and syscalls.
    resolvers: Resolvers = field(default_factory=Resolvers)
    #: The synthetic events hist actions may fire, by bare name (every instance
    #: shares the one dict the dynamic events keep).
    synth_events: dict[str, SynthEvent] = field(default_factory=dict)
    #: By an eprobe's event name, the event it is attached to (the dynamic events'
    #: dict, shared): ``_change_probes`` holds that event in soft mode with it.
    eprobe_hosts: Mapping[str, str] = field(default_factory=dict)
    #: What every ``hist`` handle may hold at once (one for the daemon, shared).
    sort_budget: SortBudget = field(default_factory=SortBudget)

    #: The events by subsystem, in the kernel's orders.
    index: EventIndex = field(init=False)
    #: Ids and formats: the top level's, shared by every instance.
    types: EventTypes = field(init=False)

    def __post_init__(self) -> None:
        self.hist = HistContext(self._hist_format, self.synth_events, ncpus=self.ncpus)
        self.index = EventIndex(self.registry)
        self.types = self.shared.types if self.shared is not None else EventTypes(
            self.registry, self.catalog, UNPROBED)
        for module in self.registry.modules.values():
            self._module_coming(module)
        self.registry.module_coming_hooks.append(self._module_coming)
        self.registry.module_going_hooks.append(self._module_going)

    # -- what exists -------------------------------------------------------
    def exists(self, name: str) -> bool:
        return bool(self.registry.instances(name))

    def subsystems(self) -> Mapping[str, Mapping[str, int]]:
        """Subsystem -> event -> readdir key, in registration order (a live view)."""
        return self.index.subsystems()

    def subsystem_listing(self) -> list[tuple[int, str]]:
        return self.index.subsystem_listing()

    def event_listing(self, subsys: str) -> list[tuple[int, str]]:
        return self.index.event_listing(subsys)

    def names_of(self, subsys: str) -> list[str]:
        return self.index.names_of(subsys)

    def all_names(self) -> list[str]:
        return self.index.all_names()

    def match(self, token: str) -> list[str]:
        return self.index.match(token)

    # -- id and format -----------------------------------------------------
    def event_id(self, name: str) -> int:
        return self.types.event_id(name)

    def format(self, name: str) -> str:
        return self.types.format(name)

    def define_format(self, name: str, make: Callable[[int], str]) -> None:
        """Give ``name`` (a dynamic event) the format ``make`` writes for its id."""
        self.types.define_format(name, make)

    def forget_format(self, name: str) -> None:
        """The dynamic event ``name`` is gone: a later one of that name has its own."""
        self.types.forget_format(name)

    # -- each event's state (its trace_event_file) -------------------------
    def _file(self, name: str) -> EventFile:
        """The event's state, made if it has none yet."""
        file = self._files.get(name)
        if file is None:
            file = self._files[name] = EventFile()
        return file

    def _tidy(self, name: str) -> None:
        """Forget the event's state if it holds nothing."""
        file = self._files.get(name)
        if file is not None and file.idle:
            del self._files[name]

    def _with_triggers(self) -> list[tuple[str, EventFile]]:
        return [(name, file) for name, file in self._files.items() if file.triggers]

    # -- enabling ----------------------------------------------------------
    def probe(self, name: str) -> Probe:
        """This layer's probe for ``name``."""
        return event_probe(name, self.probe_data)

    def enabled(self, name: str) -> bool:
        """Whether the event's probe is registered (``EVENT_FILE_FL_ENABLED``),
        soft-disabled or not."""
        entry = self.registry.get_tracepoint(name)
        return entry is not None and self.probe(name) in entry.funcs

    def enable_text(self, name: str) -> str:
        """An event's ``enable``: ``1`` if it records, ``*`` after it in soft mode."""
        file = self._files.get(name)
        soft = file is not None and file.soft_disabled
        text = "1" if self.enabled(name) and not soft else "0"
        return text + ("*" if soft or (file is not None and file.soft_mode) else "") + "\n"

    def set_enabled(self, names: list[str], on: bool) -> None:
        """Enable or disable every one of ``names``, or (refused) none.

        An event in soft mode keeps its probe when disabled: it is only
        soft-disabled, as ``__ftrace_event_enable_disable`` leaves it.
        """
        if on:
            self.trace.tracing.expand()  # tracing_update_buffers
        changes = [ProbeChange(name, self.probe(name), on) for name in names
                   if self.enabled(name) != on and (on or not self._soft_mode(name))]
        self._change_probes(changes)
        for name in names:
            file = self._file(name) if on or name in self._files else None
            if file is None:
                continue
            file.was_enabled |= on
            file.soft_disabled = not on and file.soft_mode
            self._tidy(name)

    def _soft_mode(self, name: str) -> bool:
        file = self._files.get(name)
        return file is not None and file.soft_mode

    def enable_write(self, names: list[str], buf: bytes, subsystem: bool) -> None:
        """A write to an ``enable`` file over ``names``. The buffer is expanded once
        the value is a number (``system_enable_write``, before its 0/1 check) or
        is 0 or 1 (``event_enable_write``), so also by a disable or a refusal."""
        value = parse_enable_number(buf)
        if subsystem or value in (0, 1):
            self.trace.tracing.expand()  # tracing_update_buffers
        self.set_enabled(names, parse_bool(buf))

    def soft_disabled(self, name: str) -> bool:
        """``EVENT_FILE_FL_SOFT_DISABLED``: the probe runs but records nothing."""
        file = self._files.get(name)
        return file is not None and file.soft_disabled

    def set_soft_disabled(self, name: str, disabled: bool) -> None:
        """What ``enable_event``/``disable_event`` triggers do to their target."""
        if disabled or name in self._files:
            self._file(name).soft_disabled = disabled
            self._tidy(name)

    def _soft_enter(self, names: list[str]) -> None:
        """A soft-mode user each for ``names``: the first registers a probe that
        is not there, soft-disabled. All or (refused by the registry) none."""
        names = [n for n in names if n not in UNPROBED]
        fresh = [n for n in dict.fromkeys(names)
                 if not self._soft_mode(n) and not self.enabled(n)]
        self._change_probes([ProbeChange(n, self.probe(n), True) for n in fresh])
        for name in fresh:
            file = self._file(name)
            file.soft_disabled = file.was_enabled = True
        for name in names:
            self._file(name).soft_users += 1

    def _soft_leave(self, names: list[str]) -> None:
        """The last user gone, a soft-disabled event's probe goes with it."""
        for name in names:
            if name in UNPROBED:
                continue
            file = self._files[name]
            file.soft_users -= 1
            if file.soft_users:
                continue
            if file.soft_disabled:
                file.soft_disabled = False
                if self.enabled(name):
                    self._change_probes([ProbeChange(name, self.probe(name), False)])
            self._tidy(name)

    def _change_probes(self, changes: list[ProbeChange]) -> None:
        """Register and unregister this layer's probes, all or (refused) none; an
        eprobe's attached event is in soft mode while the eprobe's probe is there,
        as ``enable_eprobe``'s trigger puts it (kernel/trace/trace_eprobe.c)."""
        self.registry.change_probes(changes)
        hosts = self.eprobe_hosts
        leaving = [hosts[c.name] for c in changes if not c.add and c.name in hosts]
        entering = [hosts[c.name] for c in changes if c.add and c.name in hosts]
        if entering:
            try:
                self._soft_enter(entering)
            except TpfsError:
                self.registry.change_probes(
                    [ProbeChange(c.name, c.probe, not c.add) for c in changes])
                raise
        if leaving:
            self._soft_leave(leaving)

    def state(self, names: list[str]) -> str:
        """An enable file: 1 all on, 0 all off, X some of each."""
        states = {self.enabled(n) for n in names}
        if states == {True}:
            return "1"
        return "X" if len(states) == 2 else "0"

    def set_event_write(self, buf: bytes) -> int:
        """One token per write, as ftrace_event_write; returns the bytes consumed.

        As there, any write expands the buffer first, one that names no event too.
        """
        if buf:
            self.trace.tracing.expand()  # tracing_update_buffers
        text = buf.decode("ascii", "replace")
        stripped = text.lstrip()
        start = len(text) - len(stripped)
        if not stripped:
            return len(buf)
        token = stripped.split(None, 1)[0]
        used = start + len(token)
        if used < len(text):
            used += 1  # the delimiter is consumed too
        on = not token.startswith("!")
        names = self.match(token[1 - on:])  # one "!" only: "!!S:E" names nothing
        if not names:
            raise TpfsError(errno.EINVAL, f"no event matches {token!r}")
        self.set_enabled(names, on)
        return used

    def _enabled_names(self) -> list[str]:
        """The enabled events, from the registry's probed entries (not every event)."""
        probed = self.registry.entries
        return [n for n, entry in probed.items()
                if self.probe(n) in entry.funcs and self.exists(n)]

    def set_event_text(self) -> str:
        return "".join(f"{n}\n" for n in sorted(self._enabled_names(), key=self.index.position))

    def disable_all(self) -> None:
        self.set_enabled(self._enabled_names(), False)

    # -- filters -----------------------------------------------------------
    def _fields(self, name: str) -> dict[str, Field]:
        """The fields a filter on ``name`` may name: its format's, the top level's
        for an instance (a dynamic event's format is only there)."""
        return filter_fields(self.format(name))

    def filter_text(self, name: str) -> str:
        file = self._files.get(name)
        text = None if file is None else file.filter_text
        return ("none" if text is None else text) + "\n"

    def predicate(self, name: str) -> Predicate | None:
        """The event's filter, compiled; None when it has none that was taken."""
        file = self._files.get(name)
        return None if file is None else file.predicate

    def _show_filter(self, name: str, text: str, predicate: Predicate | None) -> None:
        file = self._file(name)
        self._nfilters += file.filter_text is None
        file.filter_text, file.predicate = text, predicate

    def _take_filter(self, name: str, expr: str) -> None:
        predicate = compile_filter(expr, self.format(name), self.ncpus)  # before any change
        self._show_filter(name, expr, predicate)

    def _drop_filter(self, name: str) -> None:
        file = self._files.get(name)
        if file is None or file.filter_text is None:
            return
        self._nfilters -= 1
        file.filter_text = file.predicate = None
        self._tidy(name)

    def _make_room(self, names: list[str]) -> None:
        """Refuse (ENOSPC) filters on ``names`` that would pass ``MAX_FILTERS``."""
        new = sum(1 for name in names
                  if name not in self._files or self._files[name].filter_text is None)
        if self._nfilters + new > MAX_FILTERS:
            raise TpfsError(errno.ENOSPC, f"more than {MAX_FILTERS} filtered events")

    def _refuse(self, name: str, expr: str, err: FilterError) -> None:
        """Show the error in place of the filter and log it, as ``append_filter_err``."""
        self._show_filter(name, err.show(expr), None)
        log_error(self.error_log, FILTER_ERROR, err.message, expr, err.pos if err.code else 0)

    def set_filter(self, name: str, buf: bytes) -> None:
        """A failed filter replaces the old one with its error and filters nothing."""
        expr = _written(buf)
        if expr.lstrip(SPACES) == "0":
            self._drop_filter(name)
            return
        self._make_room([name])
        err = check_filter(expr, self._fields(name), self.ncpus)
        if err is None:
            self._take_filter(name, expr)
            return
        self._refuse(name, expr, err)
        raise TpfsError(err.errno, f"filter {expr!r}: {err.message}")

    def set_subsystem_filter(self, subsys: str, buf: bytes) -> None:
        """Set every event of ``subsys``; those without the fields show why, as the kernel."""
        expr = _written(buf)
        clear = expr.lstrip(SPACES) == "0"
        names = list(self.names_of(subsys))
        if not clear:
            self._make_room(names)
        for name in names:
            if clear:
                self._drop_filter(name)
                continue
            err = check_filter(expr, self._fields(name), self.ncpus)
            if err is None:
                self._take_filter(name, expr)
            else:
                self._refuse(name, expr, FilterError(err.errno, BAD_SUBSYS_FILTER, 0))

    # -- triggers ----------------------------------------------------------
    def trigger_text(self, name: str) -> str:
        """The kernel's one list: triggers go in at its head, hist triggers at its tail."""
        hists = self.hist.triggers(*_split(name))
        triggers = self.triggers(name)
        if not triggers and not hists:
            return TRIGGER_HELP
        return "".join(t.render() + "\n" for t in triggers) + "".join(
            h.render() for h in hists)

    def triggers(self, name: str) -> list[Trigger]:
        """The event's triggers but hist ones, newest first (a live list; empty if none)."""
        file = self._files.get(name)
        return [] if file is None else file.triggers

    def has_triggers(self, name: str) -> bool:
        """Whether the event has triggers of any kind: then it is in soft mode
        (if it has a probe)."""
        return bool(self.triggers(name)) or self.hist.triggered(*_split(name))

    def _hist_format(self, system: str, event: str) -> str | None:
        name = f"{system}:{event}"
        return self.format(name) if self.exists(name) or name in UNPROBED else None

    def hist_text(self, name: str) -> str:
        """The event's ``hist`` file: each of its histograms, empty if none."""
        return self.hist.show(*_split(name), self.resolvers)

    def set_trigger(self, name: str, buf: bytes) -> None:
        if not buf:
            return
        text = _written(buf)
        hist = hist_line(text)
        if hist is not None:
            self._hist_command(name, hist)
            return
        line = parse_trigger(text, self.exists)
        trigger = line.trigger
        same = [t for t in self.triggers(name) if t.kind == trigger.kind]
        if line.remove:
            if same:
                self._remove_trigger(name, same[0])
            return
        if trigger.filter is not None:
            err = check_filter(trigger.filter, self._fields(name), self.ncpus)
            if err is not None:
                log_error(self.error_log, FILTER_ERROR, err.message, trigger.filter,
                          err.pos if err.code else 0)
                raise TpfsError(err.errno, f"trigger filter {trigger.filter!r}")
            trigger.test = compile_filter(trigger.filter, self.format(name),
                                          self.ncpus)
        if same:
            raise TpfsError(errno.EEXIST, f"a {trigger.command} trigger is already set")
        if self._ntriggers >= MAX_TRIGGERS:
            raise TpfsError(errno.ENOSPC, f"more than {MAX_TRIGGERS} triggers")
        # The target first, then the triggering event (its first trigger only).
        users = [] if trigger.target is None else [trigger.target]
        self._soft_enter(users + ([] if self.has_triggers(name) else [name]))
        self._file(name).triggers.insert(0, trigger)
        self._ntriggers += 1

    def _remove_trigger(self, name: str, trigger: Trigger) -> None:
        self._files[name].triggers.remove(trigger)
        self._ntriggers -= 1
        self._tidy(name)
        users = [] if self.has_triggers(name) else [name]
        self._soft_leave(users + ([] if trigger.target is None else [trigger.target]))

    def _hist_command(self, name: str, line: str) -> None:
        """``event_hist_trigger_parse``: a refused command logs its errors at
        ``hist:S:E``. A command may add or remove histograms on other events too
        (an ``onmatch`` field variable's); each event's first trigger puts it in
        soft mode, as ``hist_trigger_enable`` does, and its last one takes it out."""
        system, event = _split(name)
        if not line.startswith("!") and self._ntriggers >= MAX_TRIGGERS:
            raise TpfsError(errno.ENOSPC, f"more than {MAX_TRIGGERS} triggers")
        before = {key: len(ts) for key, ts in self.hist.hists.items()}
        try:
            self.hist.command(system, event, line)
        except HistError as exc:
            for message, (_, pos) in zip(exc.messages, exc.log, strict=True):
                log_error(self.error_log, f"hist:{system}:{event}", message, exc.command, pos)
            raise
        added = len(self.hist.triggers(system, event)) - before.get((system, event), 0)
        if added > 0:
            self._hist_clock(system, event, added)
        after = {key: len(ts) for key, ts in self.hist.hists.items()}
        self._ntriggers += sum(after.values()) - sum(before.values())
        for key in sorted(before.keys() ^ after.keys()):  # events that gained or lost all
            other = f"{key[0]}:{key[1]}"
            if self.triggers(other):  # its other triggers keep it in soft mode
                continue
            if key in before:
                self._soft_leave([other])
                continue
            try:
                self._soft_enter([other])
            except TpfsError:  # the registry refused its probe: the trigger does not stay
                self._ntriggers -= after.pop(key)
                del self.hist.hists[key]
                raise

    def _hist_clock(self, system: str, event: str, added: int) -> None:
        """``hist_register_trigger``: a trigger with time stamps sets the trace clock
        to its ``clock=``; a clock there is not refuses the trigger."""
        hists = self.hist.hists[system, event]
        for trigger in hists[-added:]:
            if not trigger.data.enable_timestamps:
                continue
            try:
                self.trace.tracing.set_clock(trigger.data.clock)
            except TpfsError:
                del hists[-added:]
                if not hists:
                    del self.hist.hists[system, event]
                log_error(self.error_log, f"hist:{system}:{event}", "Couldn't set trace_clock",
                          trigger.render().rstrip("\n"), 0)
                raise

    def _drop_hists(self, system: str, event: str) -> None:
        """The event's hist triggers go, and those that depend on them."""
        before = {key: len(ts) for key, ts in self.hist.hists.items()}
        for key in self.hist.drop_event(system, event):
            self._ntriggers -= before[key] - len(self.hist.triggers(*key))
            name = f"{key[0]}:{key[1]}"
            if not self.has_triggers(name):
                self._soft_leave([name])

    def detach(self) -> None:
        """Its instance is removed: every trigger, filter and enabled event goes,
        and the layer stops following modules."""
        for name, file in self._with_triggers():
            for trigger in list(file.triggers):
                self._remove_trigger(name, trigger)
        for system, event in list(self.hist.hists):
            self._drop_hists(system, event)
        self.disable_all()
        for name in list(self._files):
            self._drop_filter(name)
        self.registry.module_coming_hooks.remove(self._module_coming)
        self.registry.module_going_hooks.remove(self._module_going)

    # -- modules coming and going ------------------------------------------
    def _module_coming(self, module: Module) -> None:
        if not module.registered:
            return
        self.index.module_coming(module)

    def _module_going(self, module: Module) -> None:
        if not module.registered:
            return
        self.index.module_going(module)
        gone = [name for name in module.events if not self.exists(name)]
        targets = set(gone)
        for name in gone:  # its triggers, and those elsewhere that name it
            for trigger in list(self.triggers(name)):
                self._remove_trigger(name, trigger)
        for other, file in self._with_triggers():
            for trigger in [t for t in file.triggers if t.target in targets]:
                self._remove_trigger(other, trigger)
        for name in gone:  # its histograms, and those that match it or read them
            self._drop_hists(*_split(name))
        used = False
        for name in gone:
            state = self._files.get(name)
            if state is not None:
                state.soft_users, state.soft_disabled = 0, False
            if self.enabled(name):
                self.set_enabled([name], False)
            self._drop_filter(name)
            self.index.remove(name)
            state = self._files.pop(name, None)
            used |= state is not None and state.was_enabled
        if used:
            # The buffers empty, so that no record prints with a later event's format.
            self.trace.clear()
