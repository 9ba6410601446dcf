"""The kinds of node in the tree: files, directories, and their modes.

A ``File`` says what opening it gives (a handle) and what ``rm`` does. A
``Directory`` holds fixed entries and, optionally, ``Children`` that come
and go with the state. Its listing is sorted by a stable key (a fixed
file's place, then a child's key: an address, a name) that readdir resumes
from, never a position.
"""

from __future__ import annotations

import bisect
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .handles import Alive, Apply, Handle, SeqHandle, TextHandle
from .seqfile import SeqOperations

#: A child's sort key: a module's address or a name.
ChildKey = int | str
#: A directory entry's key: (0, place) for fixed entries, (1, child key) for the rest.
Key = tuple[int, ChildKey]

LISTING_MODE = 0o440
CONTROL_MODE = 0o200
SETTING_MODE = 0o640
MARKER_MODE = 0o220
DIR_MODE = 0o755
ROOT_MODE = 0o750


@dataclass(frozen=True, slots=True)
class Opener:
    """Who opened a file, and how: the open flags and the opening task.

    The task's name is looked up only when a file asks for it (``comm``), so
    that opening a file costs no lookup.
    """

    flags: int
    pid: int = 0
    #: Looks a task's name up by its pid (the daemon reads /proc).
    comm_of: Callable[[int], str | None] = lambda pid: None
    #: The CPU a task runs on now (None when it cannot be told).
    task_cpu: Callable[[int], int | None] = lambda pid: None

    @property
    def comm(self) -> str | None:
        """The opening task's name; None when it cannot be told."""
        return self.comm_of(self.pid)

    def cpu(self, ncpus: int) -> int:
        """The CPU the opening task writes from, as the kernel records its markers
        (0 when it cannot be told; a CPU past ``ncpus`` folds onto those modelled)."""
        cpu = self.task_cpu(self.pid)
        return 0 if cpu is None else cpu % ncpus


@dataclass(slots=True, eq=False)
class File:
    mode: int
    open: Callable[[Opener], Handle]
    remove: Callable[[], None] | None = None  # what rm does; None: EPERM

    @property
    def st_mode(self) -> int:
        return stat.S_IFREG | self.mode


class Children(Protocol):
    """The entries of a directory that come and go with the state."""

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        """(key, name) of every child, in key order."""

    def lookup(self, name: str) -> Node | None:
        """The child called ``name``, or None."""


@dataclass(slots=True, eq=False)
class Directory:
    """Fixed entries first, then the children, each group in its order.

    ``generation`` changes whenever the children might have: the listing is
    rebuilt only then. ``instances/`` alone has ``mkdir`` and ``rmdir``.
    """

    mode: int
    fixed: dict[str, Node] = field(default_factory=dict)
    children: Children | None = None
    generation: Callable[[], int] = lambda: 0
    #: What ``mkdir`` and ``rmdir`` of a name in it do; None: EPERM.
    mkdir: Callable[[str], None] | None = None
    rmdir: Callable[[str], None] | None = None
    _cache: tuple[int, list[tuple[Key, str]]] | None = None

    @property
    def st_mode(self) -> int:
        return stat.S_IFDIR | self.mode

    def lookup(self, name: str) -> Node | None:
        node = self.fixed.get(name)
        if node is None and self.children is not None:
            return self.children.lookup(name)
        return node

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
            if self.children is not None:
                listing.extend(((1, k), n) for k, n in self.children.listing())
            self._cache = (gen, listing)
        return self._cache[1]


Node = File | Directory


def _truncate(opener: Opener, clear: Callable[[], None] | None) -> None:
    """Run ``clear`` for an open for writing with O_TRUNC (``>`` in a shell)."""
    flags = opener.flags
    if clear is not None and flags & os.O_TRUNC and flags & os.O_ACCMODE != os.O_RDONLY:
        clear()


def text_file(mode: int, render: Callable[[], str] | None = None, apply: Apply | None = None,
              clear: Callable[[], None] | None = None,
              remove: Callable[[], None] | None = None, alive: Alive | None = None) -> File:
    """A small file; ``clear`` runs when it is opened for writing with O_TRUNC;
    its handles go stale (ENODEV) once ``alive`` says its object is gone."""

    def open_(opener: Opener) -> Handle:
        _truncate(opener, clear)
        return TextHandle(render, apply, alive)

    return File(mode, open_, remove)


def seq_file(mode: int, ops: SeqOperations[Any, Any], apply: Apply | None = None,
             clear: Callable[[], None] | None = None, alive: Alive | None = None) -> File:
    """A file read as a seq_file over ``ops``; ``clear`` runs on O_TRUNC and
    ``alive`` is checked, as for ``text_file``."""

    def open_(opener: Opener) -> Handle:
        _truncate(opener, clear)
        return SeqHandle(ops, apply, alive)

    return File(mode, open_)
