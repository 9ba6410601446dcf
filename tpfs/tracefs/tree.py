"""The one table from path to node: the whole mounted directory over one registry.

``Tree.__init__`` is the table of the top level; the directories whose
entries come and go (``modules/``, ``probes/``, ``events/`` and below) are
the ``Children`` classes here, made on demand from the current state so
that a module's file or an event's directory exists exactly while its
module or event does.
"""

from __future__ import annotations

import errno
import functools
import itertools
from collections.abc import Callable, Mapping, Sequence

from ..kernel.errors import TpfsError
from ..kernel.iterator import make_walk
from ..kernel.registry import Registry
from .catalog import Catalog
from .control import Commands
from .dynevents import FILE_KINDS, PROFILES, DynamicEvents, is_provider
from .events import EventLayer
from .filter import SUBSYSTEM_FILTER_HELP
from .fire import Firer
from .ftrace_events import MODE_FORMAT as FTRACE_MODE_FORMAT
from .ftrace_events import MODE_ID as FTRACE_MODE_ID
from .ftrace_events import MODE_TRIGGER as FTRACE_MODE_TRIGGER
from .ftrace_events import SYSTEM as FTRACE_SYSTEM
from .ftrace_events import FtraceEvent, ftrace_events
from .ftrace_settings import MODES, Nsecs, SavedCmdlines, SavedTgids, render_printk_formats
from .handles import Alive, SeqHandle, TextHandle
from .howto import MODE_README, readme_text
from .instance import Instance, Instances, instance_files, make_instance
from .lines import show_entry, show_module
from .listings import EventListing, TracepointListing
from .nodes import (
    CONTROL_MODE,
    DIR_MODE,
    LISTING_MODE,
    ROOT_MODE,
    SETTING_MODE,
    ChildKey,
    Directory,
    File,
    Node,
    text_file,
)
from .printer import MARKER_IP
from .settings import host_cpus
from .symbols import KernelSymbols, resolvers
from .trace import TraceArray

#: The fixed files of ``events/SUBSYS/``: no event may be called one of these.
SUBSYSTEM_FILES = {"enable", "filter"}
#: Subsystem directories kept between lookups (at most; then all are made afresh).
MAX_MADE = 4096
#: The fixed entries of ``events/``: no subsystem may be called one of these.
EVENTS_FILES = {"enable", "header_page", "header_event", "ftrace"}


def enable_file(layer: EventLayer, names: Callable[[], list[str]],
                alive: Alive | None = None) -> File:
    """An ``enable`` over several events: 1 all on, 0 all off, X some of each."""
    return text_file(SETTING_MODE, lambda: layer.state(names()) + "\n",
                     lambda buf: layer.enable_write(names(), buf, subsystem=True), alive=alive)


def dynamic_events_file(dynamic: DynamicEvents, file: str) -> File:
    """``dynamic_events`` and its kin: definitions in, the listing out; O_TRUNC
    removes every definition the file takes."""
    return text_file(SETTING_MODE, lambda: dynamic.render(file),
                     lambda buf: dynamic.write(file, buf), lambda: dynamic.truncate(file))


class ModuleFiles:
    """``modules/NAME``, one per loaded module, in address order."""

    def __init__(self, registry: Registry, commands: Commands) -> None:
        self.registry = registry
        self.commands = commands

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        return [(m.address, m.name) for m in self.registry.modules_by_address()
                if not is_provider(m.name)]

    def lookup(self, name: str) -> Node | None:
        modules = self.registry.modules
        module = modules.get(name)
        if module is None or is_provider(name):
            return None
        return text_file(LISTING_MODE, lambda: show_module(module),
                         remove=lambda: self.commands.remove_module(name),
                         alive=lambda: modules.get(name) is module)


class EntryFiles:
    """``probes/SUBSYS:EVENT``, one per hash-table entry, by name."""

    def __init__(self, registry: Registry, commands: Commands) -> None:
        self.registry = registry
        self.commands = commands

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        return [(name, name) for name in sorted(self.registry.entries)]

    def lookup(self, name: str) -> Node | None:
        registry = self.registry
        entry = registry.get_tracepoint(name)
        if entry is None:
            return None
        return text_file(LISTING_MODE, lambda: show_entry(entry),
                         remove=lambda: self.commands.remove_probes(name),
                         alive=lambda: registry.get_tracepoint(name) is entry)


class Subsystems:
    """``events/SUBSYS/``, one per subsystem with a registered event."""

    def __init__(self, layer: EventLayer, generation: Callable[[], int]) -> None:
        self.layer = layer
        self.generation = generation
        # Each subsystem's directory as made at a generation: a path walk looks a
        # subsystem up once per component, and making one costs its events.
        self._made: dict[str, tuple[int, Directory]] = {}

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        return self.layer.subsystem_listing()

    def lookup(self, name: str) -> Node | None:
        gen = self.generation()
        made = self._made.get(name)
        if made is not None and made[0] == gen:
            return made[1]
        directory = self._make(name)
        if directory is None:
            self._made.pop(name, None)
        else:
            if len(self._made) > MAX_MADE:
                self._made.clear()
            self._made[name] = (gen, directory)
        return directory

    def _make(self, name: str) -> Directory | None:
        layer = self.layer
        if name not in layer.subsystems():
            return None
        events = SubsystemEvents(layer, name)
        registry = layer.registry
        # The directory lasts while any event it had at lookup keeps its definition.
        definitions = [(n, registry.instances(n)) for n in events.names()]

        def alive() -> bool:
            return any(registry.instances(n) is d for n, d in definitions)

        files: dict[str, Node] = {
            "filter": text_file(SETTING_MODE, lambda: SUBSYSTEM_FILTER_HELP,
                                lambda buf: layer.set_subsystem_filter(name, buf), alive=alive),
            "enable": enable_file(layer, events.names, alive),
        }
        assert files.keys() == SUBSYSTEM_FILES
        return Directory(DIR_MODE, files, children=events, generation=self.generation)


class SubsystemEvents:
    """``events/SUBSYS/EVENT/``, one per event of the subsystem."""

    def __init__(self, layer: EventLayer, subsys: str) -> None:
        self.layer = layer
        self.subsys = subsys

    def events(self) -> list[str]:
        return list(self.layer.subsystems().get(self.subsys, ()))

    def names(self) -> list[str]:
        return [f"{self.subsys}:{e}" for e in self.events()]

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        return self.layer.event_listing(self.subsys)

    def lookup(self, event: str) -> Node | None:
        layer = self.layer
        name = f"{self.subsys}:{event}"
        if not layer.exists(name):
            return None
        registry = layer.registry
        definition = registry.instances(name)

        def alive() -> bool:
            return registry.instances(name) is definition

        return Directory(DIR_MODE, {
            "enable": text_file(SETTING_MODE, lambda: layer.enable_text(name),
                                lambda buf: layer.enable_write([name], buf, subsystem=False),
                                alive=alive),
            "filter": text_file(SETTING_MODE, lambda: layer.filter_text(name),
                                lambda buf: layer.set_filter(name, buf), alive=alive),
            "trigger": text_file(SETTING_MODE, lambda: layer.trigger_text(name),
                                 lambda buf: layer.set_trigger(name, buf), alive=alive),
            "format": text_file(LISTING_MODE, lambda: layer.format(name), alive=alive),
            "id": text_file(LISTING_MODE, lambda: f"{layer.event_id(name)}\n", alive=alive),
            "hist": text_file(LISTING_MODE, lambda: layer.hist_text(name), alive=alive),
        })


def ftrace_events_dir(layer: EventLayer) -> Directory:
    """``events/ftrace/``: the kernel's internal events, their format and id (no
    enable); ``print`` takes triggers, and has a ``hist`` as their ``trigger`` goes."""

    def event_dir(event: FtraceEvent) -> Directory:
        name = f"{FTRACE_SYSTEM}:{event.name}"
        files: dict[str, Node] = {
            "format": text_file(FTRACE_MODE_FORMAT, lambda: event.format),
            "id": text_file(FTRACE_MODE_ID, lambda: f"{event.id}\n"),
            "trigger": text_file(FTRACE_MODE_TRIGGER, lambda: layer.trigger_text(name),
                                 lambda buf: layer.set_trigger(name, buf)),
            "hist": text_file(LISTING_MODE, lambda: layer.hist_text(name)),
        }
        names = event.files + ("hist",) * ("trigger" in event.files)
        return Directory(DIR_MODE, {file: files[file] for file in names})

    return Directory(DIR_MODE, {event.name: event_dir(event) for event in ftrace_events()})


class Tree:
    """The whole mounted directory, built over one registry."""

    def __init__(self, registry: Registry, catalog: Catalog, *,
                 ncpus: int | None = None, marker_ip: int = MARKER_IP,
                 symbols: Callable[[], KernelSymbols] = KernelSymbols,
                 syscalls: Callable[[], Mapping[int, str]] = dict) -> None:
        self.registry = registry
        self.catalog = catalog
        walk = make_walk(registry)
        self.commands = cmd = Commands(registry, self._check_event_name)
        self.ncpus = host_cpus() if ncpus is None else ncpus
        self.cmdlines, self.tgids = SavedCmdlines(), SavedTgids()
        self.marker_ip = marker_ip
        self.top = top = make_instance("", 0, registry, catalog, self.ncpus, None,
                                       self.cmdlines, self.tgids, marker_ip)
        self.tracing, self.events, self.trace = top.tracing, top.layer, top.trace
        #: How every instance's ``hist`` files name addresses.
        load_symbols = functools.cache(symbols)
        self.resolvers = top.layer.resolvers = resolvers(load_symbols, functools.cache(syscalls))
        #: Each instance's events and buffers, by the data of its event probes.
        self.targets: dict[int, tuple[EventLayer, TraceArray]] = {0: (top.layer, top.trace)}
        self._probe_data = itertools.count(1)
        self.instances = Instances(self._make_instance, self._destroy_instance,
                                   self._instance_dir)
        gen = self._generation
        # Shared by every open handle: the event listing caches rendered blocks.
        events, tracepoints = EventListing(walk), TracepointListing(walk)
        self.thresh, self.max_latency = Nsecs(), Nsecs()
        fixed: dict[str, Node] = {
            "available_events": File(LISTING_MODE, lambda opener: SeqHandle(events)),
            "tracepoints": File(LISTING_MODE, lambda opener: SeqHandle(tracepoints)),
            "modules": Directory(DIR_MODE, {
                "load": text_file(CONTROL_MODE, apply=cmd.load),
                "unload": text_file(CONTROL_MODE, apply=cmd.unload),
            }, children=ModuleFiles(registry, cmd), generation=gen),
            "probes": Directory(DIR_MODE, {
                "register": text_file(CONTROL_MODE, apply=cmd.register),
                "unregister": text_file(CONTROL_MODE, apply=cmd.unregister),
                "register_noupdate": text_file(CONTROL_MODE, apply=cmd.register_noupdate),
                "unregister_noupdate": text_file(CONTROL_MODE, apply=cmd.unregister_noupdate),
                "update": text_file(CONTROL_MODE, apply=cmd.update),
            }, children=EntryFiles(registry, cmd), generation=gen),
        }
        fixed.update(instance_files(top, self._events_dir(top.layer)))
        targets = self.targets
        self.dynamic = dynamic = DynamicEvents(
            registry, top.layer, lambda: [layer for layer, _ in targets.values()],
            top.layer.error_log, same_symbols=lambda name: load_symbols().same_symbols(name))
        fixed.update({file: dynamic_events_file(dynamic, file) for file in FILE_KINDS})
        fixed.update({file: text_file(LISTING_MODE, functools.partial(dynamic.profile, file))
                      for file in PROFILES})
        # Every instance's hist actions name the same synthetic events, and one that
        # an action fires cannot go.
        top.layer.hist.synth_events = dynamic.synth_events
        dynamic.synth_in_use = lambda name: any(layer.hist.uses_synth(name)
                                                for layer, _ in targets.values())
        self.firer = firer = Firer(registry, top.layer, self.targets, dynamic.eprobes,
                                   dynamic.hit)
        top.trace.marker_triggers = functools.partial(firer.mark, top.layer, top.trace)
        cmdlines, tgids = self.cmdlines, self.tgids
        fixed.update({
            "fire": File(CONTROL_MODE, lambda opener: TextHandle(
                None, lambda buf: firer.write(buf, opener))),
            "README": text_file(MODE_README, readme_text),
            "printk_formats": text_file(MODES["printk_formats"], lambda: render_printk_formats(())),
            "saved_cmdlines": text_file(MODES["saved_cmdlines"], cmdlines.render),
            "saved_cmdlines_size": text_file(MODES["saved_cmdlines_size"], cmdlines.render_size,
                                             cmdlines.write_size),
            "saved_tgids": text_file(MODES["saved_tgids"], tgids.render),
            "tracing_thresh": text_file(MODES["tracing_thresh"], self.thresh.render,
                                        self.thresh.write),
            "tracing_max_latency": text_file(MODES["tracing_max_latency"],
                                             self.max_latency.render, self.max_latency.write),
            "instances": Directory(DIR_MODE, children=self.instances,
                                   generation=lambda: self.instances.generation,
                                   mkdir=self.instances.mkdir, rmdir=self.instances.rmdir),
        })
        self.root = Directory(ROOT_MODE, fixed, generation=gen)

    def _events_dir(self, layer: EventLayer) -> Directory:
        catalog = self.catalog
        return Directory(DIR_MODE, {
            "enable": enable_file(layer, layer.all_names),
            "header_page": text_file(LISTING_MODE, lambda: catalog.header_page),
            "header_event": text_file(LISTING_MODE, lambda: catalog.header_event),
            "ftrace": ftrace_events_dir(layer),
        }, children=Subsystems(layer, self._generation), generation=self._generation)

    def _make_instance(self, name: str) -> Instance:
        inst = make_instance(name, next(self._probe_data), self.registry, self.catalog,
                             self.ncpus, self.top.layer, self.cmdlines, self.tgids,
                             self.marker_ip)
        inst.layer.hist.synth_events = self.dynamic.synth_events
        inst.layer.resolvers = self.resolvers
        inst.trace.marker_triggers = functools.partial(self.firer.mark, inst.layer, inst.trace)
        self.targets[inst.probe_data] = (inst.layer, inst.trace)
        return inst

    def _destroy_instance(self, inst: Instance) -> None:
        inst.layer.detach()
        del self.targets[inst.probe_data]

    def _instance_dir(self, inst: Instance) -> Directory:
        return Directory(DIR_MODE, instance_files(inst, self._events_dir(inst.layer)))

    def hold(self, path: Sequence[str]) -> Callable[[], None] | None:
        """Count a file opened at ``path`` against its instance, if it is in one;
        returns what its last close must call."""
        if len(path) < 3 or path[0] != "instances":
            return None
        inst = self.instances.by_name.get(path[1])
        if inst is None:
            return None
        inst.open_files += 1

        def release() -> None:
            inst.open_files -= 1

        return release

    def _generation(self) -> int:
        return self.registry.generation

    def _check_event_name(self, name: str) -> None:
        """Refuse a name whose directory would collide with a fixed file of ``events/``."""
        subsys, _, event = name.partition(":")
        if subsys in EVENTS_FILES or event in SUBSYSTEM_FILES:
            raise TpfsError(errno.EINVAL, f"{name} would collide with a file of events/")

    def resolve(self, path: Sequence[str]) -> Node | None:
        node: Node | None = self.root
        for name in path:
            if not isinstance(node, Directory):
                return None
            node = node.lookup(name)
        return node

    def mkdir(self, parent: Directory, name: str) -> None:
        if parent.mkdir is None:
            raise TpfsError(errno.EPERM, "directories are fixed here")
        parent.mkdir(name)

    def rmdir(self, parent: Directory, name: str) -> None:
        if parent.rmdir is None:
            raise TpfsError(errno.EPERM, "directories are fixed here")
        parent.rmdir(name)

    def unlink(self, parent: Directory, name: str) -> None:
        node = parent.lookup(name)
        if node is None:
            raise TpfsError(errno.ENOENT, f"no {name}")
        if isinstance(node, Directory) or node.remove is None:
            raise TpfsError(errno.EPERM, f"{name} cannot be removed")
        node.remove()
