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
from .dynamic.dynevents import FILE_KINDS, PROFILES, DynamicEvents, is_provider
from .dynamic.eprobe_firing import EprobeFiring
from .events.catalog import Catalog
from .events.events import EventLayer
from .events.filter import SUBSYSTEM_FILTER_HELP
from .events.ftrace_events import MODE_FORMAT as FTRACE_MODE_FORMAT
from .events.ftrace_events import MODE_ID as FTRACE_MODE_ID
from .events.ftrace_events import MODE_TRIGGER as FTRACE_MODE_TRIGGER
from .events.ftrace_events import SYSTEM as FTRACE_SYSTEM
from .events.ftrace_events import FtraceEvent, ftrace_events
from .events.hist import HistListing
from .events.own_probe import EventProbes
from .events.symbols import KernelSymbols, resolvers
from .fire import Firer
from .instance import Instance, Instances, SharedState, instance_files
from .trace.ftrace_settings import MODES, Nsecs, render_printk_formats
from .trace.howto import MODE_README, readme_text
from .trace.printer import MARKER_IP
from .trace.settings import host_cpus
from .trace.trace import TraceArray
from .tracepoints.control import Commands
from .tracepoints.lines import show_entry, show_module
from .tracepoints.listings import EventListing, TracepointListing
from .vfs.handles import Alive, SeqHandle
from .vfs.nodes import (
    CONTROL_MODE,
    DIR_MODE,
    LISTING_MODE,
    ROOT_MODE,
    SETTING_MODE,
    ChildKey,
    Directory,
    File,
    Node,
    seq_file,
    text_file,
)
from .vfs.work import WorkHandle

#: The fixed files of ``events/SUBSYS/``: no event may be called one of these.
SUBSYSTEM_FILES = {"enable", "filter"}
#: Subsystem directories kept between lookups (at most; then all are made afresh).
MAX_MADE = 4096
#: The fixed entries of ``events/``: no subsystem may be called one of these.
EVENTS_FILES = {"enable", "header_page", "header_event", "ftrace"}


def hist_listing(layer: EventLayer, name: str) -> HistListing:
    """An event's ``hist`` file, read a record at a time (``hist_show``)."""
    system, _, event = name.partition(":")
    return HistListing(lambda: layer.hist.triggers(system, event), lambda: layer.resolvers,
                       layer.sort_budget)


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
        definitions = [(n, registry.definition(n)) for n in events.names()]

        def alive() -> bool:
            return any(registry.definition(n) is d for n, d in definitions)

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
        definition = registry.definition(name)

        def alive() -> bool:
            return registry.definition(name) is definition

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
            "hist": seq_file(LISTING_MODE, hist_listing(layer, name), alive=alive),
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
            "hist": seq_file(LISTING_MODE, hist_listing(layer, name)),
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
        load_symbols = functools.cache(symbols)
        #: What every instance shares; how every instance's ``hist`` files name
        #: addresses is its ``resolvers``.
        self.shared = shared = SharedState(
            registry, catalog, self.ncpus, marker_ip=marker_ip,
            resolvers=resolvers(load_symbols, functools.cache(syscalls)))
        self.cmdlines, self.tgids = shared.cmdlines, shared.tgids
        self.top = top = Instance.make("", 0, shared, None)
        self.tracing, self.events, self.trace = top.tracing, top.layer, top.trace
        self.resolvers = shared.resolvers
        #: Each instance's events and buffers, by the data of its event probes.
        self.targets: dict[int, tuple[EventLayer, TraceArray]] = {0: (top.layer, top.trace)}
        self._probe_data = itertools.count(1)
        self.instances = Instances(self._make_instance, self._destroy_instance,
                                   self._instance_dir)
        gen = self._generation
        targets = self.targets
        # Every instance's hist actions name the same synthetic events, and one that
        # an action fires cannot go.
        self.dynamic = dynamic = DynamicEvents(
            registry, top.layer, lambda: [layer for layer, _ in targets.values()],
            top.layer.error_log, shared.synth_events, shared.eprobe_hosts,
            same_symbols=lambda name: load_symbols().same_symbols(name))
        eprobes = EprobeFiring(top.layer, dynamic.eprobes)
        #: What an event firing does in each instance, and what fires with it.
        self.probes = EventProbes(registry, top.layer, targets, eprobes.attached)
        self.firer = firer = Firer(registry, top.layer, self.probes, dynamic.hit)
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
        fixed.update(self._instance_files(top))
        fixed.update({file: dynamic_events_file(dynamic, file) for file in FILE_KINDS})
        fixed.update({file: text_file(LISTING_MODE, functools.partial(dynamic.profile, file))
                      for file in PROFILES})
        cmdlines, tgids = self.cmdlines, self.tgids
        fixed.update({
            "fire": File(CONTROL_MODE, lambda opener: WorkHandle(
                lambda buf: firer.begin(buf, opener))),
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
        inst = Instance.make(name, next(self._probe_data), self.shared, self.top.layer)
        self.targets[inst.probe_data] = (inst.layer, inst.trace)
        return inst

    def _destroy_instance(self, inst: Instance) -> None:
        inst.layer.detach()
        del self.targets[inst.probe_data]

    def _instance_files(self, inst: Instance) -> dict[str, Node]:
        return instance_files(inst, self._events_dir(inst.layer),
                              functools.partial(self.probes.mark, inst.layer, inst.trace))

    def _instance_dir(self, inst: Instance) -> Directory:
        return Directory(DIR_MODE, self._instance_files(inst))

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
