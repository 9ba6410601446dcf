"""The index of events: subsystem -> events, in the kernel's orders.

It follows the registry through its module hooks (the ``EventLayer`` calls
``module_coming`` and ``module_going``), so looking up or listing events costs
what changed, not the registry's size. Subsystems come in the order of their
first event's registration, events in registration order; a name that goes
and comes back goes to the end, as its directory does. ``set_event`` lists the
enabled events in ``available_events`` order (``position``), and matches its
words (``match``) against this index.

It holds one entry per event, so its entries are kept small: an event's
readdir key is stored less its subsystem's key, which for events registered
with their subsystem is a small int Python shares rather than a new object
each; and where each event sits in its module (for ``position``) is worked
out only when ``set_event`` is read, for the modules it needs.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from ...kernel.registry import Module, Registry


@dataclass(slots=True)
class EventIndex:
    """The registry's event names by subsystem, each with a readdir key."""

    registry: Registry
    # Subsystem -> event -> its readdir key less the subsystem's, both in
    # registration order.
    _systems: dict[str, dict[str, int]] = field(default_factory=dict)
    _system_keys: dict[str, int] = field(default_factory=dict)
    _by_event: dict[str, dict[str, None]] = field(default_factory=dict)  # event -> subsystems
    _keys: itertools.count[int] = field(default_factory=itertools.count)
    # Where each instance sits in available_events order, for set_event: the
    # core's at once, a module's the first time set_event's order needs it.
    _core_index: dict[str, int] = field(default_factory=dict)
    _module_index: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, tp in enumerate(self.registry.core.tracepoints):
            self._core_index.setdefault(tp.name, i)
            self.add(tp.name)

    def module_coming(self, module: Module) -> None:
        """A registered module's events join (the layer asks only for registered ones)."""
        for name in module.events:
            self.add(name)

    def module_going(self, module: Module) -> None:
        """A registered module goes: its names leave as ``remove`` is called for each."""
        self._module_index.pop(module.name, None)

    def subsystems(self) -> Mapping[str, Mapping[str, int]]:
        """Subsystem -> event, in registration order (a live view; the values are
        private to the index)."""
        return self._systems

    def subsystem_listing(self) -> list[tuple[int, str]]:
        """``events/``'s subsystems as (key, name), in registration order."""
        return [(key, s) for s, key in self._system_keys.items()]

    def event_listing(self, subsys: str) -> list[tuple[int, str]]:
        """``events/SUBSYS/``'s events as (key, name), in registration order."""
        base = self._system_keys.get(subsys, 0)
        return [(base + key, e) for e, key in self._systems.get(subsys, {}).items()]

    def names_of(self, subsys: str) -> list[str]:
        return [f"{subsys}:{e}" for e in self._systems.get(subsys, ())]

    def all_names(self) -> list[str]:
        """Every event, by subsystem."""
        return [f"{s}:{e}" for s, evs in self._systems.items() for e in evs]

    def add(self, name: str) -> None:
        """``name`` is registered: its subsystem and it go at the end of their lists."""
        # Interned: a subsystem's name, and an event name many subsystems share,
        # are kept once however many events carry them.
        subsys, _, event = name.partition(":")
        subsys, event = sys.intern(subsys), sys.intern(event)
        events = self._systems.get(subsys)
        if events is None:
            events = self._systems[subsys] = {}
            self._system_keys[subsys] = next(self._keys)
        if event not in events:
            events[event] = next(self._keys) - self._system_keys[subsys]
            self._by_event.setdefault(event, {})[subsys] = None

    def remove(self, name: str) -> None:
        """The last instance of ``name`` is gone."""
        subsys, _, event = name.partition(":")
        events = self._systems[subsys]
        del events[event]
        if not events:
            del self._systems[subsys], self._system_keys[subsys]
        subsystems = self._by_event[event]
        del subsystems[subsys]
        if not subsystems:
            del self._by_event[event]

    def position(self, name: str) -> tuple[int, ...]:
        """Where ``name`` first appears in available_events: the core, then by address."""
        core = self._core_index.get(name)
        if core is not None:
            return (0, core)
        modules, known = self.registry.modules, self._module_index
        first: tuple[int, ...] | None = None
        for tp in self.registry.instances(name):
            module = modules[tp.owner]
            places = known.get(tp.owner)
            if places is None:  # where each of its events is, worked out once
                places = known[tp.owner] = {n: i for i, n in enumerate(module.events)}
            where = (1, module.address, places[name])
            if first is None or where < first:
                first = where
        if first is None:
            raise KeyError(f"{name} is not defined")
        return first

    def match(self, token: str) -> list[str]:
        """set_event's matching: ``S:E``, ``S:``, ``S:*``, ``*:E``, ``S`` or ``E``."""
        word, colon, rest = token.partition(":")
        if not colon:
            return self.names_of(word) + [f"{s}:{word}" for s in self._by_event.get(word, ())
                                          if s != word]
        subsys = None if word in ("", "*") else word
        event = None if rest in ("", "*") else rest
        if subsys is None:
            if event is None:
                return self.all_names()
            return [f"{s}:{event}" for s in self._by_event.get(event, ())]
        if event is None:
            return self.names_of(subsys)
        return [token] if event in self._systems.get(subsys, ()) else []
