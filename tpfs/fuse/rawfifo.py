"""FIFOs fed with ``trace_pipe_raw`` pages, for readers that ``splice()``.

This kernel splices a FUSE file through its page cache (``fuse_splice_read``
calls ``filemap_splice_read``), even with ``FOPEN_DIRECT_IO``: a splice of
``per_cpu/cpuN/trace_pipe_raw`` gets 0 bytes without the daemon being asked.
trace-cmd's recorders splice unless told ``--nosplice``, so they would see
the data only through their last ``read()``. A kernel FIFO splices: so the
daemon keeps one FIFO per CPU of the top-level buffer, and
``exec-as-tracefs`` binds each over ``per_cpu/cpuN/trace_pipe_raw`` inside
its namespace. Elsewhere the files stay as they are.

The daemon holds each FIFO's write end from the start (a read-write open,
which a FIFO takes at once, then a write-only one, then the first closed),
so a reader's open never waits and its read of an empty FIFO waits, or is
EAGAIN, rather than the end of the file. A page is taken from the buffer only
while a reader holds the FIFO (a write end without one polls as an error)
and written whole (a page is ``PIPE_BUF``: a write is all or nothing); one
the FIFO has no room for waits for the next try. Pages go in after every
write to the mount, before it returns to its writer, and every ``TICK`` (as
the reader makes room), so when a firing write returns its events are in
the FIFO and a recorder's last non-blocking reads find all of them.

A reader that opens the FIFO with ``O_NONBLOCK`` and reads at once (libtracefs's
``tracefs_cpu_read``, ``tracefs_iterate_raw_events``) must find the pages the
buffer held before it came. Nothing tells the daemon of a FIFO's open, but
the path walk to it does: the dentry under the bind is a tpfs one, which the
kernel looks up again at every walk (the entry timeout is 0). So a lookup
of ``per_cpu/cpuN/trace_pipe_raw`` by a task in whose mount namespace that
CPU's FIFO is bound fills the FIFO first, the daemon holding it open for
reading meanwhile. A ``stat`` there does the same: the pages then wait in the
FIFO for its next reader, and ``trace`` no longer shows them.
Pages go in as ``trace_pipe_raw``'s ``read()`` hands them out, the page the
writer is on included.

The FIFOs live in ``fifo_dir(DEVICE)``, DEVICE being the mount's
``st_dev``: ``exec-as-tracefs`` finds them from the mountpoint's. The
daemon makes the directory when it mounts and removes it when it ends.
"""

from __future__ import annotations

import fcntl
import logging
import os
import select
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import trio

from ..kernel.errors import TpfsError
from ..kernel.ring_buffer_format import PAGE_SIZE
from ..tools.mounting import unescape
from ..tracefs.trace.raw import TraceRawPipe
from ..tracefs.trace.trace import TraceArray

log = logging.getLogger(__name__)

#: Seconds between tries to fill a FIFO its reader has made room in.
TICK = 0.01
#: A FIFO's capacity, as ``F_SETPIPE_SZ`` is asked for (the default
#: ``pipe-max-size``; an unprivileged daemon may get less).
FIFO_BYTES = 1 << 20
F_SETPIPE_SZ = 1031


def fifo_dir(device: int) -> Path:
    """Where the daemon of the mount with ``st_dev`` ``device`` keeps its FIFOs."""
    base = Path("/run/tpfs") if os.geteuid() == 0 else Path(
        tempfile.gettempdir()) / f"tpfs-{os.geteuid()}"
    return base / f"raw-{os.major(device)}-{os.minor(device)}"


def fifo_name(cpu: int) -> str:
    return f"cpu{cpu}"


#: Where an instance's FIFOs are, under ``fifo_dir``: ``INSTANCE_FIFOS/NAME/cpuN``.
INSTANCE_FIFOS = "instances"


class RawFifo:
    """One CPU's FIFO: the daemon's write end, and a page the FIFO had no room for."""

    __slots__ = ("path", "pipe", "fd", "page")

    def __init__(self, path: Path, pipe: TraceRawPipe) -> None:
        self.path = path
        self.pipe = pipe
        # A write end without waiting for a reader: through a read-write open,
        # which a FIFO takes at once, then dropped, so that readers alone count.
        both = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        finally:
            os.close(both)
        try:
            fcntl.fcntl(self.fd, F_SETPIPE_SZ, FIFO_BYTES)
        except OSError as exc:
            log.debug("%s: keeps its size (%s)", path, exc)
        self.page = b""

    def reader(self) -> bool:
        """Whether a reader holds the FIFO now (a write end without one polls as an error)."""
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        return not any(events & select.POLLERR for _, events in poller.poll(0))

    def feed(self) -> None:
        """Move the buffer's pages into the FIFO while a reader is there and it has room."""
        if not self.reader():
            return
        while True:
            if not self.page:
                try:
                    self.page = self.pipe.read(PAGE_SIZE)
                except TpfsError:
                    return  # the buffer is empty
            try:
                os.write(self.fd, self.page)
            except (BlockingIOError, BrokenPipeError):
                return  # full, or the reader went since: the page waits
            self.page = b""

    def feed_opener(self) -> None:
        """Fill the FIFO for a reader about to open it: the daemon holds it open for
        reading meanwhile, so that the pages can go in before the reader is there."""
        try:
            held = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("%s: %s", self.path, exc)
            return
        try:
            self.feed()
        finally:
            os.close(held)

    def close(self) -> None:
        os.close(self.fd)


class RawFifos:
    """The FIFOs of one mount, one per CPU of each buffer: the top level's and each
    instance's (``instances`` gives the instances there are now, by name)."""

    def __init__(self, trace: TraceArray, ncpus: int,
                 instances: Callable[[], Mapping[str, TraceArray]]) -> None:
        self.trace = trace
        self.ncpus = ncpus
        self.instances = instances
        self.directory: Path | None = None
        #: By the path of the ``trace_pipe_raw`` each stands for.
        self.fifos: dict[tuple[str, ...], RawFifo] = {}
        #: The instances that have FIFOs, by name: the buffer those stand for.
        self.made: dict[str, TraceArray] = {}

    def start(self, device: int) -> None:
        """Make the FIFOs of the mount with ``st_dev`` ``device`` (done once mounted)."""
        directory = fifo_dir(device)
        try:
            if directory.exists():  # left by a daemon that died with this device
                shutil.rmtree(directory)
            directory.mkdir(mode=0o700, parents=True)
            self._make(directory, (), self.trace)
        except OSError as exc:
            log.warning("no FIFOs for splicing readers: %s", exc)
            self.close()
            shutil.rmtree(directory, ignore_errors=True)
            return
        self.directory = directory
        self.sync()

    def _make(self, directory: Path, under: tuple[str, ...], trace: TraceArray) -> None:
        """One FIFO per CPU in ``directory``, for ``under/per_cpu/cpuN/trace_pipe_raw``."""
        for cpu in range(self.ncpus):
            path = directory / fifo_name(cpu)
            os.mkfifo(path, 0o640)
            self.fifos[(*under, "per_cpu", f"cpu{cpu}", "trace_pipe_raw")] = RawFifo(
                path, TraceRawPipe(trace, cpu))

    def sync(self) -> None:
        """Give FIFOs to the instances made since the last time, and remove those of the
        instances removed (or removed and made again: a new buffer)."""
        if self.directory is None:
            return
        present = self.instances()
        for name, trace in list(self.made.items()):
            if present.get(name) is not trace:
                self._drop(name)
        for name, trace in present.items():
            if name not in self.made:
                self._add(name, trace)

    def _add(self, name: str, trace: TraceArray) -> None:
        assert self.directory is not None
        directory = self.directory / INSTANCE_FIFOS / name
        try:
            directory.mkdir(mode=0o700, parents=True)
            self.made[name] = trace
            self._make(directory, (INSTANCE_FIFOS, name), trace)
        except OSError as exc:
            log.warning("instance %s: no FIFOs for splicing readers: %s", name, exc)
            self._drop(name)

    def _drop(self, name: str) -> None:
        assert self.directory is not None
        del self.made[name]
        for cpu in range(self.ncpus):
            fifo = self.fifos.pop((INSTANCE_FIFOS, name, "per_cpu", f"cpu{cpu}",
                                   "trace_pipe_raw"), None)
            if fifo is not None:
                fifo.close()
        shutil.rmtree(self.directory / INSTANCE_FIFOS / name, ignore_errors=True)

    def feed(self) -> None:
        for fifo in self.fifos.values():
            fifo.feed()

    def looked_up(self, path: tuple[str, ...], pid: int) -> None:
        """A lookup of ``path`` by task ``pid``: when the file is one of ours bound over
        in the task's mount namespace, the task is about to open its FIFO (or to
        stat it): fill the FIFO first, so that its first read finds the buffer's pages."""
        fifo = self.fifos.get(path)
        if fifo is not None and self.directory is not None and bound_in(
                pid, fifo.path, self.directory):
            fifo.feed_opener()

    async def run(self) -> None:
        """Every ``TICK``: fill the FIFOs their readers made room in."""
        while self.fifos:
            self.feed()
            await trio.sleep(TICK)

    def close(self) -> None:
        for fifo in self.fifos.values():
            fifo.close()
        self.fifos = {}
        self.made = {}
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def bound_in(pid: int, fifo: Path, directory: Path) -> bool:
    """Whether ``fifo``, in ``directory``, is bind-mounted somewhere in task ``pid``'s
    mount namespace."""
    tail = f"/{directory.name}/{fifo.relative_to(directory)}"
    try:
        with open(f"/proc/{pid}/mountinfo", errors="surrogateescape") as mounts:
            return any(unescape(line.split()[3]).endswith(tail) for line in mounts)
    except OSError:
        return False
