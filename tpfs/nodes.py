"""The directory tree: which names exist, their modes, and what opening them gives.

Nodes are made on demand from the current state, so a module's file or an
event's directory exists exactly while its module or event does. Directory
listings are sorted by a stable key (a fixed file's place, a module's
address, a name) that readdir uses to resume, never a position.
"""

from __future__ import annotations

import bisect
import errno
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .catalog import Catalog
from .commands import Commands
from .errors import TpfsError
from .events import SUBSYSTEM_FILTER_HELP, EventLayer, parse_bool
from .handles import Apply, Handle, SeqHandle, TextHandle
from .iterator import make_walk
from .listing import events_filler, tracepoints_filler
from .registry import Module, Registry, TracepointEntry
from .tracing import Setting, Tracing

Key = tuple[int, int | str]


@dataclass(slots=True, eq=False)
class File:
    mode: int
    open: Callable[[int], Handle]
    remove: Callable[[], None] | None = None  # what rm does; None: EPERM

    @property
    def st_mode(self) -> int:
        return stat.S_IFREG | self.mode


@dataclass(slots=True, eq=False)
class Directory:
    """Fixed entries first, then entries that come and go, each group sorted."""

    mode: int
    fixed: dict[str, Node] = field(default_factory=dict)
    dynamic: Callable[[], Sequence[tuple[int | str, str]]] = lambda: ()
    lookup_dynamic: Callable[[str], Node | None] = lambda name: None
    generation: Callable[[], int] = lambda: 0
    _cache: tuple[int, list[tuple[Key, str]]] | None = None

    @property
    def st_mode(self) -> int:
        return stat.S_IFDIR | self.mode

    def lookup(self, name: str) -> Node | None:
        node = self.fixed.get(name)
        return node if node is not None else self.lookup_dynamic(name)

    def entries_after(self, key: Key | None) -> list[tuple[Key, str]]:
        """The entries whose key sorts after ``key`` (all for None): readdir's resume."""
        entries = self.entries()
        if key is None:
            return entries
        return entries[bisect.bisect_right(entries, key, key=lambda entry: entry[0]):]

    def entries(self) -> list[tuple[Key, str]]:
        """(key, name) pairs in key order; rebuilt only when the state changed."""
        gen = self.generation()
        if self._cache is None or self._cache[0] != gen:
            listing: list[tuple[Key, str]] = [((0, i), n) for i, n in enumerate(self.fixed)]
            listing.extend(((1, k), n) for k, n in self.dynamic())
            self._cache = (gen, listing)
        return self._cache[1]


Node = File | Directory

LISTING_MODE = 0o440
CONTROL_MODE = 0o200
SETTING_MODE = 0o640
DIR_MODE = 0o755
ROOT_MODE = 0o750


def text_file(mode: int, render: Callable[[], str] | None = None, apply: Apply | None = None,
              clear: Callable[[], None] | None = None,
              remove: Callable[[], None] | None = None) -> File:
    """A small file; ``clear`` runs when it is opened for writing with O_TRUNC."""

    def open_(flags: int) -> Handle:
        if clear is not None and flags & os.O_TRUNC and flags & os.O_ACCMODE != os.O_RDONLY:
            clear()
        return TextHandle(render, apply)

    return File(mode, open_, remove)


def setting_file(setting: Setting) -> File:
    return text_file(setting.mode, setting.render, setting.write, setting.clear)


def render_module(module: Module) -> str:
    lines = [
        f"address {module.address:#x}",
        f"taints {module.taints or '-'}",
        f"registered {'yes' if module.registered else 'no'}",
    ]
    lines.extend(f"tracepoint {name}" for name in module.events)
    return "\n".join(lines) + "\n"


def render_entry(entry: TracepointEntry) -> str:
    return "".join(f"{p.func} {p.data:#x}\n" for p in entry.funcs)


class Tree:
    """The whole mounted directory, built over one registry."""

    def __init__(self, registry: Registry, catalog: Catalog, *, legacy: bool = False) -> None:
        self.registry = registry
        self.commands = cmd = Commands(registry)
        self.events = EventLayer(registry, catalog)
        self.tracing = Tracing()
        self.catalog = catalog
        walk = make_walk(registry, legacy)
        gen = self._generation
        fixed: dict[str, Node] = {
            "available_events": File(LISTING_MODE, lambda f: SeqHandle(events_filler(walk))),
            "tracepoints": File(LISTING_MODE, lambda f: SeqHandle(tracepoints_filler(walk))),
            "modules": Directory(DIR_MODE, {
                "load": text_file(CONTROL_MODE, apply=cmd.load),
                "unload": text_file(CONTROL_MODE, apply=cmd.unload),
            }, self._module_names, self._module_node, gen),
            "probes": Directory(DIR_MODE, {
                "register": text_file(CONTROL_MODE, apply=cmd.register),
                "unregister": text_file(CONTROL_MODE, apply=cmd.unregister),
                "register_noupdate": text_file(CONTROL_MODE, apply=cmd.register_noupdate),
                "unregister_noupdate": text_file(CONTROL_MODE, apply=cmd.unregister_noupdate),
                "update": text_file(CONTROL_MODE, apply=cmd.update),
            }, self._entry_names, self._entry_node, gen),
            "events": self._events_dir(),
            "set_event": text_file(SETTING_MODE, self.events.set_event_text,
                                   self.events.set_event_write, self.events.disable_all),
        }
        for name, setting in self.tracing.settings(self.events.error_log).items():
            fixed[name] = setting_file(setting)
        self.root = Directory(ROOT_MODE, fixed, generation=gen)

    def _generation(self) -> int:
        return self.registry.generation

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

    # -- modules/ ----------------------------------------------------------
    def _module_names(self) -> list[tuple[int | str, str]]:
        return [(m.address, m.name) for m in self.registry.modules_by_address()]

    def _module_node(self, name: str) -> Node | None:
        module = self.registry.modules.get(name)
        if module is None:
            return None
        return text_file(LISTING_MODE, lambda: render_module(module),
                         remove=lambda: self.commands.remove_module(name))

    # -- probes/ -----------------------------------------------------------
    def _entry_names(self) -> list[tuple[int | str, str]]:
        return [(name, name) for name in sorted(self.registry.entries)]

    def _entry_node(self, name: str) -> Node | None:
        entry = self.registry.get_tracepoint(name)
        if entry is None:
            return None
        return text_file(LISTING_MODE, lambda: render_entry(entry),
                         remove=lambda: self.commands.remove_probes(name))

    # -- events/ -----------------------------------------------------------
    def _enable_file(self, names: Callable[[], list[str]]) -> File:
        layer = self.events
        return text_file(SETTING_MODE, lambda: layer.state(names()) + "\n",
                         lambda buf: layer.set_enabled(names(), parse_bool(buf)))

    def _events_dir(self) -> Directory:
        layer = self.events
        cat = self.catalog

        def all_names() -> list[str]:
            return [f"{s}:{e}" for s, evs in layer.subsystems().items() for e in evs]

        return Directory(DIR_MODE, {
            "enable": self._enable_file(all_names),
            "header_page": text_file(LISTING_MODE, lambda: cat.header_page),
            "header_event": text_file(LISTING_MODE, lambda: cat.header_event),
        }, lambda: [(s, s) for s in layer.subsystems()], self._subsystem_dir,
            self._generation)

    def _subsystem_dir(self, subsys: str) -> Node | None:
        layer = self.events
        if subsys not in layer.subsystems():
            return None

        def names() -> list[str]:
            return [f"{subsys}:{e}" for e in layer.subsystems().get(subsys, [])]

        return Directory(DIR_MODE, {
            "enable": self._enable_file(names),
            "filter": text_file(SETTING_MODE, lambda: SUBSYSTEM_FILTER_HELP,
                                lambda buf: layer.set_subsystem_filter(subsys, buf)),
        }, lambda: [(e, e) for e in layer.subsystems().get(subsys, [])],
            lambda event: self._event_dir(f"{subsys}:{event}"), self._generation)

    def _event_dir(self, name: str) -> Node | None:
        layer = self.events
        if not layer.exists(name):
            return None
        return Directory(DIR_MODE, {
            "enable": text_file(SETTING_MODE, lambda: f"{int(layer.enabled(name))}\n",
                                lambda buf: layer.set_enabled([name], parse_bool(buf))),
            "id": text_file(LISTING_MODE, lambda: f"{layer.event_id(name)}\n"),
            "format": text_file(LISTING_MODE, lambda: layer.format(name)),
            "filter": text_file(SETTING_MODE, lambda: layer.filter_text(name),
                                lambda buf: layer.set_filter(name, buf)),
            "trigger": text_file(SETTING_MODE, lambda: layer.trigger_text(name),
                                 lambda buf: layer.set_trigger(name, buf)),
        })
