"""Inode numbers for paths, and the state of an open directory.

Inodes are kept while the kernel holds a lookup on them (``remember`` and
``forget``), with the file type and mode they had then, so that an open
file whose object went still answers fstat. A directory handle hands out
readdir cookies that map to the stable keys of the tree's listings, so that
readdir resumes by key.
"""

from __future__ import annotations

import errno
import itertools
from dataclasses import dataclass, field

import pyfuse3

from ..kernel.errors import TpfsError
from ..tracefs.vfs.nodes import Key

Path = tuple[str, ...]


class Inodes:
    """Inode numbers for paths, kept while the kernel holds a lookup on them."""

    def __init__(self) -> None:
        self._by_path: dict[Path, int] = {(): pyfuse3.ROOT_INODE}
        self._paths: dict[int, Path] = {pyfuse3.ROOT_INODE: ()}
        self._lookups: dict[int, int] = {}
        self._modes: dict[int, int] = {}
        self._next = itertools.count(pyfuse3.ROOT_INODE + 1)

    def ino(self, path: Path) -> int:
        ino = self._by_path.get(path)
        if ino is None:
            ino = self._by_path[path] = next(self._next)
            self._paths[ino] = path
        return ino

    def path(self, ino: int) -> Path:
        try:
            return self._paths[ino]
        except KeyError:
            raise TpfsError(errno.ENOENT, f"stale inode {ino}") from None

    def remember(self, ino: int, st_mode: int) -> None:
        self._lookups[ino] = self._lookups.get(ino, 0) + 1
        self._modes[ino] = st_mode

    def st_mode(self, ino: int) -> int:
        """The mode ``ino`` had when it was last looked up."""
        try:
            return self._modes[ino]
        except KeyError:
            raise TpfsError(errno.ENOENT, f"inode {ino} is gone") from None

    def forget(self, ino: int, nlookup: int) -> None:
        left = self._lookups.get(ino, 0) - nlookup
        if left > 0:
            self._lookups[ino] = left
            return
        self._lookups.pop(ino, None)
        self._modes.pop(ino, None)
        if ino != pyfuse3.ROOT_INODE:
            path = self._paths.pop(ino, None)
            if path is not None:
                del self._by_path[path]

    def __len__(self) -> int:
        return len(self._paths)


@dataclass(slots=True, eq=False)
class DirHandle:
    """An open directory: its path and the readdir cookies of the current pass.

    A cookie stands for the key of the entry it was handed out with; a new
    pass (readdir from offset 0, as after rewinddir) clears them, so the
    table never holds more than one listing's worth.
    """

    path: Path
    cookies: dict[int, Key] = field(default_factory=dict)
    next_cookie: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
