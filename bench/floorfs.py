"""The floor for any Python FUSE daemon: one file served from a fixed buffer.

``python bench/floorfs.py MNT FILE`` mounts a directory holding
``available_events`` with FILE's bytes, opened with direct_io like tpfs's
listings, and serves each read as one slice. Whatever tpfs does per read
beyond that slice shows up as its ratio to this.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

import pyfuse3
import trio

NAME = b"available_events"
FILE_INODE = pyfuse3.ROOT_INODE + 1


class FloorFS(pyfuse3.Operations):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data

    def _attrs(self, inode: int) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = inode
        attrs.st_mode = (stat.S_IFDIR | 0o755) if inode == pyfuse3.ROOT_INODE else (
            stat.S_IFREG | 0o440)
        attrs.st_uid, attrs.st_gid = os.getuid(), os.getgid()
        attrs.entry_timeout = attrs.attr_timeout = 0
        return attrs

    async def getattr(self, inode, ctx=None):
        return self._attrs(inode)

    async def lookup(self, parent_inode, name, ctx=None):
        if parent_inode != pyfuse3.ROOT_INODE or name != NAME:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attrs(FILE_INODE)

    async def opendir(self, inode, ctx):
        return inode

    async def readdir(self, fh, start_id, token):
        if start_id == 0:
            pyfuse3.readdir_reply(token, NAME, self._attrs(FILE_INODE), 1)

    async def open(self, inode, flags, ctx):
        return pyfuse3.FileInfo(fh=inode, direct_io=True, keep_cache=False)

    async def read(self, fh, off, size):
        return self.data[off:off + size]


def main() -> None:
    mnt, path = sys.argv[1:3]
    with open(path, "rb") as f:
        ops = FloorFS(f.read())
    pyfuse3.init(ops, mnt, {"fsname=floorfs", "default_permissions"})
    try:
        trio.run(pyfuse3.main)
    finally:
        pyfuse3.close(unmount=False)


if __name__ == "__main__":
    main()
