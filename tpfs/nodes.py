"""The directory tree: which names exist, their modes, and what opening them gives.

Nodes are made on demand from the registry's current state, so a module's
file exists exactly while the module is loaded. Directory listings are
sorted by a stable key (a control file's place, a module's address, an
entry's name) that readdir uses to resume, never a position.
"""

from __future__ import annotations

import bisect
import errno
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .commands import Commands
from .errors import TpfsError
from .handles import ControlHandle, Handle, SeqHandle, TextHandle
from .iterator import make_walk
from .listing import events_filler, tracepoints_filler
from .registry import Module, Registry, TracepointEntry

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
        """(key, name) pairs in key order; rebuilt only when the registry changed."""
        gen = self.generation()
        if self._cache is None or self._cache[0] != gen:
            listing: list[tuple[Key, str]] = [((0, i), n) for i, n in enumerate(self.fixed)]
            listing.extend(((1, k), n) for k, n in self.dynamic())
            self._cache = (gen, listing)
        return self._cache[1]


Node = File | Directory

LISTING_MODE = 0o440
CONTROL_MODE = 0o200
DIR_MODE = 0o755


def _text(render: Callable[[], str]) -> Callable[[int], Handle]:
    return lambda flags: TextHandle(render().encode())


def _control(apply: Callable[[bytes], None]) -> Callable[[int], Handle]:
    return lambda flags: ControlHandle(apply)


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

    def __init__(self, registry: Registry, *, legacy: bool = False) -> None:
        self.registry = registry
        self.commands = cmd = Commands(registry)
        walk = make_walk(registry, legacy)
        gen = self._generation
        self.root = Directory(DIR_MODE, {
            "available_events": File(LISTING_MODE, lambda f: SeqHandle(events_filler(walk))),
            "tracepoints": File(LISTING_MODE, lambda f: SeqHandle(tracepoints_filler(walk))),
            "modules": Directory(DIR_MODE, {
                "load": File(CONTROL_MODE, _control(cmd.load)),
                "unload": File(CONTROL_MODE, _control(cmd.unload)),
            }, self._module_names, self._module_node, gen),
            "probes": Directory(DIR_MODE, {
                "register": File(CONTROL_MODE, _control(cmd.register)),
                "unregister": File(CONTROL_MODE, _control(cmd.unregister)),
                "register_noupdate": File(CONTROL_MODE, _control(cmd.register_noupdate)),
                "unregister_noupdate": File(CONTROL_MODE, _control(cmd.unregister_noupdate)),
                "update": File(CONTROL_MODE, _control(cmd.update)),
            }, self._entry_names, self._entry_node, gen),
        }, generation=gen)

    def _generation(self) -> int:
        return self.registry.generation

    def resolve(self, path: Sequence[str]) -> Node | None:
        node: Node | None = self.root
        for name in path:
            if not isinstance(node, Directory):
                return None
            node = node.lookup(name)
        return node

    # -- modules/ ----------------------------------------------------------
    def _module_names(self) -> list[tuple[int | str, str]]:
        return [(m.address, m.name) for m in self.registry.modules_by_address()]

    def _module_node(self, name: str) -> Node | None:
        module = self.registry.modules.get(name)
        if module is None:
            return None
        return File(LISTING_MODE, _text(lambda: render_module(module)),
                    lambda: self.commands.remove_module(name))

    # -- probes/ -----------------------------------------------------------
    def _entry_names(self) -> list[tuple[int | str, str]]:
        return [(name, name) for name in sorted(self.registry.entries)]

    def _entry_node(self, name: str) -> Node | None:
        entry = self.registry.get_tracepoint(name)
        if entry is None:
            return None
        return File(LISTING_MODE, _text(lambda: render_entry(entry)),
                    lambda: self.commands.remove_probes(name))

    def unlink(self, parent: Directory, name: str) -> None:
        node = parent.lookup(name)
        if node is None:
            raise TpfsError(errno.ENOENT, f"no {name}")
        if isinstance(node, Directory) or node.remove is None:
            raise TpfsError(errno.EPERM, f"{name} cannot be removed")
        node.remove()
