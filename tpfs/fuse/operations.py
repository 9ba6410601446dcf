"""The pyfuse3 Operations class: it maps inodes and handles to the tree and dispatches.

The handlers only translate: inode to path, path to node (``Tree``),
file handle to ``Handle``; the nodes and handles do the work. Every
handler goes through ``_guarded``: a refused request (``TpfsError``)
becomes its errno, and anything unexpected becomes EIO with the traceback
logged, so no request can stop the daemon.
"""

from __future__ import annotations

import errno
import functools
import itertools
import logging
import os
import stat
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import pyfuse3
import trio

from ..kernel.errors import TpfsError
from ..tracefs.tree import Tree
from ..tracefs.vfs.handles import Handle, PipeHandle
from ..tracefs.vfs.mount_options import REMOUNT_XATTR, parse_mount_options
from ..tracefs.vfs.nodes import Directory, File, Node, Opener
from ..tracefs.vfs.work import Work, WorkHandle
from . import request
from .busy_poll import DEFAULT_WINDOW_US, BusyPoll
from .fdflags import FileFlags
from .heap import HeapTrimmer
from .inodes import DirHandle, Inodes, Path
from .rawfifo import RawFifos
from .tasks import task_cpu
from .waiting import ALWAYS_READY, MAX_WAITING, Caller, Waiters

log = logging.getLogger(__name__)

#: The longest a write's slice of work holds the daemon before other requests
#: are served (seconds; a slice ends after the firing that passes it).
SLICE = 0.01
#: How long it then leaves the daemon to other requests: trio's loop waits for
#: them in epoll meanwhile, so a client's next request is served as it comes.
PAUSE = 0.002

T = TypeVar("T")


def proc_comm(pid: int) -> str | None:
    """A task's name read from ``/proc/PID/comm`` (as the kernel would record it);
    None if the task is gone."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as comm:
            return comm.read().rstrip(b"\n").decode("utf-8", "replace")
    except OSError:
        return None


def _before(deadline: float) -> bool:
    """Whether ``deadline`` (``time.monotonic``) is still ahead."""
    return time.monotonic() < deadline


P = ParamSpec("P")
Handler = Callable[Concatenate["Operations", P], Coroutine[Any, Any, T]]


def _guarded(handler: Handler[P, T]) -> Handler[P, T]:
    @functools.wraps(handler)
    async def wrapper(self: Operations, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await handler(self, *args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except TpfsError as exc:
            log.debug("%s%r: %s (%s)", handler.__name__, args[:2], os.strerror(exc.errno), exc)
            raise pyfuse3.FUSEError(exc.errno) from None
        except Exception:
            log.exception("unexpected error in %s%r", handler.__name__, args[:2])
            raise pyfuse3.FUSEError(errno.EIO) from None
        finally:
            self.busy_poll.answered()

    return wrapper


class Operations(pyfuse3.Operations):
    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(self, tree: Tree, *, uid: int, gid: int,
                 max_waiting: int = MAX_WAITING, sync: Callable[[], None] = lambda: None,
                 busy_poll: float = DEFAULT_WINDOW_US / 1e6) -> None:
        super().__init__()
        self.tree = tree
        #: Brings in what an outside source (``--live``) recorded before an open or a
        #: write, so that the request sees it, as it would see the kernel's records.
        self.sync = sync
        self.uid = uid
        self.gid = gid
        self.inodes = Inodes()
        self.handles: dict[int, Handle] = {}
        self.dirs: dict[int, DirHandle] = {}
        #: Pipe handles: the opening task, and where the file's flags are found.
        self.openers: dict[int, tuple[int, FileFlags]] = {}
        self.holds: dict[int, Callable[[], None]] = {}  # files open in an instance
        self.waiters = Waiters(max_waiting)
        #: The buffers' pages for splicing readers (``rawfifo``).
        self.raw_fifos = RawFifos(tree.trace, tree.ncpus, lambda: {
            name: inst.trace for name, inst in tree.instances.by_name.items()})
        #: Told after the requests that may free memory (writes, removals).
        self.heap = HeapTrimmer()
        #: Seconds after each answered request in which the loop looks for the next
        #: one instead of sleeping (``busy_poll``); run beside the requests.
        self.busy_poll = BusyPoll(busy_poll)
        self._fh = itertools.count(1)
        self._stamp = time.time_ns()
        #: Whether a read request was ever not found in pyfuse3 (warned once).
        self._request_unseen = False

    # -- helpers -----------------------------------------------------------
    def _node(self, path: Path) -> Node:
        node = self.tree.resolve(path)
        if node is None:
            raise TpfsError(errno.ENOENT, "/".join(path))
        return node

    def _dir(self, path: Path) -> Directory:
        node = self._node(path)
        if not isinstance(node, Directory):
            raise TpfsError(errno.ENOTDIR, "/".join(path))
        return node

    def _attrs(self, ino: int, st_mode: int) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = ino
        attrs.st_mode = st_mode
        attrs.st_nlink = 2 if stat.S_ISDIR(st_mode) else 1
        attrs.st_uid = self.uid
        attrs.st_gid = self.gid
        attrs.st_size = 0
        attrs.st_blksize = 4096
        attrs.st_blocks = 0
        attrs.st_atime_ns = attrs.st_mtime_ns = attrs.st_ctime_ns = self._stamp
        # Contents follow the registry: let the kernel ask every time.
        attrs.entry_timeout = 0
        attrs.attr_timeout = 0
        return attrs

    def _child(self, parent_inode: int, name: bytes) -> tuple[Path, Node]:
        parent = self.inodes.path(parent_inode)
        text = os.fsdecode(name)
        node = self._dir(parent).lookup(text)
        if node is None:
            raise TpfsError(errno.ENOENT, text)
        return (*parent, text), node

    # -- names and attributes ---------------------------------------------
    @_guarded
    async def lookup(self, parent_inode: int, name: bytes,
                     ctx: pyfuse3.RequestContext | None = None) -> pyfuse3.EntryAttributes:
        if name == b".":
            return await self.getattr(parent_inode)
        if name == b"..":
            parent = self.inodes.path(parent_inode)[:-1]
            return self._attrs(self.inodes.ino(parent), self._node(parent).st_mode)
        path, node = self._child(parent_inode, name)
        ino = self.inodes.ino(path)
        self.inodes.remember(ino, node.st_mode)
        if ctx is not None:
            self.raw_fifos.looked_up(path, ctx.pid)
        return self._attrs(ino, node.st_mode)

    @_guarded
    async def getattr(self, inode: int,
                      ctx: pyfuse3.RequestContext | None = None) -> pyfuse3.EntryAttributes:
        node = self.tree.resolve(self.inodes.path(inode))
        # A file that went while open (fstat on its fd) keeps the mode it had.
        st_mode = self.inodes.st_mode(inode) if node is None else node.st_mode
        return self._attrs(inode, st_mode)

    @_guarded
    async def setattr(self, inode: int, attr: pyfuse3.EntryAttributes,
                      fields: pyfuse3.SetattrFields, fh: int | None,
                      ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        node = self._node(self.inodes.path(inode))
        if fields.update_mode or fields.update_uid or fields.update_gid:
            raise TpfsError(errno.EPERM, "modes and owners are fixed")
        # truncate(2) and utimes succeed and change nothing, as on tracefs.
        return self._attrs(inode, node.st_mode)

    @_guarded
    async def setxattr(self, inode: int, name: bytes, value: bytes,
                       ctx: pyfuse3.RequestContext) -> None:
        """A remount's options, from ``mount``'s helper (``tracefs/mount_options.py``);
        tracefs has no other attributes (EOPNOTSUPP, not ENOSYS: FUSE would stop asking)."""
        if inode != pyfuse3.ROOT_INODE or name != REMOUNT_XATTR.encode():
            raise TpfsError(errno.EOPNOTSUPP, "tracefs has no extended attributes")
        options = parse_mount_options(os.fsdecode(value))
        self.uid = self.uid if options.uid is None else options.uid
        self.gid = self.gid if options.gid is None else options.gid
        if options.mode is not None:
            self.tree.root.mode = options.mode
        log.info("remounted: uid %d, gid %d, mode %o", self.uid, self.gid, self.tree.root.mode)

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for ino, nlookup in inode_list:
            self.inodes.forget(ino, nlookup)

    @_guarded
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        st = pyfuse3.StatvfsData()
        st.f_bsize = st.f_frsize = 4096
        st.f_blocks = st.f_bfree = st.f_bavail = 0
        st.f_files = len(self.inodes)
        st.f_ffree = st.f_favail = 0
        st.f_namemax = 255
        return st

    # -- directories -------------------------------------------------------
    @_guarded
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        path = self.inodes.path(inode)
        self._dir(path)
        fh = next(self._fh)
        self.dirs[fh] = DirHandle(path)
        return fh

    @_guarded
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        handle = self.dirs[fh]
        directory = self._dir(handle.path)
        if not start_id:  # a new pass (rewinddir): the last one's cookies are done with
            handle.cookies.clear()
        resume = handle.cookies.get(start_id) if start_id else None
        if start_id and resume is None:
            raise TpfsError(errno.EINVAL, f"readdir cookie {start_id} was never handed out")
        for key, name in directory.entries_after(resume):
            node = directory.lookup(name)
            if node is None:  # vanished since the listing was cached
                continue
            path = (*handle.path, name)
            ino = self.inodes.ino(path)
            cookie = next(handle.next_cookie)
            handle.cookies[cookie] = key
            attrs = self._attrs(ino, node.st_mode)
            if not pyfuse3.readdir_reply(token, os.fsencode(name), attrs, cookie):
                break
            self.inodes.remember(ino, node.st_mode)

    @_guarded
    async def releasedir(self, fh: int) -> None:
        self.dirs.pop(fh, None)

    @_guarded
    async def mkdir(self, parent_inode: int, name: bytes, mode: int,
                    ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        parent_path = self.inodes.path(parent_inode)
        self.tree.mkdir(self._dir(parent_path), os.fsdecode(name))
        self.raw_fifos.sync()
        return await self.lookup(parent_inode, name, ctx)

    @_guarded
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent_path = self.inodes.path(parent_inode)
        self.tree.rmdir(self._dir(parent_path), os.fsdecode(name))
        self.raw_fifos.sync()
        self.heap.freed(cycles=True)  # an instance's buffers are in cycles

    @_guarded
    async def rename(self, parent_inode_old: int, name_old: bytes, parent_inode_new: int,
                     name_new: bytes, flags: int, ctx: pyfuse3.RequestContext) -> None:
        raise TpfsError(errno.EPERM, "names are fixed")

    @_guarded
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent = self._dir(self.inodes.path(parent_inode))
        self.tree.unlink(parent, os.fsdecode(name))
        self.heap.freed()

    # -- files ---------------------------------------------------------------
    @_guarded
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int,
                     ctx: pyfuse3.RequestContext
                     ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        raise TpfsError(errno.EACCES, "files cannot be created")

    @_guarded
    async def mknod(self, parent_inode: int, name: bytes, mode: int, rdev: int,
                    ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        raise TpfsError(errno.EACCES, "files cannot be created")

    @_guarded
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        path = self.inodes.path(inode)
        node = self._node(path)
        if not isinstance(node, File):
            raise TpfsError(errno.EISDIR, "/".join(path))
        fh = next(self._fh)
        self.sync()
        handle = node.open(Opener(flags, ctx.pid, proc_comm, task_cpu))
        self.handles[fh] = handle
        hold = self.tree.hold(path)
        if hold is not None:
            self.holds[fh] = hold
        self.waiters.changed()  # an O_TRUNC open may have emptied a buffer
        if isinstance(handle, PipeHandle):
            self.openers[fh] = (ctx.pid, FileFlags(inode, handle.nonblocking))
            return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False, nonseekable=True)
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False)

    @_guarded
    async def read(self, fh: int, off: int, size: int) -> bytes:
        handle = self.handles[fh]
        if isinstance(handle, PipeHandle) and not handle.ready():
            # pyfuse3's read has no caller: it is found in libfuse's request, else
            # the opener stands for the reader.
            opener, flags = self.openers[fh]
            found = await request.find(fh, off, size)
            if found is None and not self._request_unseen:
                self._request_unseen = True
                log.warning("pyfuse3 does not hold the read request where tpfs looks for it: "
                            "a signal reaches a waiting read only through its opener")
            caller = Caller(opener, None) if found is None else Caller(found.pid, found)
            log.debug("read of fh %d waits for task %d (%s)", fh, caller.pid,
                      "its interrupt" if found else "the opener's signals")
            if not await self.waiters.wait(handle, caller, flags):
                return b""  # the mount was detached while the read waited
        return handle.read(off, size)

    @_guarded
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        self.sync()
        handle = self.handles[fh]
        try:
            if isinstance(handle, WorkHandle):
                await self._apply(handle.begin(off, buf))
                return len(buf)
            return handle.write(off, buf)
        finally:
            self.waiters.changed()
            self.raw_fifos.feed()
            self.heap.freed()

    async def _apply(self, work: Work) -> None:
        """Apply a checked write a slice of at most ``SLICE`` seconds at a time,
        serving other requests in between; unmounting stops it (EINTR), with
        what was applied kept."""
        while True:
            if work.step(functools.partial(_before, time.monotonic() + SLICE)):
                return
            self.waiters.changed()  # what was fired so far may wake readers
            await trio.sleep(PAUSE)
            if self.waiters.closing:
                raise TpfsError(errno.EINTR, "unmounting in the middle of a write")

    @_guarded
    async def poll(self, inode: int, fh: int, poll_handle: pyfuse3.PollHandle | None,
                   ctx: pyfuse3.RequestContext) -> int:
        handle = self.handles[fh]
        if isinstance(handle, PipeHandle):
            return self.waiters.poll(fh, handle, poll_handle)
        return ALWAYS_READY

    @_guarded
    async def release(self, fh: int) -> None:
        handle = self.handles.pop(fh, None)
        self.openers.pop(fh, None)
        hold = self.holds.pop(fh, None)
        if hold is not None:
            hold()
        self.waiters.forget(fh)
        if handle is not None:
            handle.release()
