"""FIFOs fed with ``trace_pipe_raw`` pages, for readers that ``splice()``.

This kernel splices a FUSE file through its page cache (``fuse_splice_read``
calls ``filemap_splice_read``), even with ``FOPEN_DIRECT_IO``: a splice of
``per_cpu/cpuN/trace_pipe_raw`` gets 0 bytes without the daemon being asked.
trace-cmd's recorders splice unless told ``--nosplice``, so they would see
the data only through their last ``read()``. A kernel FIFO splices: so the
daemon keeps one FIFO per CPU of the top-level buffer, and
``exec-as-tracefs`` binds each over ``per_cpu/cpuN/trace_pipe_raw`` inside
its namespace. Elsewhere the files stay as they are.

The daemon opens a FIFO for writing only once a reader has it open (an
``O_NONBLOCK`` open is ENXIO until then; ``TICK`` paces the tries), and then
keeps it open, so a reader that comes later opens it at once and a reader's
read of an empty FIFO waits, or is EAGAIN, rather than the end of the file.
While a reader holds it, every page of the CPU's buffer goes in as soon as
it is there: after every write to the mount (``feed``, before the write
returns to its writer) and every ``TICK`` (as the reader makes room). A page
is taken from the buffer only when a reader is there and written whole (a
page is ``PIPE_BUF``, so a write is all or nothing); one the FIFO has no
room for waits for the next try. So when a firing write returns, its events
are in the FIFO, and a recorder's last non-blocking reads find all of them.
Pages go in as ``trace_pipe_raw``'s ``read()`` hands them out, the page the
writer is on included.

The FIFOs live in ``fifo_dir(DEVICE)``, DEVICE being the mount's
``major:minor``: ``exec-as-tracefs`` finds them from the mountpoint's
``st_dev``. The daemon makes the directory when it mounts and removes it
when it ends.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import shutil
import tempfile
from pathlib import Path

import trio

from ..kernel.errors import TpfsError
from ..kernel.ring_buffer_format import PAGE_SIZE
from ..tracefs.raw import TraceRawPipe
from ..tracefs.trace import TraceArray

log = logging.getLogger(__name__)

#: Seconds between tries to open a FIFO a reader may be waiting on, and to fill
#: one a reader has made room in.
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


class RawFifo:
    """One CPU's FIFO: the write end once a reader came, and a page not yet in."""

    __slots__ = ("path", "pipe", "fd", "page")

    def __init__(self, path: Path, pipe: TraceRawPipe) -> None:
        self.path = path
        self.pipe = pipe
        self.fd: int | None = None
        self.page = b""

    def connect(self) -> None:
        """Open the write end if a reader has the FIFO open (or waits to)."""
        if self.fd is not None:
            return
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno not in (errno.ENXIO, errno.ENOENT):
                log.warning("%s: %s", self.path, exc)
            return
        try:
            fcntl.fcntl(self.fd, F_SETPIPE_SZ, FIFO_BYTES)
        except OSError as exc:
            log.debug("%s: keeps its size (%s)", self.path, exc)
        log.debug("%s: a reader came", self.path)

    def reader(self) -> bool:
        """Whether a reader holds the FIFO now (a write end without one polls as an error)."""
        if self.fd is None:
            return False
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        return not any(events & select.POLLERR for _, events in poller.poll(0))

    def feed(self) -> None:
        """Move the buffer's pages into the FIFO while a reader is there and it has room."""
        if not self.reader():
            return
        assert self.fd is not None
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

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class RawFifos:
    """The top-level buffer's FIFOs, one per CPU, of one mount."""

    def __init__(self, trace: TraceArray, ncpus: int) -> None:
        self.trace = trace
        self.ncpus = ncpus
        self.directory: Path | None = None
        self.fifos: list[RawFifo] = []

    def start(self, device: int) -> None:
        """Make the FIFOs of the mount with ``st_dev`` ``device`` (done once mounted)."""
        directory = fifo_dir(device)
        try:
            if directory.exists():  # left by a daemon that died with this device
                shutil.rmtree(directory)
            directory.mkdir(mode=0o700, parents=True)
            for cpu in range(self.ncpus):
                os.mkfifo(directory / fifo_name(cpu), 0o640)
        except OSError as exc:
            log.warning("no FIFOs for splicing readers: %s", exc)
            shutil.rmtree(directory, ignore_errors=True)
            return
        self.directory = directory
        self.fifos = [RawFifo(directory / fifo_name(cpu), TraceRawPipe(self.trace, cpu))
                      for cpu in range(self.ncpus)]

    def feed(self) -> None:
        for fifo in self.fifos:
            if fifo.fd is not None:
                fifo.feed()

    async def run(self) -> None:
        """Every ``TICK``: open the FIFOs readers came to, and fill them."""
        while self.fifos:
            for fifo in self.fifos:
                fifo.connect()
                fifo.feed()
            await trio.sleep(TICK)

    def close(self) -> None:
        for fifo in self.fifos:
            fifo.close()
        self.fifos = []
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
