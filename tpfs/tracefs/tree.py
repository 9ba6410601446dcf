"""The one table from path to node: the whole mounted directory over one registry.

``Tree.__init__`` is the table of the top level; the directories whose
entries come and go (``modules/``, ``probes/``, ``events/`` and below) are
the ``Children`` classes here, made on demand from the current state so
that a module's file or an event's directory exists exactly while its
module or event does.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence

from ..kernel.errors import TpfsError
from ..kernel.iterator import make_walk
from ..kernel.registry import Registry
from .catalog import Catalog
from .control import Commands
from .events import EventLayer, parse_bool
from .filter import SUBSYSTEM_FILTER_HELP
from .fire import Firer
from .handles import Alive, Handle, PipeHandle, SeqHandle, TextHandle
from .lines import show_entry, show_module
from .listings import EventListing, TracepointListing
from .nodes import (
    CONTROL_MODE,
    DIR_MODE,
    LISTING_MODE,
    MARKER_MODE,
    ROOT_MODE,
    SETTING_MODE,
    ChildKey,
    Directory,
    File,
    Node,
    Opener,
    seq_file,
    text_file,
)
from .settings import Setting, Tracing
from .trace import TraceArray, TraceListing, TracePipe

#: The fixed files of ``events/SUBSYS/``: no event may be called one of these.
SUBSYSTEM_FILES = {"enable", "filter"}


def setting_file(setting: Setting) -> File:
    return text_file(setting.mode, setting.render, setting.write, setting.clear)


def enable_file(layer: EventLayer, names: Callable[[], list[str]],
                alive: Alive | None = None) -> File:
    """An ``enable`` over several events: 1 all on, 0 all off, X some of each."""
    return text_file(SETTING_MODE, lambda: layer.state(names()) + "\n",
                     lambda buf: layer.set_enabled(names(), parse_bool(buf)), alive=alive)


class ModuleFiles:
    """``modules/NAME``, one per loaded module, in address order."""

    def __init__(self, registry: Registry, commands: Commands) -> None:
        self.registry = registry
        self.commands = commands

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        return [(m.address, m.name) for m in self.registry.modules_by_address()]

    def lookup(self, name: str) -> Node | None:
        modules = self.registry.modules
        module = modules.get(name)
        if module is None:
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

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        return self.layer.subsystem_listing()

    def lookup(self, name: str) -> Node | None:
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
                                lambda buf: layer.set_enabled([name], parse_bool(buf)),
                                alive=alive),
            "filter": text_file(SETTING_MODE, lambda: layer.filter_text(name),
                                lambda buf: layer.set_filter(name, buf), alive=alive),
            "trigger": text_file(SETTING_MODE, lambda: layer.trigger_text(name),
                                 lambda buf: layer.set_trigger(name, buf), alive=alive),
            "format": text_file(LISTING_MODE, lambda: layer.format(name), alive=alive),
            "id": text_file(LISTING_MODE, lambda: f"{layer.event_id(name)}\n", alive=alive),
        })


def data_files(trace: TraceArray, firer: Firer) -> dict[str, Node]:
    """The files events are fired through, recorded by and read from."""

    def writer(apply: Callable[[bytes, Opener], int | None]) -> Callable[[Opener], Handle]:
        return lambda opener: TextHandle(None, lambda buf: apply(buf, opener))

    def pipe(cpu: int | None) -> File:
        def open_(opener: Opener) -> Handle:
            trace.open_pipe(cpu)
            return PipeHandle(TracePipe(trace, cpu), bool(opener.flags & os.O_NONBLOCK),
                              lambda: trace.close_pipe(cpu))

        return File(LISTING_MODE, open_)

    def cpu_dir(cpu: int) -> Directory:
        return Directory(DIR_MODE, {
            "stats": text_file(LISTING_MODE, lambda: trace.stats(cpu)),
            "trace": seq_file(SETTING_MODE, TraceListing(trace, cpu), lambda buf: None,
                              lambda: trace.buffer.reset(cpu)),
            "trace_pipe": pipe(cpu),
        })

    return {
        "fire": File(CONTROL_MODE, writer(firer.write)),
        "trace": seq_file(SETTING_MODE, TraceListing(trace), lambda buf: None, trace.clear),
        "trace_pipe": pipe(None),
        "trace_marker": File(MARKER_MODE, writer(
            lambda buf, opener: trace.mark(buf, opener.pid))),
        "trace_marker_raw": File(MARKER_MODE, writer(
            lambda buf, opener: trace.mark_raw(buf, opener.pid))),
        "saved_cmdlines": text_file(LISTING_MODE, trace.saved_cmdlines),
        "per_cpu": Directory(DIR_MODE, {f"cpu{cpu}": cpu_dir(cpu)
                                        for cpu in range(trace.tracing.ncpus)}),
    }


class Tree:
    """The whole mounted directory, built over one registry."""

    def __init__(self, registry: Registry, catalog: Catalog, *, legacy: bool = False,
                 ncpus: int | None = None) -> None:
        self.registry = registry
        walk = make_walk(registry, legacy)
        self.commands = cmd = Commands(registry, self._check_event_name)
        self.tracing = Tracing() if ncpus is None else Tracing(ncpus)
        self.events = layer = EventLayer(registry, catalog, ncpus=self.tracing.ncpus)
        gen = self._generation
        # Shared by every open handle: the event listing caches rendered blocks.
        events, tracepoints = EventListing(walk), TracepointListing(walk)
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
            "events": Directory(DIR_MODE, {
                "enable": enable_file(layer, layer.all_names),
                "header_page": text_file(LISTING_MODE, lambda: catalog.header_page),
                "header_event": text_file(LISTING_MODE, lambda: catalog.header_event),
            }, children=Subsystems(layer, gen), generation=gen),
            "set_event": text_file(SETTING_MODE, layer.set_event_text, layer.set_event_write,
                                   layer.disable_all),
        }
        for name, setting in self.tracing.settings(layer.error_log).items():
            fixed[name] = setting_file(setting)
        self.trace = TraceArray(self.tracing)
        layer.on_used_module_gone = self.trace.clear
        self.tracing.resize = self.trace.resize
        fixed.update(data_files(self.trace, Firer(registry, layer, self.trace)))
        self.root = Directory(ROOT_MODE, fixed, generation=gen)

    def _generation(self) -> int:
        return self.registry.generation

    def _check_event_name(self, name: str) -> None:
        """Refuse a name whose directory would collide with a fixed file of ``events/``."""
        subsys, _, event = name.partition(":")
        events = self.root.lookup("events")
        assert isinstance(events, Directory)
        if subsys in events.fixed or event in SUBSYSTEM_FILES:
            raise TpfsError(errno.EINVAL, f"{name} would collide with a file of events/")

    def resolve(self, path: Sequence[str]) -> Node | None:
        node: Node | None = self.root
        for name in path:
            if not isinstance(node, Directory):
                return None
            node = node.lookup(name)
        return node

    def unlink(self, parent: Directory, name: str) -> None:
        node = parent.lookup(name)
        if node is None:
            raise TpfsError(errno.ENOENT, f"no {name}")
        if isinstance(node, Directory) or node.remove is None:
            raise TpfsError(errno.EPERM, f"{name} cannot be removed")
        node.remove()
