"""A tree's files without a mount: opened, read, written and released through its
nodes, with each open counted against its instance as the FUSE adapter counts it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import ProbesChanged, Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.tree import Tree
from tpfs.tracefs.vfs.handles import Handle
from tpfs.tracefs.vfs.nodes import Directory, File, Opener

SWITCH_FORMAT = (
    f"name: sched_switch\nID: 372\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    "\tfield:char next_comm[16];\toffset:28;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t next_pid;\toffset:44;\tsize:4;\tsigned:1;\n"
    '\nprint fmt: "prev_pid=%d next_pid=%d", REC->prev_pid, REC->next_pid\n'
)
SWITCH = "sched:sched_switch"
PID = 100


class TreeFiles:
    """A tree over ``sched:sched_switch`` (with its kernel format) and ``names``."""

    def __init__(self, names: tuple[str, ...] = ("irq:other",), ncpus: int = 2,
                 on_probes: ProbesChanged = lambda name, funcs: None) -> None:
        self.registry = Registry([SWITCH, *names], seed=1, on_probes=on_probes)
        catalog = Catalog((CatalogEvent("sched", "sched_switch", 372, SWITCH_FORMAT),))
        self.tree = Tree(self.registry, catalog, ncpus=ncpus)

    def node(self, path: str) -> File | Directory | None:
        return self.tree.resolve(path.split("/") if path else [])

    @contextmanager
    def opened(self, path: str, flags: int = os.O_RDONLY) -> Iterator[Handle]:
        """``path`` open (an instance's file holds its instance) until the block ends."""
        node = self.node(path)
        assert isinstance(node, File), path
        handle = node.open(Opener(flags, pid=PID))
        release = self.tree.hold(path.split("/"))
        try:
            yield handle
        finally:
            handle.release()
            if release is not None:
                release()

    def read(self, path: str) -> str:
        with self.opened(path) as handle:
            return handle.read(0, 1 << 20).decode()

    def write(self, path: str, text: str, flags: int = os.O_WRONLY) -> int:
        with self.opened(path, flags) as handle:
            return handle.write(0, text.encode())

    def truncate(self, path: str) -> None:
        """``> path``: an open with O_TRUNC and no write."""
        with self.opened(path, os.O_WRONLY | os.O_TRUNC):
            pass

    def mkdir(self, path: str) -> None:
        parent, _, name = path.rpartition("/")
        directory = self.node(parent)
        assert isinstance(directory, Directory)
        self.tree.mkdir(directory, name)

    def rmdir(self, path: str) -> None:
        parent, _, name = path.rpartition("/")
        directory = self.node(parent)
        assert isinstance(directory, Directory)
        self.tree.rmdir(directory, name)

    def listing(self, path: str) -> list[str]:
        directory = self.node(path)
        assert isinstance(directory, Directory)
        return [name for _, name in directory.entries()]

    def trace_lines(self, path: str = "trace") -> list[str]:
        return [line for line in self.read(path).splitlines() if not line.startswith("#")]


def refused(fn: Callable[..., object], *args: object) -> int:
    """The errno ``fn(*args)`` is refused with."""
    with pytest.raises(TpfsError) as info:
        fn(*args)
    return info.value.errno

