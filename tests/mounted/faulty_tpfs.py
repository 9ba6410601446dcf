"""The tpfs daemon with a fault planted: looking up ``.fault`` raises an
unexpected exception, so a test can see that it becomes EIO and is logged
while the daemon serves on. Run as ``python faulty_tpfs.py MNT [options]``."""

from __future__ import annotations

import sys

from tpfs.cli import mount
from tpfs.fuse.inodes import Path
from tpfs.fuse.operations import Operations
from tpfs.tracefs.vfs.nodes import Node

FAULT_NAME = b".fault"


class FaultyOperations(Operations):
    def _child(self, parent_inode: int, name: bytes) -> tuple[Path, Node]:
        if name == FAULT_NAME:
            raise RuntimeError("fault injected for a test")
        return super()._child(parent_inode, name)


if __name__ == "__main__":
    sys.exit(mount.main(sys.argv[1:], operations=FaultyOperations))
