"""The floor for any Python FUSE daemon: files served from fixed buffers.

``python bench/floorfs.py MNT FILE [PIPES]`` mounts a directory holding
``available_events`` with FILE's bytes, opened with direct_io like tpfs's
listings, and serves each read as one slice. Whatever tpfs does per read
beyond that slice shows up as its ratio to this.

With PIPES, a directory, each ``NAME.data`` there with a ``NAME.reads`` beside
it (a read's length a line) is also served, as ``NAME``, the way a pipe that
already holds those bytes answers: each open from the start, each read the
next of those reads (cut to the size asked, the rest kept for the next), then
end of file. Given the chunks tpfs's ``trace_pipe`` answered, it answers the
same bytes in the same reads with nothing made per read: the floor under a
``trace_pipe`` reader.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pyfuse3
import trio

NAME = b"available_events"
FILE_INODE = pyfuse3.ROOT_INODE + 1


class FloorFS(pyfuse3.Operations):
    def __init__(self, data: bytes, pipes: dict[bytes, list[bytes]]) -> None:
        super().__init__()
        self.data = data
        #: By inode after FILE_INODE: a pipe's name and its reads.
        self.pipes = {FILE_INODE + 1 + i: (name, reads)
                      for i, (name, reads) in enumerate(sorted(pipes.items()))}
        #: By open file: (the pipe's reads, the next one's index, what is left of it).
        self.opened: dict[int, tuple[list[bytes], int, bytes]] = {}
        self.next_fh = FILE_INODE + 1 + len(self.pipes)

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
        if parent_inode == pyfuse3.ROOT_INODE and name == NAME:
            return self._attrs(FILE_INODE)
        for inode, (pipe, _) in self.pipes.items():
            if parent_inode == pyfuse3.ROOT_INODE and name == pipe:
                return self._attrs(inode)
        raise pyfuse3.FUSEError(errno.ENOENT)

    async def opendir(self, inode, ctx):
        return inode

    async def readdir(self, fh, start_id, token):
        entries = [(NAME, FILE_INODE), *((name, inode) for inode, (name, _) in self.pipes.items())]
        for i, (name, inode) in enumerate(entries[start_id:], start_id + 1):
            if not pyfuse3.readdir_reply(token, name, self._attrs(inode), i):
                break

    async def open(self, inode, flags, ctx):
        if inode not in self.pipes:
            return pyfuse3.FileInfo(fh=inode, direct_io=True, keep_cache=False)
        fh = self.next_fh
        self.next_fh += 1
        self.opened[fh] = (self.pipes[inode][1], 0, b"")
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False, nonseekable=True)

    async def read(self, fh, off, size):
        pipe = self.opened.get(fh)
        if pipe is None:
            return self.data[off:off + size]
        reads, at, rest = pipe
        if not rest:
            if at == len(reads):
                return b""
            rest, at = reads[at], at + 1
        self.opened[fh] = (reads, at, rest[size:])
        return rest[:size]

    async def release(self, fh):
        self.opened.pop(fh, None)


def load_pipes(directory: Path) -> dict[bytes, list[bytes]]:
    """Each ``NAME.data`` of ``directory`` cut at the lengths its ``NAME.reads`` lists."""
    pipes: dict[bytes, list[bytes]] = {}
    for data_path in directory.glob("*.data"):
        data = data_path.read_bytes()
        reads, at = [], 0
        for length in map(int, data_path.with_suffix(".reads").read_text().split()):
            reads.append(data[at:at + length])
            at += length
        pipes[data_path.stem.encode()] = reads
    return pipes


def main() -> None:
    mnt, path = sys.argv[1:3]
    pipes = load_pipes(Path(sys.argv[3])) if len(sys.argv) > 3 else {}
    with open(path, "rb") as f:
        ops = FloorFS(f.read(), pipes)
    pyfuse3.init(ops, mnt, {"fsname=floorfs", "default_permissions"})
    try:
        trio.run(pyfuse3.main)
    finally:
        pyfuse3.close(unmount=False)


if __name__ == "__main__":
    main()
