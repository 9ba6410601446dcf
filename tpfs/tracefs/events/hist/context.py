"""A trace instance's hist triggers (``HistContext``), over every event.

It takes the lines written to ``events/S/E/trigger`` (``command``: add,
remove, pause, continue, clear), keeps the histograms by event, resolves
variables across them (``$x``, ``S.E.$x``, the histograms made for field
variables), drops those that depend on an event that goes, and on each hit
of an event (``fire``) aggregates it into each histogram's map, reads the
variables it refers to and runs its actions, returning the synthetic events
they fire for the caller to carry out. The ``hist`` file is ``printing.py``'s.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from contextlib import suppress

from ....kernel.errors import TpfsError
from ...kstr import SPACES
from ..filter import check_filter, compile_filter, filter_fields, task_comm
from ..synth import STR_VAR_LEN_MAX, SynthEvent
from .actions import SynthFiring, create_actions, parse_actions, run_actions, save_vars
from .errors import (
    ERR_EVENT_FILE_NOT_FOUND,
    ERR_HIST_CREATE_FAIL,
    ERR_HIST_NOT_FOUND,
    ERR_NAMED_MISMATCH,
    ERR_TOO_MANY_FIELD_VARS,
    ERR_TRIGGER_EEXIST,
    ERR_TRIGGER_ENOENT_CLEAR,
    ERR_VAR_NOT_UNIQUE,
    SYNTH_FIELDS_MAX,
    U64,
    HistError,
    Refused,
)
from .evaluate import Evaluation, HistHit, key_bytes, saved_comm
from .fields import FL_VAR, HistField
from .histogram import (
    Handler,
    HistTrigger,
    HistTriggerData,
    compatible_keys,
    hist_trigger_match,
)
from .parser import Parser, separate_filter
from .printing import Resolvers, render
from .tracing_map import TracingMap, Value


class HistContext:
    """A trace instance's hist triggers, over every event (``tr->hist_vars``).

    ``event_format(system, event)`` gives an event's ``format`` text (None if
    there is no such event); ``synth_events`` maps the synthetic events
    defined to their definitions; ``ncpus`` is for the filters' ``CPUS{}``.
    """

    def __init__(self, event_format: Callable[[str, str], str | None],
                 synth_events: dict[str, SynthEvent] | None = None, ncpus: int = 1) -> None:
        self.event_format = event_format
        self.synth_events = synth_events if synth_events is not None else {}
        self.ncpus = ncpus
        self.hists: dict[tuple[str, str], list[HistTrigger]] = {}

    def triggers(self, system: str, event: str) -> list[HistTrigger]:
        """The event's hist triggers, in the order they came (the ``trigger`` file's)."""
        return list(self.hists.get((system, event), ()))

    def triggered(self, system: str, event: str) -> bool:
        """Whether the event has hist triggers (the firing path's quick question)."""
        return (system, event) in self.hists

    def _named(self, name: str) -> HistTrigger | None:
        return next((t for ts in self.hists.values() for t in ts if t.name == name), None)

    def var_defined(self, data: HistTriggerData, name: str) -> bool:
        """``find_var``: a variable of that name on this trigger or another of its event."""
        if data.find_var(name) is not None:
            return True
        return any(t.data.find_var(name) is not None
                   for t in self.hists.get((data.system, data.event), ()))

    def find_event_var(self, parser: Parser, system: str | None, event: str | None,
                       name: str) -> HistField | None:
        """``find_event_var``: a variable of another histogram, by event or unique."""
        if not system or not event:
            found: HistField | None = None
            for action in parser.data.actions:
                if action.handler is not Handler.ONMATCH:
                    continue
                var = self._file_var(action.match_system, action.match_event, name)
                if var is not None:
                    if found is not None:
                        parser.err(ERR_VAR_NOT_UNIQUE, name)
                        return None
                    found = var
            if found is not None:
                return found
            files = {key for key, ts in self.hists.items()
                     if any(t.data.find_var(name) for t in ts)}
            if len(files) > 1:
                parser.err(ERR_VAR_NOT_UNIQUE, name)
                return None
            if not files:
                return None
            system, event = files.pop()
        return self._file_var(system, event, name)

    def field_var_hist(self, parser: Parser, system: str, event: str,
                       name: str) -> HistField | None:
        """``create_field_var_hist``: a variable ``synthetic_NAME`` saving the field
        ``name`` of that event, on a histogram of its own there (made once, keyed
        and filtered as the first there with keys like the trigger's), which
        shows in that event's ``trigger`` and ``hist`` files."""
        target = parser.data
        if len(target.field_var_hists) >= SYNTH_FIELDS_MAX:
            parser.err(ERR_TOO_MANY_FIELD_VARS, name)
            return None
        fmt = self.event_format(system, event)
        if fmt is None:
            parser.err(ERR_EVENT_FILE_NOT_FOUND, name)
            return None
        compatible = next((t for t in self.hists.get((system, event), ())
                           if compatible_keys(target, t.data)), None)
        if compatible is None:
            parser.err(ERR_HIST_NOT_FOUND, name)
            return None
        var_name = "synthetic_" + name
        var = self._file_var(system, event, var_name)
        if var is not None:
            return var
        cmd = ("keys=" + ",".join(k.display_name for k in compatible.data.keys)
               + f":{var_name}={name}")
        if compatible.filter is not None:
            cmd += " if " + compatible.filter
        # Parsed as written there, its errors logged against the command written here.
        made = Parser(self, HistTriggerData(system, event, fmt), parser.command)
        made.log = parser.log
        try:
            trigger = self._parse(made, cmd, fmt)
            self._register(made, trigger)
        except Refused:
            parser.err(ERR_HIST_CREATE_FAIL, name)
            return None
        target.field_var_hists.append(trigger)
        return trigger.data.find_var(var_name)

    def _file_var(self, system: str, event: str, name: str) -> HistField | None:
        for t in self.hists.get((system, event), ()):
            var = t.data.find_var(name)
            if var is not None:
                return var
        return None

    def command(self, system: str, event: str, line: str) -> None:
        """A write of ``[!]hist:...`` to the event's ``trigger`` file (``line``
        without its newline): adds, removes, pauses, continues or clears.

        Raises ``HistError`` with the kernel's errno and error log entries.
        """
        fmt = self.event_format(system, event)
        if fmt is None:
            raise TpfsError(errno.ENODEV, f"no event {system}:{event}")
        text = line.strip(SPACES)
        glob, colon, param_and_filter = text.partition(":")
        remove = glob == "!hist"
        command = "hist:" + param_and_filter
        if glob not in ("hist", "!hist") or not colon or not param_and_filter.strip(SPACES):
            raise HistError(errno.EINVAL, [], command)
        data = HistTriggerData(system, event, fmt)
        parser = Parser(self, data, command, remove)
        try:
            trigger = self._parse(parser, param_and_filter, fmt)
            if remove:
                self._remove(trigger)
                return
            if self._update_only(trigger):
                return
            self._register(parser, trigger)
        except Refused as refused:
            raise HistError(refused.errno, parser.log, command) from None

    def _parse(self, parser: Parser, text: str, fmt: str) -> HistTrigger:
        param, filter_text = separate_filter(text)
        param = param.replace(".sym-offset", ".symXoffset")
        parser.attrs(param)
        data = parser.data
        parse_actions(parser)
        parser.fields()
        parser.sort_keys()
        data.map = TracingMap(data.map_bits)
        trigger = HistTrigger(data)
        if filter_text is not None:
            keyword, _, cond = filter_text.partition(" ")
            if keyword != "if" or not cond:
                raise Refused()
            if check_filter(cond, filter_fields(fmt), self.ncpus) is not None:
                raise Refused()
            trigger.filter = cond
            trigger.test = compile_filter(cond, fmt, self.ncpus)
        return trigger

    def _match(self, trigger: HistTrigger) -> HistTrigger | None:
        named = self._named(trigger.name) if trigger.name else None
        for test in self.hists.get((trigger.data.system, trigger.data.event), ()):
            if hist_trigger_match(trigger, test, named, False):
                return test
        return None

    def _remove(self, trigger: HistTrigger) -> bool:
        """``hist_unregister_trigger``: whether a trigger went."""
        found = self._match(trigger)
        if found is None:
            return False
        key = (found.data.system, found.data.event)
        if any(ref.owner is found.data for ts in self.hists.values() for t in ts
               if t.data is not found.data for ref in t.data.var_refs):
            raise Refused(errno.EBUSY)
        self.hists[key].remove(found)
        if not self.hists[key]:
            del self.hists[key]
        self._free(found.data)
        return True

    def _free(self, data: HistTriggerData) -> set[tuple[str, str]]:
        """``event_hist_trigger_free``: its last trigger gone, the histograms made
        for its field variables go too (``unregister_field_var_hists``), all but
        those another trigger still reads. Returns the events that lost one."""
        if any(t.data is data for ts in self.hists.values() for t in ts):
            return set()
        gone = set()
        for made in data.field_var_hists:
            with suppress(Refused):
                if self._remove(made):
                    gone.add((made.data.system, made.data.event))
        return gone

    def _update_only(self, trigger: HistTrigger) -> bool:
        """``existing_hist_update_only``: pause, cont or clear an existing trigger."""
        d = trigger.data
        if not (d.pause or d.cont or d.clear):
            return False
        named = None
        if d.name:
            named = self._named(d.name)
            if named is None or not hist_trigger_match(trigger, named, named, True):
                return False
        found = self._match(trigger)
        if found is None:
            return False
        if d.pause:
            found.paused = True
        elif d.cont:
            found.paused = False
        else:
            found.data.map.clear()
        return True

    def _register(self, parser: Parser, trigger: HistTrigger) -> None:
        d = trigger.data
        named = self._named(d.name) if d.name else None
        if named is not None and not hist_trigger_match(trigger, named, named, True):
            raise parser.fail(ERR_NAMED_MISMATCH, d.name)
        if (named is not None or not d.name) and self._match(trigger) is not None:
            raise parser.fail(ERR_TRIGGER_EEXIST, err=errno.EEXIST)
        if d.cont or d.clear:
            raise parser.fail(ERR_TRIGGER_ENOENT_CLEAR, err=errno.ENOENT)
        trigger.paused = d.pause
        if named is not None:
            trigger.data = named.data
        else:
            create_actions(parser)
        self.hists.setdefault((d.system, d.event), []).append(trigger)

    def uses_synth(self, name: str) -> bool:
        """Whether an action of a trigger here fires the synthetic event ``name``."""
        return any(a.synth is not None and a.synth.name == name
                   for ts in self.hists.values() for t in ts for a in t.data.actions)

    def drop_event(self, system: str, event: str) -> set[tuple[str, str]]:
        """The event went: its triggers go, and with them those that match it
        (``onmatch``) or read variables of a trigger gone, and so on. Returns the
        events that lost triggers."""
        lost: set[HistTriggerData] = set()

        def stale(t: HistTrigger) -> bool:
            d = t.data
            return ((d.system, d.event) == (system, event)
                    or any(ref.owner in lost for ref in d.var_refs)
                    or any((a.match_system, a.match_event) == (system, event)
                           for a in d.actions if a.handler is Handler.ONMATCH))

        dropped: set[tuple[str, str]] = set()
        while True:
            more = False
            for key, ts in list(self.hists.items()):
                gone = [t for t in ts if stale(t)]
                if not gone:
                    continue
                more = True
                dropped.add(key)
                lost.update(t.data for t in gone)
                keep = [t for t in ts if t not in gone]
                if keep:
                    self.hists[key] = keep
                else:
                    del self.hists[key]
            if not more:
                for data in lost:
                    dropped |= self._free(data)
                return dropped

    def show(self, system: str, event: str, res: Resolvers | None = None) -> str:
        """The event's ``hist`` file."""
        return render(self.triggers(system, event), res or Resolvers())

    def fire(self, system: str, event: str, hit: HistHit) -> list[SynthFiring]:
        """The event fired: every hist trigger on it whose filter passes and that is
        not paused aggregates it. Returns the synthetic events its actions fire."""
        out: list[SynthFiring] = []
        comm = task_comm(hit.comm)
        for trigger in self.hists.get((system, event), ()):
            if trigger.paused:
                continue
            if trigger.test is not None and not trigger.test(hit.record, hit.cpu, comm):
                continue
            out.extend(self._hit(trigger.data, hit))
        return out

    def _resolve(self, d: HistTriggerData, key: bytes, vals: list[Value], own: bool) -> bool:
        """``resolve_var_refs``: read the variables ``d`` refers to from the entries
        of their histograms with the same key."""
        for ref in d.var_refs:
            owner = ref.owner
            if owner is None:
                return False
            if (owner is d) != own:
                continue
            elt = owner.map.elts.get(key[:owner.key_size].ljust(owner.key_size, b"\0"))
            if elt is None or elt.vars[ref.var_idx] is None:
                return False
            value = elt.vars[ref.var_idx]
            assert value is not None
            if not own and ref.read_once:
                elt.vars[ref.var_idx] = None
            vals[ref.ref_idx] = value
        return True

    def _hit(self, d: HistTriggerData, hit: HistHit) -> list[SynthFiring]:
        """``event_hist_trigger``."""
        vals: list[Value] = [0] * len(d.var_refs)
        ev = Evaluation(d, hit, None, vals)
        key = key_bytes(d, ev)
        if d.var_refs and not self._resolve(d, key, vals, False):
            return []
        elt = d.map.insert(key, len(d.vals), d.n_var_slots,
                           saved_comm(hit.pid, hit.comm))
        if elt is None:
            return []
        ev.elt = elt
        for i, hf in enumerate(d.vals):
            value = ev.value(hf)
            if hf.flags & FL_VAR:
                elt.vars[hf.var_idx] = (value[:min(hf.size, STR_VAR_LEN_MAX) - 1]
                                        if isinstance(value, bytes) else value)
            elif isinstance(value, int):
                elt.sums[i] = (elt.sums[i] + value) & U64
        save_vars(ev, d.field_vars)
        if not self._resolve(d, key, vals, True):
            return []
        return run_actions(d, ev, elt, vals)
