"""``--live``: tpfs's own instance on the kernel's tracefs, and its records flowing into tpfs.

``KernelInstance`` mounts the kernel's tracefs privately (mounted in a
temporary directory, held by a directory descriptor and detached at once, so
that no one else sees it and nothing stays mounted after a crash), removes
the instances that dead daemons left (``tpfs-live-PID`` whose PID is gone),
and makes ``instances/tpfs-live-PID`` of its own with the ``mono`` clock,
which is the monotonic clock tpfs stamps its own records with, so fired,
marker and live records share one time line. It is the ``LiveSink`` of
``tracefs.events.live_wants``: an event some tpfs instance enables is enabled
there, and disabled when none wants it. Nothing else of the kernel's
tracing state is touched. The instance goes when the daemon ends.

``LiveReader`` is a trio task per CPU: it waits until the instance's
``per_cpu/cpuN/trace_pipe_raw`` polls readable (or a short while passes),
reads its pages without blocking (``O_NONBLOCK``), decodes them
(``kernel.page_decode``) and fires each record into tpfs, on the trio
thread, through ``Firer.fire_live``: the path a fired line takes, so pid
filters, filters, triggers, hists, eprobes and synthetic events act on it.
Events the kernel's instance lost are counted lost in the tpfs instances
that trace live events.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping

import trio

from ..kernel.errors import TpfsError
from ..kernel.page_decode import decode_page
from ..kernel.ring_buffer_format import PAGE_SIZE
from ..tracefs.events.events import EventLayer
from ..tracefs.events.firing import Firing
from ..tracefs.fire import Firer
from ..tracefs.trace.trace import TraceArray

log = logging.getLogger(__name__)

PREFIX = "tpfs-live-"
_OURS = re.compile(re.escape(PREFIX) + r"(\d+)")
#: The kernel instance's buffer per CPU: room for a busy second between reads.
BUFFER_KB = 4096
#: How long a CPU's reader sleeps when its file does not poll readable.
POLL_FALLBACK = 0.1
#: Pages one CPU's reader takes at a turn before it lets the daemon serve others.
PAGES_PER_TURN = 64
#: Seconds one CPU's reader carries records at a turn (whole pages: at least one)
#: before it lets requests in. With every host event enabled a page can take
#: milliseconds to carry, so 64 of them held each request for about a second.
TURN_SECONDS = 0.002
#: Seconds the records brought in before a request may take in all (whole pages: at
#: least one a CPU). Records a flood leaves beyond it come in the readers' turns.
FLUSH_SECONDS = 0.02
#: Records that failed to fire whose traceback is logged; the rest are counted.
MAX_FAILURES_LOGGED = 10
_COMMON = struct.Struct("<HBBi")  # common_type, common_flags, common_preempt_count, common_pid


class LiveError(Exception):
    """Why ``--live`` cannot start: said in one line, nothing left behind."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mount_private() -> int:
    """A descriptor of a fresh tracefs mount that is already detached from every path."""
    tmp = tempfile.mkdtemp(prefix="tpfs-live-")
    try:
        done = subprocess.run(["mount", "-t", "tracefs", "nodev", tmp], capture_output=True,
                              text=True, check=False)
        if done.returncode:
            raise LiveError(f"cannot mount the kernel's tracefs: {done.stderr.strip()}")
        try:
            return os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        finally:
            subprocess.run(["umount", "-l", tmp], capture_output=True, check=False)
    except OSError as exc:
        raise LiveError(f"cannot mount the kernel's tracefs: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(tmp)


class KernelInstance:
    """``instances/tpfs-live-PID`` on a private mount of the kernel's tracefs."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise LiveError("--live needs root: it reads the kernel's tracing")
        self.fd = _mount_private()
        self.root = f"/proc/self/fd/{self.fd}"
        self.name = f"{PREFIX}{os.getpid()}"
        self.closed = False
        try:
            self._sweep()
            os.mkdir(f"{self.root}/instances/{self.name}")
        except OSError as exc:
            os.close(self.fd)
            raise LiveError(f"cannot make the kernel instance {self.name}: {exc}") from exc
        self.dir = f"{self.root}/instances/{self.name}"
        try:
            self._write("trace_clock", "mono")
            self._write("buffer_percent", "0")  # poll wakes on any data
            # The daemon's own work (its reads of these pages among it) is left out: it
            # would feed itself. A switch to or from it still shows, as the kernel's
            # pid filters keep a switch unless both its tasks are ignored.
            self._write("set_event_notrace_pid", str(os.getpid()))
            with contextlib.suppress(OSError):
                self._write("buffer_size_kb", str(BUFFER_KB))
        except OSError as exc:
            self.close()
            raise LiveError(f"cannot set up the kernel instance {self.name}: {exc}") from exc
        log.info("live: recording through %s", self.name)

    def _sweep(self) -> None:
        """Remove the instances of daemons that died without removing theirs (SIGKILL)."""
        for entry in os.listdir(f"{self.root}/instances"):
            m = _OURS.fullmatch(entry)
            if m is not None and not _alive(int(m[1])):
                try:
                    os.rmdir(f"{self.root}/instances/{entry}")
                    log.info("live: removed %s, left by a dead daemon", entry)
                except OSError as exc:
                    log.warning("live: cannot remove %s: %s", entry, exc)

    def _write(self, rel: str, text: str) -> None:
        fd = os.open(f"{self.dir}/{rel}", os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def ncpus(self) -> int:
        return sum(1 for e in os.listdir(f"{self.dir}/per_cpu") if e.startswith("cpu"))

    def open_raw(self, cpu: int) -> int:
        return os.open(f"{self.dir}/per_cpu/cpu{cpu}/trace_pipe_raw",
                       os.O_RDONLY | os.O_NONBLOCK)

    def overrun(self, cpu: int) -> int | None:
        """The events the instance has lost on ``cpu`` so far (its ``stats``' overrun)."""
        try:
            with open(f"{self.dir}/per_cpu/cpu{cpu}/stats") as stats:
                for line in stats:
                    key, _, value = line.partition(":")
                    if key == "overrun":
                        return int(value)
        except (OSError, ValueError):
            return None
        return None

    def saved_comm(self, pid: int) -> str | None:
        """The kernel's saved name of ``pid`` (``saved_cmdlines``), for a task gone by now."""
        try:
            with open(f"{self.root}/saved_cmdlines") as cmdlines:
                for line in cmdlines:
                    spid, _, comm = line.rstrip("\n").partition(" ")
                    if spid == str(pid):
                        return comm
        except OSError:
            return None
        return None

    # -- LiveSink -----------------------------------------------------------
    def want(self, name: str) -> None:
        self._enable(name, True)

    def drop(self, name: str) -> None:
        self._enable(name, False)

    def _enable(self, name: str, on: bool) -> None:
        """The kernel's instance follows tpfs's wants; its refusals are logged and
        change nothing in tpfs (an event this kernel cannot enable stays emulated)."""
        if self.closed:
            return
        subsys, _, event = name.partition(":")
        try:
            self._write(f"events/{subsys}/{event}/enable", "1" if on else "0")
            log.debug("live: %s %s", "enabled" if on else "disabled", name)
        except OSError as exc:
            log.warning("live: the kernel would not %s %s: %s",
                        "enable" if on else "disable", name, exc)

    def close(self) -> None:
        """Remove the instance (its events and buffers with it) and let go of the mount."""
        if self.closed:
            return
        self.closed = True
        try:
            os.rmdir(self.dir)
            log.info("live: removed %s", self.name)
        except OSError as exc:
            log.warning("live: cannot remove %s: %s", self.name, exc)
        os.close(self.fd)


class LiveReader:
    """Reads the kernel instance's raw pages and fires their records into tpfs."""

    def __init__(self, instance: KernelInstance, firer: Firer, layer: EventLayer,
                 targets: Mapping[int, tuple[EventLayer, TraceArray]],
                 host_ids: Mapping[int, str], wanted: Callable[[], set[str]],
                 task_comm: Callable[[int], str | None]) -> None:
        self.instance = instance
        self.firer = firer
        self.layer = layer
        self.targets = targets
        self.host_ids = host_ids
        self.wanted = wanted
        self.task_comm = task_comm
        self.fds: dict[int, int] = {}
        #: Per CPU, the kernel instance's overrun as last accounted for.
        self.overruns: dict[int, int] = {}
        #: Records fired into tpfs, and records lost by the kernel's instance.
        self.carried = 0
        self.lost = 0
        self.failed = 0

    async def run(self, wake: Callable[[], None]) -> None:
        """Until cancelled: one reader per CPU; ``wake`` is called after records came
        in (it wakes the readers waiting for data)."""
        try:
            try:
                for cpu in range(min(self.instance.ncpus(), self.layer.ncpus)):
                    self.fds[cpu] = self.instance.open_raw(cpu)
            except OSError as exc:  # the mount goes on serving, without live records
                log.error("live: cannot read the kernel instance's pages: %s", exc)
                return
            async with trio.open_nursery() as nursery:
                for cpu, fd in self.fds.items():
                    nursery.start_soon(self._read_cpu, cpu, fd, wake)
        finally:
            self._close_fds()

    def flush(self) -> None:
        """Fire now what the kernel's instance holds (before a request that may change
        what is enabled, or read what is recorded: it sees every record made before it).
        Bounded by ``FLUSH_SECONDS`` and a turn's pages a CPU; the readers take the rest."""
        ends = time.monotonic() + FLUSH_SECONDS
        for cpu, fd in list(self.fds.items()):
            self._drain(cpu, fd, ends)

    def _close_fds(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    async def _read_cpu(self, cpu: int, fd: int, wake: Callable[[], None]) -> None:
        while True:
            with trio.move_on_after(POLL_FALLBACK):
                await trio.lowlevel.wait_readable(fd)
            while True:
                fired, more = self._drain(cpu, fd, time.monotonic() + TURN_SECONDS)
                if fired:
                    wake()
                if not more:
                    break
                await trio.sleep(0)  # a full turn: let requests in before the next
            await trio.sleep(0)

    def _drain(self, cpu: int, fd: int, ends: float) -> tuple[bool, bool]:
        """Fire what the CPU's pages hold, up to a turn's worth (``PAGES_PER_TURN``
        pages, and none begun after the monotonic time ``ends`` but the first):
        whether any page came, and whether more may wait."""
        comms: dict[int, str | None] = {}
        fired = False
        for _ in range(PAGES_PER_TURN):
            if fired and time.monotonic() > ends:
                return True, True
            try:
                page = os.read(fd, PAGE_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                log.warning("live: reading cpu%d: %s", cpu, exc)
                break
            if not page:
                break
            self._commit(cpu, page, comms)
            fired = True
        else:
            return True, True
        return fired, False

    def _commit(self, cpu: int, page: bytes, comms: dict[int, str | None]) -> None:
        decoded = decode_page(page)
        if decoded.lost:
            self._lose(cpu, self._lost_count(cpu, decoded.lost))
        try:
            self._fire_page(cpu, decoded.events, comms)
        finally:
            self.firer.flush_live()  # the page's records into the buffers, in one batch

    def _fire_page(self, cpu: int, events: list[tuple[int, bytes]],
                   comms: dict[int, str | None]) -> None:
        wanted = self.wanted()  # a record of an event no one wants any more is dropped
        for ts, payload in events:
            if len(payload) < _COMMON.size:
                continue
            ident, _, _, pid = _COMMON.unpack_from(payload)
            name = self.host_ids.get(ident)
            if name is None or name not in wanted or not self.layer.exists(name):
                continue
            if pid not in comms:
                comms[pid] = self._comm(pid)
            try:
                ours = self.layer.event_id(name)
            except TpfsError:
                continue
            record = struct.pack("<H", ours) + payload[2:]
            try:
                self.firer.fire_live(Firing(name, cpu, pid, comms[pid], 1, record, ts))
            except Exception:  # one odd record must not end the daemon or fail a request
                self.failed += 1
                if self.failed <= MAX_FAILURES_LOGGED:
                    log.exception("live: a %s record could not be fired", name)
                continue
            self.carried += 1

    def _comm(self, pid: int) -> str | None:
        if pid == 0:
            return None  # the idle task: tpfs shows it as the kernel does
        return self.task_comm(pid) or self.instance.saved_comm(pid)

    def _lost_count(self, cpu: int, said: int) -> int:
        """How many events a page with the missed flag stands for: the growth of the
        kernel's overrun since last told (a full page has no room for the count)."""
        overrun = self.instance.overrun(cpu)
        if overrun is None:
            return max(said, 1)
        count = overrun - self.overruns.get(cpu, 0)
        self.overruns[cpu] = overrun
        return count if count > 0 else max(said, 1)

    def _lose(self, cpu: int, count: int) -> None:
        """The kernel's instance lost ``count`` events on ``cpu``: each tpfs
        instance tracing a live event counts them lost too."""
        self.lost += count
        wanted = self.wanted()
        for layer, trace in self.targets.values():
            if any(layer.enabled(name) for name in wanted):
                trace.buffer.lose(cpu, count)

    def close(self) -> None:
        self._close_fds()
        self.instance.close()
