"""Dynamic events: what ``dynamic_events``, ``kprobe_events``, ``uprobe_events`` and
``synthetic_events`` hold, and the events each definition makes.

Every definition makes its event at once, in every instance, and its removal
takes it away at once. tpfs models the event's coming and going as the
registry models a module's: each definition is a provider of one tracepoint
(named ``[GROUP/EVENT]``, a name no module can have, and not listed in
``modules/``), so the event has an id from the allocator every tpfs-only
event uses, ``enable``, ``filter``, ``trigger`` and ``format`` in each
instance, a place in ``available_events``, and fires through ``fire``;
removing one that was used empties the buffers, as the kernel does.

Each kind is one object (``kind.DynEventKind``, as ``dyn_event_operations``)
in its own module, chosen through ``KINDS``. Each file takes its own kinds
(``dynamic_events`` all of them) and lists them
in creation order; a line is refused (``EINVAL`` with the kernel's
``error_log`` entry, ``ENODEV`` for an eprobe on no trace event, ``EEXIST``
for a name in use, ``ENOENT`` for removing
what is not there, ``EBUSY`` for removing an enabled event) without changing
anything, and a refused line stops the lines after it, as the kernel runs
them one at a time. Opening a file with ``O_TRUNC`` removes all its kinds,
or (``EBUSY``, one enabled) none.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Mapping

from ...kernel.errors import TpfsError
from ...kernel.registry import Registry
from ..events.events import COMMON_FIELDS, EventLayer
from ..events.filter import Field, filter_fields
from ..events.synth import SynthEvent
from ..trace.record import SYNTH_SYSTEM
from ..trace.settings import log_error
from .eprobe import EPROBE, EPROBE_KIND
from .kind import CreateContext, DynEvent, DynEventKind
from .kprobe import KPROBE, KPROBE_KIND
from .probes import ProbeEvent
from .removal import Removal, parse_removal
from .synthetic import SYNTH, SYNTH_KIND, Synthetic
from .uprobe import UPROBE, UPROBE_KIND

#: DynEvents at once: each holds an event in every instance.
MAX_DYNAMIC_EVENTS = 4096
#: The kinds of definition, in the order a line is offered to them.
KINDS: dict[str, DynEventKind] = {
    kind.name: kind for kind in (KPROBE_KIND, UPROBE_KIND, EPROBE_KIND, SYNTH_KIND)}
#: The files, and the kinds each takes.
FILE_KINDS = {
    "dynamic_events": (KPROBE, UPROBE, EPROBE, SYNTH),
    "kprobe_events": (KPROBE,),
    "uprobe_events": (UPROBE,),
    "synthetic_events": (SYNTH,),
}
#: The profile files, and the kind each lists.
PROFILES = {"kprobe_profile": KPROBE, "uprobe_profile": UPROBE}
#: Kinds an eprobe cannot attach to (``find_and_get_event`` skips events flagged
#: ``TRACE_EVENT_FL_KPROBE``, ``_UPROBE`` or ``_EPROBE``): as if there were no such event.
_UNATTACHABLE_KINDS = frozenset({KPROBE, UPROBE, EPROBE})


def regular_file(path: str) -> bool | None:
    """What a uprobe's path names (``kern_path`` and ``d_is_reg``): a regular file
    (True), something else (False) or nothing (None)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return None


def provider_name(name: str) -> str:
    """The registry's name for the provider of dynamic event ``name``."""
    group, _, event = name.partition(":")
    return f"[{group}/{event}]"


def is_provider(module_name: str) -> bool:
    return module_name.startswith("[")




class DynamicEvents:
    """The dynamic events there are, in creation order, over one registry."""

    def __init__(self, registry: Registry, layer: EventLayer,
                 layers: Callable[[], Iterable[EventLayer]], error_log: list[str],
                 synth_events: dict[str, SynthEvent], eprobe_hosts: dict[str, str],
                 files: Callable[[str], bool | None] = regular_file,
                 same_symbols: Callable[[str], int | None] | None = None) -> None:
        self.registry = registry
        self.layer = layer  # the top level's: ids and formats
        self.layers = layers  # every instance's, to see what is enabled
        self.error_log = error_log
        self.files = files
        #: How many kernel symbols have a kprobe's symbol's name (None: unknown).
        self.same_symbols = same_symbols
        #: Each event's definitions (a probe event may have several places), by name.
        self.definitions: dict[str, list[DynEvent]] = {}
        #: Every definition, in creation order: what the files list.
        self._lines: list[DynEvent] = []
        #: Synthetic events by their bare name (every instance's hist actions name
        #: them through this same dict).
        self.synth_events = synth_events
        #: Eprobes by the event they attach to.
        self.attached: dict[str, list[ProbeEvent]] = {}
        #: Each eprobe's event by its name (every instance's event layer puts it in
        #: soft mode while the eprobe is enabled there, through this same dict).
        self.eprobe_hosts = eprobe_hosts
        #: Hits of each kprobe and uprobe event: firings while it is enabled somewhere,
        #: as a probe counts only while registered. Shown on the event's first place.
        self.profile_hits: dict[str, int] = {}
        #: What the kinds' ``create`` may ask.
        self.context = CreateContext(error_log, files, self._fields, same_symbols,
                                     layer.ncpus, self.synth_events)

    def synth_in_use(self, name: str) -> bool:
        """Whether a hist action in some instance fires synthetic event ``name``: then
        it cannot go."""
        return any(layer.hist.uses_synth(name) for layer in self.layers())

    # -- what there is -----------------------------------------------------
    def render(self, file: str) -> str:
        kinds = FILE_KINDS[file]
        if file == "synthetic_events":
            return "".join(d.synth.show() for d in self._lines if isinstance(d, Synthetic))
        return "".join(KINDS[d.kind].show(d) for d in self._lines if d.kind in kinds)

    def profile(self, file: str) -> str:
        """``kprobe_profile`` or ``uprobe_profile``: each place, in creation order."""
        kind = PROFILES[file]
        hits = self.profile_hits
        return "".join(d.profile(hits[d.name] if d is self.definitions[d.name][0] else 0)
                       for d in self._lines if isinstance(d, ProbeEvent) and d.kind == kind)

    def hit(self, name: str) -> None:
        """A firing of ``name`` that reached its probes: a hit, if it is profiled."""
        if name in self.profile_hits:
            self.profile_hits[name] += 1

    def eprobes(self, attached: str) -> list[ProbeEvent]:
        """The eprobes that fire when ``attached`` fires."""
        return self.attached.get(attached, [])

    def _fields(self, name: str) -> Mapping[str, Field] | None:
        """The fields of the trace event an eprobe would attach to, or None where
        ``find_and_get_event`` finds none: no such event or a probe event. (The
        ``ftrace`` entries, which it skips too, are no registered events here.)"""
        same = self.definitions.get(name)
        if not self.layer.exists(name) or (same is not None
                                           and same[0].kind in _UNATTACHABLE_KINDS):
            return None
        return filter_fields(self.layer.format(name))

    # -- writes ------------------------------------------------------------
    def write(self, file: str, buf: bytes) -> None:
        """Each line in turn, as the kernel runs them: a refused line stops the rest."""
        kinds = FILE_KINDS[file]
        for raw in buf.decode("latin-1").splitlines():
            line = " ".join(raw.split("#", 1)[0].split())
            if line:
                self._line(file, kinds, line)

    def _line(self, file: str, kinds: tuple[str, ...], line: str) -> None:
        if file == "synthetic_events":
            if line.startswith("!"):
                self._remove_synthetic(line[1:].split()[0] if line[1:].split() else "")
                return
            self._create(SYNTH_KIND.definition(line, self.context))
            return
        removal = parse_removal(line, bang=file == "dynamic_events")  # create_dyn_event
        if removal is not None:
            self._remove(removal, kinds)
            return
        for kind in kinds:  # create_dyn_event: each kind's create, until one takes it
            definition = KINDS[kind].create(line, self.context)
            if definition is not None:
                self._create(definition, line)
                return
        raise TpfsError(errno.EINVAL, f"{file} takes no such definition")

    def _create(self, definition: DynEvent, line: str = "") -> None:
        name = definition.name
        same = self.definitions.get(name)
        if same is not None and isinstance(definition, ProbeEvent):
            self._append(same, definition, line)
            return
        if same is not None or self.layer.exists(name):
            if KINDS[definition.kind].logs_name_in_use:
                self._log(definition, "Given group/event name is already used by another event",
                          line, 0)
            raise TpfsError(errno.EEXIST, f"event {name} exists")
        if len(self._lines) >= MAX_DYNAMIC_EVENTS:
            raise TpfsError(errno.ENOSPC, f"more than {MAX_DYNAMIC_EVENTS} dynamic events")
        self.layer.define_format(name, lambda ident: definition.format(ident, COMMON_FIELDS))
        try:
            self.registry.module_coming(provider_name(name), [name])
        except TpfsError:
            self.layer.forget_format(name)
            raise
        self.definitions[name] = [definition]
        self._lines.append(definition)
        KINDS[definition.kind].added(definition, self)

    def _append(self, same: list[DynEvent], probe: ProbeEvent, line: str) -> None:
        """Another place for a probe event (``append_trace_kprobe``): the same kind
        and arguments, a place it does not have yet."""
        first = same[0]
        why = None
        if (not isinstance(first, ProbeEvent) or first.kind != probe.kind
                or first.is_return != probe.is_return or probe.kind == EPROBE):
            why = "Probe type is different from existing probe"
        elif any(d == probe for d in same):
            why = "There is already the exact same probe event"
        elif [(a.name, a.type) for a in first.args] != [(a.name, a.type) for a in probe.args]:
            why = "Argument type or name is different from existing probe"
        if why is not None:  # the caret: at the arguments when they differ
            words = line.split()
            at = len(" ".join(words[:2])) + 1 if why.startswith("Argument") and len(words) > 2 \
                else 0
            self._log(probe, why, line, at)
            raise TpfsError(errno.EEXIST, f"{probe.name}: {why}")
        if len(self._lines) >= MAX_DYNAMIC_EVENTS:
            raise TpfsError(errno.ENOSPC, f"more than {MAX_DYNAMIC_EVENTS} dynamic events")
        same.append(probe)
        self._lines.append(probe)

    def _log(self, definition: DynEvent, message: str, line: str, pos: int) -> None:
        log_error(self.error_log, KINDS[definition.kind].log_as, message, line, pos)

    # -- removal -----------------------------------------------------------
    def _busy(self, name: str) -> bool:
        if any(layer.enabled(name) for layer in self.layers()):
            return True
        definition = self.definitions[name][0]
        if KINDS[definition.kind].is_busy(definition, self):
            return True
        return bool(self.attached.get(name))  # an eprobe holds the event it attaches to

    def _remove(self, removal: Removal, kinds: tuple[str, ...]) -> None:
        """``dyn_event_release``: every place that matches goes; an event goes with
        its last place, or (EBUSY, in use) stays whole."""
        gone: list[str] = []
        fewer: dict[str, list[DynEvent]] = {}
        for name, places in self.definitions.items():
            group, _, event = name.partition(":")
            if places[0].kind not in kinds or event != removal.event or removal.group not in (
                    None, group):
                continue
            kept = [d for d in places if not KINDS[d.kind].match(d, removal)]
            if not kept:
                gone.append(name)
            elif len(kept) < len(places):
                fewer[name] = kept
        if not gone and not fewer:
            raise TpfsError(errno.ENOENT, f"no dynamic event {removal.event}")
        self._remove_all(gone)
        for name, kept in fewer.items():  # a sibling place goes, enabled or not
            self.definitions[name] = kept
            self._lines = [d for d in self._lines if d.name != name or d in kept]

    def _remove_synthetic(self, bare: str) -> None:
        name = f"{SYNTH_SYSTEM}:{bare}"
        if name not in self.definitions:
            raise TpfsError(errno.ENOENT, f"no synthetic event {bare}")
        self._remove_all([name])

    def _remove_all(self, names: list[str]) -> None:
        """Every one of ``names``, or (EBUSY, one of them in use) none."""
        busy = [n for n in names if self._busy(n)]
        if busy:
            raise TpfsError(errno.EBUSY, f"{busy[0]} is in use")
        self._drop(names)

    def truncate(self, file: str) -> None:
        """``O_TRUNC``: every definition of the file's kinds, or none."""
        kinds = FILE_KINDS[file]
        names = [n for n, (d, *_) in self.definitions.items() if d.kind in kinds]
        # those that hold an event first (eprobes)
        names.sort(key=lambda n: self._holds(self.definitions[n][0]) is None)
        held = {self._holds(d) for d, *_ in self.definitions.values() if d.name not in names}
        if any(n in held for n in names):
            raise TpfsError(errno.EBUSY, "an eprobe holds one of these events")
        busy = [n for n in names if any(layer.enabled(n) for layer in self.layers())
                or KINDS[self.definitions[n][0].kind].is_busy(self.definitions[n][0], self)]
        if busy:
            raise TpfsError(errno.EBUSY, f"{busy[0]} is in use")
        self._drop(names)

    def _drop(self, names: list[str]) -> None:
        for name in names:
            definition = self.definitions.pop(name)[0]
            self._lines = [d for d in self._lines if d.name != name]
            self.registry.module_going(provider_name(name))
            self.layer.forget_format(name)
            KINDS[definition.kind].free(definition, self)

    @staticmethod
    def _holds(definition: DynEvent) -> str | None:
        return KINDS[definition.kind].holds(definition)
