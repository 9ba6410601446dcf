"""The trace-event layer over the registry: what events/ and set_event show and do.

An event is a registered tracepoint name. Enabling it registers the
built-in probe ``trace_event_raw_event_EVENT`` on the name, as the kernel's
trace events do; disabling unregisters it, so the enabled state is read
back from the registry and never stored twice. Ids are stable for the
daemon's life: catalogue events keep their kernel ids, others get fresh
ids above them. Filters and triggers are remembered per event and dropped
when the last instance of the name goes.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field

from ..kernel.errors import TpfsError
from ..kernel.iterator import SortedWalk
from ..kernel.registry import Module, Probe, ProbeChange, Registry
from .catalog import Catalog
from .filter import check_filter, filter_fields
from .trigger import TRIGGER_HELP, Trigger, parse_trigger

COMMON_FIELDS = (
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
)


def event_probe(name: str) -> Probe:
    """The probe that enabling ``name`` registers."""
    return Probe(f"trace_event_raw_event_{name.partition(':')[2]}", 0)


def parse_bool(buf: bytes) -> bool:
    """An enable file's value, as kstrtoul then a 0/1 check accept it."""
    text = buf.decode("ascii", "replace")
    if text.endswith("\n"):
        text = text[:-1]
    if not text.isdigit() or not text.isascii():
        raise TpfsError(errno.EINVAL, f"not a number: {text!r}")
    value = int(text)
    if value not in (0, 1):
        raise TpfsError(errno.EINVAL, f"enable takes 0 or 1, not {value}")
    return bool(value)


@dataclass
class EventLayer:
    """Events, their ids, formats, filters and triggers, over one registry."""

    registry: Registry
    catalog: Catalog
    walk: SortedWalk  # the listings' walk: set_event follows the same order
    error_log: list[str] = field(default_factory=list)
    _formats: dict[str, str] = field(default_factory=dict)
    _ids: dict[str, int] = field(default_factory=dict)
    _next_id: int = 0
    _filters: dict[str, str] = field(default_factory=dict)
    _triggers: dict[str, list[Trigger]] = field(default_factory=dict)
    _index: tuple[int, dict[str, list[str]]] | None = None

    def __post_init__(self) -> None:
        for ev in self.catalog.events:
            self._ids[ev.name] = ev.id
            self._formats[ev.name] = ev.format
        self._next_id = max(self._ids.values(), default=0) + 1
        self.registry.module_going_hooks.append(self._module_going)

    # -- what exists -------------------------------------------------------
    def exists(self, name: str) -> bool:
        return bool(self.registry.instances(name))

    def subsystems(self) -> dict[str, list[str]]:
        """Subsystem -> sorted event names, for every registered name."""
        gen = self.registry.generation
        if self._index is None or self._index[0] != gen:
            index: dict[str, list[str]] = {}
            for name in self.registry.names():
                subsys, _, event = name.partition(":")
                index.setdefault(subsys, []).append(event)
            for events in index.values():
                events.sort()
            self._index = (gen, dict(sorted(index.items())))
        return self._index[1]

    def all_names(self) -> list[str]:
        """Every event, by subsystem."""
        return [f"{s}:{e}" for s, evs in self.subsystems().items() for e in evs]

    def names_in_order(self) -> list[str]:
        """Every event once, in available_events order."""
        return list(dict.fromkeys(tp.name for tp in self.walk.walk()))

    # -- id and format -----------------------------------------------------
    def event_id(self, name: str) -> int:
        ident = self._ids.get(name)
        if ident is None:
            ident = self._ids[name] = self._next_id
            self._next_id += 1
        return ident

    def format(self, name: str) -> str:
        known = self._formats.get(name)
        if known is not None:
            return known
        event = name.partition(":")[2]
        return (f"name: {event}\nID: {self.event_id(name)}\nformat:\n{COMMON_FIELDS}\n"
                f'print fmt: "%s", ""\n')

    # -- enabling ----------------------------------------------------------
    def enabled(self, name: str) -> bool:
        entry = self.registry.get_tracepoint(name)
        return entry is not None and event_probe(name) in entry.funcs

    def set_enabled(self, names: list[str], on: bool) -> None:
        """Enable or disable every one of ``names``, or (refused) none."""
        changes = [ProbeChange(name, event_probe(name), on)
                   for name in names if self.enabled(name) != on]
        self.registry.change_probes(changes)

    def state(self, names: list[str]) -> str:
        """An enable file: 1 all on, 0 all off, X some of each."""
        states = {self.enabled(n) for n in names}
        if states == {True}:
            return "1"
        return "X" if len(states) == 2 else "0"

    def match(self, token: str) -> list[str]:
        """set_event's matching: ``S:E``, ``S:``, ``S:*``, ``*:E``, ``S`` or ``E``."""
        index = self.subsystems()
        word, colon, rest = token.partition(":")
        if colon:
            subsys = None if word in ("", "*") else word
            event = None if rest in ("", "*") else rest
            return [f"{s}:{e}" for s, events in index.items() if subsys in (None, s)
                    for e in events if event in (None, e)]
        return [f"{s}:{e}" for s, events in index.items() for e in events
                if word in (s, e)]

    def set_event_write(self, buf: bytes) -> int:
        """One token per write, as ftrace_event_write; returns the bytes consumed."""
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
        names = self.match(token.lstrip("!"))
        if not names:
            raise TpfsError(errno.EINVAL, f"no event matches {token!r}")
        self.set_enabled(names, on)
        return used

    def set_event_text(self) -> str:
        return "".join(f"{n}\n" for n in self.names_in_order() if self.enabled(n))

    def disable_all(self) -> None:
        self.set_enabled([n for n in self.names_in_order() if self.enabled(n)], False)

    # -- filters -----------------------------------------------------------
    def filter_text(self, name: str) -> str:
        return self._filters.get(name, "none") + "\n"

    def set_filter(self, name: str, buf: bytes) -> None:
        expr = buf.decode("ascii", "replace").strip()
        if expr == "0":
            self._filters.pop(name, None)
            return
        why = check_filter(expr, filter_fields(self.format(name)))
        if why is not None:
            self.log_error("event filter parse error", why, expr)
            raise TpfsError(errno.EINVAL, f"filter {expr!r}: {why}")
        self._filters[name] = expr

    def set_subsystem_filter(self, subsys: str, buf: bytes) -> None:
        """Apply to every event of ``subsys`` that has the fields; never an error."""
        expr = buf.decode("ascii", "replace").strip()
        for event in self.subsystems().get(subsys, []):
            name = f"{subsys}:{event}"
            if expr == "0":
                self._filters.pop(name, None)
            elif check_filter(expr, filter_fields(self.format(name))) is None:
                self._filters[name] = expr

    def log_error(self, what: str, why: str, command: str) -> None:
        stamp = time.monotonic()
        self.error_log.append(f"[{stamp:12.6f}] {what}: error: {why}\n  Command: {command}\n")
        del self.error_log[:-16]

    # -- triggers ----------------------------------------------------------
    def trigger_text(self, name: str) -> str:
        triggers = self._triggers.get(name)
        if not triggers:
            return TRIGGER_HELP
        return "".join(t.render() + "\n" for t in triggers)

    def set_trigger(self, name: str, buf: bytes) -> None:
        text = buf.decode("ascii", "replace").strip()
        if not text:
            return
        line = parse_trigger(text)
        if line is None or (line.target and not self.exists(line.target)):
            raise TpfsError(errno.EINVAL, f"bad trigger {text!r}")
        command = line.trigger.command
        triggers = self._triggers.setdefault(name, [])
        existing = [t for t in triggers if t.command == command]
        if line.remove:
            for t in existing:
                triggers.remove(t)
        elif existing:
            raise TpfsError(errno.EEXIST, f"trigger {command} already set")
        else:
            triggers.insert(0, line.trigger)
        if not triggers:
            del self._triggers[name]

    # -- module going ------------------------------------------------------
    def _module_going(self, module: Module) -> None:
        if not module.registered:
            return
        for name in module.events:
            if self.exists(name):
                continue
            if self.enabled(name):
                self.set_enabled([name], False)
            self._filters.pop(name, None)
            self._triggers.pop(name, None)
