"""The tracepoint registry: kernel/tracepoint.c after "dissociate from module mutex".

Names follow the kernel's so that this file reads beside tracepoint.c:

* ``Tracepoint`` is one instance (``struct tracepoint``): a name, a state and
  the probe array it currently calls. Core instances come from the catalogue,
  module instances from ``module_coming``.
* ``TracepointEntry`` is the hash table's entry for a name: the probe array
  that instances of that name should call. It exists only while it has
  probes, and may exist before any code defines the name.
* ``TpModule`` is tracepoint.c's local copy of a module; ``tp_modules`` is
  ``tracepoint_module_list``, kept sorted by the copy's address.

Instances are also indexed by name. Most names have one instance, and the
index holds that one alone (a list per name would cost more than the
instance); a name that has had two at once gets a list, ``NameInstances``, kept
until the name goes, so that its ``definition`` stays the same object.

Every operation that can fail checks first and changes nothing when it
refuses; the batch operations (``load_modules``, ``unload_modules``,
``change_probes``) check a whole batch before applying any of it, so control
files and the event layer share one validation path.

One deliberate difference: the kernel's ``tracepoint_update_probes`` walks
every instance on each registration. Here instances are indexed by name, and
an update touches the instances of the names whose entry changed (plus those
a pending ``_noupdate`` batch left stale, which the kernel's full walk would
also have refreshed), so a registration costs the same at any registry size.
"""

from __future__ import annotations

import bisect
import errno
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .errors import TpfsError
from .personality import DEFAULT, Personality
from .rcu import GracePeriod
from .slab import Slab
from .taint import unknown_letters

CORE_OWNER = "kernel"


@dataclass(frozen=True, slots=True)
class Probe:
    """One ``(func, data)`` pair of a probe array."""

    func: str
    data: int = 0


#: A probe array. Arrays are replaced, never changed in place: identity matters,
#: since a replaced array is only released after a grace period.
ProbeArray = tuple[Probe, ...]

#: What calling a probe does; the model only counts the call.
ProbeCall = Callable[["Tracepoint", Probe], None]

#: A watcher of registrations: a name and the probe array its entry now holds.
ProbesChanged = Callable[[str, ProbeArray], None]


@dataclass(slots=True, eq=False)
class Tracepoint:
    """One tracepoint instance."""

    name: str
    owner: str
    state: bool = False
    funcs: ProbeArray | None = None

    @property
    def nprobes(self) -> int:
        return len(self.funcs) if self.funcs else 0


class NameInstances(list[Tracepoint]):
    """The instances of a name that has had more than one at once.

    ``definition`` is the name's first instance, which stood for the name's
    definition before the list was made, and goes on standing for it.
    """

    __slots__ = ("definition",)

    def __init__(self, first: Tracepoint, second: Tracepoint) -> None:
        super().__init__((first, second))
        self.definition = first


@dataclass(slots=True, eq=False)
class TracepointEntry:
    """The hash-table entry of a name; ``refcount`` is its number of probes.

    ``hits`` counts, per registered probe, the calls firings made to it.
    """

    name: str
    funcs: ProbeArray = ()
    hits: dict[Probe, int] = field(default_factory=dict)

    @property
    def refcount(self) -> int:
        return len(self.funcs)


@dataclass(slots=True, eq=False)
class TpModule:
    """A range of tracepoints the iterator can walk: the core, or one module.

    Its tracepoints never change while it exists, which lets readers cache
    what they render from it until the module goes.
    """

    address: int
    name: str
    tracepoints: tuple[Tracepoint, ...]


@dataclass(slots=True, eq=False)
class Module:
    """A loaded module as the module loader knows it, tainted or not."""

    name: str
    address: int
    taints: str
    events: tuple[str, ...]
    tp_mod: TpModule | None

    @property
    def registered(self) -> bool:
        return self.tp_mod is not None


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep a hostile writer from exhausting the daemon's memory."""

    max_modules: int = 4096
    max_probes: int = 65536
    max_module_tracepoints: int = 4096
    #: Tracepoints over all loaded modules, tainted ones included.
    max_instances: int = 1 << 18


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """What module coming needs to know of a module."""

    name: str
    events: tuple[str, ...]
    taints: str = ""


@dataclass(frozen=True, slots=True)
class ProbeChange:
    """One line of a probe batch: add ``probe`` to ``name``, or remove it.

    A removal with ``probe`` None removes every probe of the name.
    """

    name: str
    probe: Probe | None
    add: bool


class Registry:
    """All tracepoint state, mutated only through the kernel-named operations."""

    def __init__(self, core_names: Iterable[str], *, seed: int = 0,
                 limits: Limits | None = None, personality: Personality = DEFAULT,
                 on_probes: ProbesChanged = lambda name, funcs: None) -> None:
        self.limits = limits or Limits()
        #: Told each name's new probe array (empty when its entry goes) after a change.
        self.on_probes = on_probes
        #: The kernel version's rules (the taint rule here, the walk in ``iterator``).
        self.personality = personality
        self.slab = Slab(seed)
        self.rcu = GracePeriod()
        self.core = TpModule(0, CORE_OWNER,
                             tuple(Tracepoint(n, CORE_OWNER) for n in core_names))
        self.entries: dict[str, TracepointEntry] = {}
        self.modules: dict[str, Module] = {}  # load order: oldest first
        self.tp_modules: list[TpModule] = []  # sorted by address
        self.tp_addresses: list[int] = []  # the same addresses, for bisect
        self.need_update = False
        self.old_probes: list[ProbeArray] = []
        self.generation = 0  # bumped by every change anything could observe
        self._stale: set[str] = set()  # names a _noupdate batch left unapplied
        self._nprobes = 0
        self._module_instances = 0  # tracepoints of loaded modules, tainted or not
        self._by_name: dict[str, Tracepoint | NameInstances] = {}
        #: Called after a module's tracepoints are in place (the module notifier chain).
        self.module_coming_hooks: list[Callable[[Module], None]] = []
        #: Called after a module's tracepoints are gone (the module notifier chain).
        self.module_going_hooks: list[Callable[[Module], None]] = []
        for tp in self.core.tracepoints:
            self._add_instance(tp)

    def _add_instance(self, tp: Tracepoint) -> None:
        held = self._by_name.get(tp.name)
        if held is None:
            self._by_name[tp.name] = tp
        elif isinstance(held, Tracepoint):
            self._by_name[tp.name] = NameInstances(held, tp)
        else:
            held.append(tp)

    def _remove_instance(self, tp: Tracepoint) -> None:
        held = self._by_name[tp.name]
        if isinstance(held, NameInstances):
            held.remove(tp)
            if held:
                return
        del self._by_name[tp.name]

    # -- lookups ---------------------------------------------------------
    def get_tracepoint(self, name: str) -> TracepointEntry | None:
        return self.entries.get(name)

    def instances(self, name: str) -> Sequence[Tracepoint]:
        """The instances of ``name``; empty when no loaded code defines it."""
        held = self._by_name.get(name)
        if held is None:
            return ()
        return (held,) if isinstance(held, Tracepoint) else held

    def definition(self, name: str) -> object | None:
        """What stands for the current definition of ``name`` (None when no loaded code
        defines it): the same object while the name stays defined, however its
        instances come and go, so its identity tells one definition from a later one.
        """
        held = self._by_name.get(name)
        return held.definition if isinstance(held, NameInstances) else held

    def names(self) -> Iterable[str]:
        """Every name some loaded code defines."""
        return self._by_name.keys()

    def probe_count(self) -> int:
        """Probes registered over all entries."""
        return self._nprobes

    @property
    def pending_release(self) -> int:
        """Replaced probe arrays not yet released (queued or in a grace period)."""
        return len(self.old_probes) + self.rcu.pending

    # -- checks ----------------------------------------------------------
    def check_probes(self, changes: Sequence[ProbeChange]) -> None:
        """Refuse ``changes`` as applying them in order would, or return (all fit).

        Linux 3.2 returns success for removing a pair that is not registered on
        an existing entry (and republishes an identical array); tpfs reports
        ENOENT instead, so that a typo in a script is visible.
        """
        have: dict[str, set[Probe]] = {}
        added = 0
        for change in changes:
            name, probe = change.name, change.probe
            if name not in have:
                entry = self.entries.get(name)
                have[name] = set(entry.funcs) if entry else set()
            probes = have[name]
            if change.add:
                assert probe is not None
                if probe in probes:
                    raise TpfsError(errno.EEXIST, f"{probe.func} {probe.data:#x} already on {name}")
                probes.add(probe)
                added += 1
            elif probe is None:
                if not probes:
                    raise TpfsError(errno.ENOENT, f"no probes on {name}")
                probes.clear()
            elif probe in probes:
                probes.discard(probe)
            else:
                raise TpfsError(errno.ENOENT, f"{probe.func} {probe.data:#x} not on {name}")
        if self._nprobes + added > self.limits.max_probes:
            raise TpfsError(errno.ENOSPC, f"more than {self.limits.max_probes} probes")

    def check_coming(self, specs: Sequence[ModuleSpec]) -> None:
        """Refuse a batch of modules coming, or return if every one can load.

        Malformed modules are found first, then names already taken and
        oversized modules, then the total count.
        """
        for spec in specs:
            bad = unknown_letters(spec.taints)
            if bad:
                raise TpfsError(errno.EINVAL, f"unknown taint letters {bad}")
            if len(set(spec.events)) != len(spec.events):
                raise TpfsError(errno.EINVAL, f"module {spec.name} lists a tracepoint twice")
        seen: set[str] = set()
        for spec in specs:
            if spec.name in self.modules or spec.name in seen:
                raise TpfsError(errno.EEXIST, f"module {spec.name} already loaded")
            if len(spec.events) > self.limits.max_module_tracepoints:
                raise TpfsError(errno.ENOSPC, f"module {spec.name} has too many tracepoints")
            seen.add(spec.name)
        if len(self.modules) + len(specs) > self.limits.max_modules:
            raise TpfsError(errno.ENOSPC, f"more than {self.limits.max_modules} modules")
        adding = sum(len(spec.events) for spec in specs)
        if self._module_instances + adding > self.limits.max_instances:
            raise TpfsError(errno.ENOSPC,
                            f"more than {self.limits.max_instances} module tracepoints")

    def check_going(self, names: Sequence[str]) -> None:
        """Refuse a batch of modules going unless each is loaded, once."""
        gone: set[str] = set()
        for name in names:
            if name not in self.modules or name in gone:
                raise TpfsError(errno.ENOENT, f"module {name} not loaded")
            gone.add(name)

    # -- probe arrays ----------------------------------------------------
    def _add_probe(self, name: str, probe: Probe) -> ProbeArray:
        entry = self.entries.get(name)
        if entry is None:
            entry = self.entries[name] = TracepointEntry(name)
        old = entry.funcs
        entry.funcs = (*old, probe)
        self._nprobes += 1
        return old

    def _remove_probe(self, name: str, probe: Probe | None) -> ProbeArray:
        entry = self.entries[name]
        old = entry.funcs
        kept = () if probe is None else tuple(p for p in old if p != probe)
        self._nprobes -= len(old) - len(kept)
        if kept:
            entry.funcs = kept
            if probe is not None:  # its hits go with it
                entry.hits.pop(probe, None)
        else:
            del self.entries[name]
        return old

    def _release_probes(self, old: ProbeArray) -> None:
        if old:
            self.rcu.call_rcu(old)

    # -- updates ---------------------------------------------------------
    def _set_tracepoint(self, entry: TracepointEntry, tp: Tracepoint) -> None:
        tp.funcs = entry.funcs
        tp.state = entry.refcount != 0

    @staticmethod
    def _disable_tracepoint(tp: Tracepoint) -> None:
        tp.state = False
        tp.funcs = None

    def _update_probe_range(self, tracepoints: Iterable[Tracepoint]) -> None:
        for tp in tracepoints:
            entry = self.entries.get(tp.name)
            if entry is not None:
                self._set_tracepoint(entry, tp)
            else:
                self._disable_tracepoint(tp)

    def tracepoint_update_probes(self, names: Iterable[str]) -> None:
        """Bring the instances of ``names`` (and any stale ones) up to date."""
        touched = self._stale.union(names)
        self._stale.clear()
        for name in touched:
            self._update_probe_range(self.instances(name))
        self.generation += 1

    def update_all_instances(self) -> None:
        """The kernel's own ``tracepoint_update_probes``: walk every instance.

        Kept as the baseline that shows what the index by name saves.
        """
        self._update_probe_range(self.core.tracepoints)
        for tp_mod in self.tp_modules:
            self._update_probe_range(tp_mod.tracepoints)
        self._stale.clear()
        self.generation += 1

    # -- registration API ------------------------------------------------
    def change_probes(self, changes: Sequence[ProbeChange], *, update: bool = True) -> None:
        """Apply a batch of probe changes, all or (refused) none.

        With ``update`` each change is published at once and its old array
        released after a grace period (``tracepoint_probe_register``); without,
        old arrays are queued for ``tracepoint_probe_update_all`` (``_noupdate``).
        """
        self.check_probes(changes)
        for change in changes:
            if change.add:
                assert change.probe is not None
                old = self._add_probe(change.name, change.probe)
            else:
                old = self._remove_probe(change.name, change.probe)
            entry = self.entries.get(change.name)
            self.on_probes(change.name, entry.funcs if entry is not None else ())
            if update:
                self.tracepoint_update_probes((change.name,))
                self._release_probes(old)
            else:
                self._queue_old(change.name, old)

    def tracepoint_probe_register(self, name: str, func: str, data: int = 0) -> None:
        self.change_probes([ProbeChange(name, Probe(func, data), True)])

    def tracepoint_probe_unregister(self, name: str, func: str | None, data: int = 0) -> None:
        """Remove one probe, or every probe of ``name`` when ``func`` is None."""
        probe = None if func is None else Probe(func, data)
        self.change_probes([ProbeChange(name, probe, False)])

    def _queue_old(self, name: str, old: ProbeArray) -> None:
        """Keep ``old`` for the batch's grace period if an instance may be calling it.

        An array that no instance was ever switched to (a ``_noupdate`` batch
        replacing its own earlier array) has no readers and goes at once: the
        kernel queues it too, which makes a long batch on one name quadratic
        in memory.
        """
        if any(tp.funcs is old for tp in self.instances(name)):
            self.old_probes.append(old)
        self.need_update = True
        self._stale.add(name)
        self.generation += 1

    def tracepoint_probe_register_noupdate(self, name: str, func: str, data: int = 0) -> None:
        self.change_probes([ProbeChange(name, Probe(func, data), True)], update=False)

    def tracepoint_probe_unregister_noupdate(self, name: str, func: str, data: int = 0) -> None:
        self.change_probes([ProbeChange(name, Probe(func, data), False)], update=False)

    def tracepoint_probe_update_all(self) -> None:
        if not self.need_update:
            return
        release, self.old_probes = self.old_probes, []
        self.need_update = False
        self.tracepoint_update_probes(())
        for old in release:
            self._release_probes(old)

    # -- firing ----------------------------------------------------------
    def fire(self, name: str, call: ProbeCall) -> int:
        """``trace_NAME()``: every enabled instance of ``name`` calls its probe array.

        Each instance's array is loaded once, inside an RCU read-side section,
        so an array that ``call`` replaces (a trigger registering or removing
        probes) stays alive until the firing is done with it and is released
        after the grace period. Each call counts a hit on the probe, if it is
        still registered. Returns how many probe calls were made.
        """
        held = self._by_name.get(name)
        if held is None:
            return 0
        calls = 0
        entries, rcu = self.entries, self.rcu
        for tp in (held,) if isinstance(held, Tracepoint) else tuple(held):
            funcs = tp.funcs
            if not tp.state or not funcs:
                continue
            reader = rcu.read_lock()
            try:
                for probe in funcs:
                    entry = entries.get(name)
                    if entry is not None:
                        hits = entry.hits
                        count = hits.get(probe)
                        if count is not None:
                            hits[probe] = count + 1
                        elif probe in entry.funcs:
                            hits[probe] = 1
                    call(tp, probe)
                    calls += 1
            finally:
                rcu.read_unlock(reader)
        return calls

    # -- modules ---------------------------------------------------------
    def load_modules(self, specs: Sequence[ModuleSpec]) -> list[Module]:
        """Module coming for each of ``specs``, all or (refused) none."""
        self.check_coming(specs)
        return [self._coming(spec) for spec in specs]

    def module_coming(self, name: str, events: Sequence[str], taints: str = "") -> Module:
        """Load a module; a tainted one is known but its tracepoints may not register."""
        return self.load_modules([ModuleSpec(name, tuple(events), taints)])[0]

    def _coming(self, spec: ModuleSpec) -> Module:
        address = self.slab.alloc()
        tp_mod = None
        if self.personality.registers(spec.taints):
            tps = tuple(Tracepoint(ev, spec.name) for ev in spec.events)
            tp_mod = TpModule(address, spec.name, tps)
            where = bisect.bisect_left(self.tp_addresses, address)
            self.tp_addresses.insert(where, address)
            self.tp_modules.insert(where, tp_mod)
            for tp in tps:
                self._add_instance(tp)
            self._update_probe_range(tps)
        module = Module(spec.name, address, spec.taints, spec.events, tp_mod)
        self.modules[spec.name] = module
        self._module_instances += len(spec.events)
        self.generation += 1
        for hook in self.module_coming_hooks:
            hook(module)
        return module

    def unload_modules(self, names: Sequence[str]) -> list[Module]:
        """Module going for each of ``names``, all or (refused) none."""
        self.check_going(names)
        return [self._going(name) for name in names]

    def module_going(self, name: str) -> Module:
        return self.unload_modules([name])[0]

    def _going(self, name: str) -> Module:
        module = self.modules.pop(name)
        self._module_instances -= len(module.events)
        tp_mod = module.tp_mod
        if tp_mod is not None:
            where = bisect.bisect_left(self.tp_addresses, tp_mod.address)
            del self.tp_addresses[where]
            del self.tp_modules[where]
            for tp in tp_mod.tracepoints:
                self._remove_instance(tp)
                self._disable_tracepoint(tp)
        self.slab.free(module.address)
        self.generation += 1
        for hook in self.module_going_hooks:
            hook(module)
        return module

    def modules_by_address(self) -> list[Module]:
        return sorted(self.modules.values(), key=lambda m: m.address)
