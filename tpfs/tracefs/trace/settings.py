"""The top-level tracing settings that tracing tools read and write.

Nothing here traces anything: these files hold the values a real tracefs
would show (tracing_on, current_tracer, trace_clock, buffer sizes, the cpu
mask, pid filters, the error log and an empty trace),
and accept or refuse writes the way the kernel's files do.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ...kernel.errors import TpfsError
from ...kernel.ring_buffer import DEFAULT_SIZE_KB, RingBuffer
from ..kstr import HEX, SPACES, kstrtoul_from_user, kstrtoull

TRACERS = ("blk", "function", "nop")
CLOCKS = ("local", "global", "counter", "uptime", "perf", "mono", "mono_raw", "boot", "tai",
          "x86-tsc")
INITIAL_BUFFER_KB = 7
EXPANDED_BUFFER_KB = 1408
#: A larger buffer_size_kb is ENOMEM: the buffers' memory stays bounded.
MAX_BUFFER_KB = 65536
ERROR_LOG_MAX = 8  # TRACING_LOG_ERRS_MAX: the error log keeps the newest eight
CMD_PREFIX = "  Command: "
PID_LIMIT = 1 << 30  # the pid lists' 30 bits: a larger pid is EPERM
def host_cpus() -> int:
    """The CPUs a mask or a cpulist may name (``nr_cpu_ids``)."""
    return os.cpu_count() or 1


def log_error(log: list[str], where: str, message: str, command: str, pos: int) -> None:
    """Append to ``error_log`` as ``tracing_log_err`` does: a caret under ``pos``."""
    usecs = time.monotonic_ns() // 1000
    log.append(f"[{usecs // 1000000:5d}.{usecs % 1000000:06d}] {where}: error: {message}\n"
               f"{CMD_PREFIX}{command}\n{' ' * (len(CMD_PREFIX) + pos)}^\n")
    del log[:-ERROR_LOG_MAX]


def parse_cpumask(text: str, nbits: int) -> int:
    """``bitmap_parse``: comma-separated 32-bit hex chunks, the lowest last."""
    text = text.split("\n", 1)[0]
    separators = SPACES + ","
    value = 0
    chunk = 0
    pos = len(text) - 1
    while True:
        while pos >= 0 and text[pos] in separators:
            pos -= 1
        if pos < 0:
            break
        if chunk >= (nbits + 31) // 32:
            raise TpfsError(errno.EOVERFLOW, f"cpu mask {text!r} has too many chunks")
        for shift in range(0, 32, 4):
            digit = text[pos]
            pos -= 1
            if digit not in HEX:
                raise TpfsError(errno.EINVAL, f"bad cpu mask {text!r}")
            value |= int(digit, 16) << (32 * chunk + shift)
            if pos < 0 or text[pos] in separators:
                break
        else:
            pos -= 1
            if text[pos + 1] in HEX:
                raise TpfsError(errno.EOVERFLOW, f"cpu mask chunk over 32 bits in {text!r}")
        chunk += 1
    if value >> nbits:
        raise TpfsError(errno.EOVERFLOW, f"cpu mask {text!r} names a cpu beyond {nbits}")
    return value


def show_cpumask(mask: int, nbits: int) -> str:
    """``%*pb``: 32-bit chunks, the first as wide as the cpus it holds."""
    width = (nbits % 32 or 32) + 3 >> 2
    chunks = []
    for low in range((nbits - 1) // 32 * 32, -1, -32):
        chunks.append(f"{mask >> low & 0xFFFFFFFF:0{width}x}")
        width = 8
    return ",".join(chunks)


def parse_pids(buf: bytes) -> set[int]:
    """``trace_pid_write``: all pids or (refused) none; each a C ``pid_t`` below 2**30."""
    new = set()
    for word in buf.decode("latin-1").split():
        try:
            pid = kstrtoull(word) & 0xFFFFFFFF
        except (ValueError, OverflowError):
            raise TpfsError(errno.EINVAL, f"bad pid {word!r}") from None
        if pid >= PID_LIMIT:
            raise TpfsError(errno.EPERM, f"pid {word} out of range")
        new.add(pid)
    return new


def _word(buf: bytes) -> str:
    return buf.decode("ascii", "replace").strip()


@dataclass(frozen=True, slots=True)
class Setting:
    """One top-level file: its mode, what it shows, what a write and O_TRUNC do."""

    mode: int
    render: Callable[[], str]
    write: Callable[[bytes], None] | None = None
    clear: Callable[[], None] | None = None


@dataclass
class Tracing:
    """A trace array's settings (the fields of ``struct trace_array`` the control
    files set) and its per-CPU buffer (``array_buffer``), which ``buffer_size_kb``
    resizes here."""

    ncpus: int = field(default_factory=host_cpus)
    tracing_on: bool = True
    tracer: str = "nop"
    clock: str = "local"
    #: ``ring_buffer_expanded``: false on the top level until a tracer is set, an
    #: event enabled or a size written (the boot minimum shows until then); a new
    #: instance is made expanded.
    expanded: bool = False
    cpumask: int = 0
    #: How full (percent) a buffer is before waiting raw readers wake; 0: at once.
    buffer_percent: int = 50
    event_pids: set[int] = field(default_factory=set)
    notrace_pids: set[int] = field(default_factory=set)
    #: The per-CPU buffers the instance records into.
    buffer: RingBuffer = field(init=False)

    def __post_init__(self) -> None:
        if not self.cpumask:
            self.cpumask = (1 << self.ncpus) - 1
        self.buffer = RingBuffer(self.ncpus, DEFAULT_SIZE_KB)

    def resize(self, size_kb: int, cpu: int | None = None) -> None:
        """Every CPU's buffer (or ``cpu``'s) to ``size_kb``."""
        self.buffer.resize(size_kb, cpu)

    def sizes(self) -> list[int]:
        """Each CPU's buffer size in KiB: the data its whole pages hold."""
        return [self.buffer.size_kb(cpu) for cpu in range(self.ncpus)]

    # -- renderers ---------------------------------------------------------
    def _buffer(self, per_cpu: int) -> str:
        """``buffer_size_kb`` (``per_cpu`` 1: ``X`` when the CPUs' sizes differ) or
        ``buffer_total_size_kb`` (their sum)."""
        if not self.expanded:
            return f"{INITIAL_BUFFER_KB * per_cpu} (expanded: {EXPANDED_BUFFER_KB * per_cpu})\n"
        sizes = self.sizes()
        if per_cpu > 1:
            return f"{sum(sizes)}\n"
        return f"{sizes[0]}\n" if len(set(sizes)) == 1 else "X\n"

    def _clocks(self) -> str:
        return " ".join(f"[{c}]" if c == self.clock else c for c in CLOCKS) + "\n"

    @staticmethod
    def _pids(pids: set[int]) -> str:
        return "".join(f"{p}\n" for p in sorted(pids))

    # -- writers -----------------------------------------------------------
    def _set_on(self, buf: bytes) -> None:
        self.tracing_on = kstrtoul_from_user(buf) != 0

    def _set_tracer(self, buf: bytes) -> None:
        name = _word(buf)
        self.expand()  # tracing_set_tracer expands the buffer first, even for no tracer
        if name not in TRACERS:
            raise TpfsError(errno.EINVAL, f"no tracer {name!r}")
        self.tracer = name

    def _set_clock(self, buf: bytes) -> None:
        self.set_clock(_word(buf))

    def set_clock(self, name: str) -> None:
        """``tracing_set_clock``: one of ``CLOCKS``, or EINVAL."""
        if name not in CLOCKS:
            raise TpfsError(errno.EINVAL, f"no clock {name!r}")
        self.clock = name

    def _set_buffer(self, buf: bytes) -> None:
        self.set_buffer(buf, None)

    def set_buffer(self, buf: bytes, cpu: int | None) -> None:
        """``tracing_entries_write``: every CPU's buffer, or one CPU's, to a size
        in KiB (shown in whole pages, as the kernel shows it). The number is
        ``kstrtoul_from_user``'s: ``+12`` and ``16\\0`` are taken, `` 12`` and
        ``12\\n\\n`` EINVAL, an overflow ERANGE."""
        size = kstrtoul_from_user(buf)
        if size == 0:
            raise TpfsError(errno.EINVAL, "buffer size must be positive")
        if size > MAX_BUFFER_KB:
            raise TpfsError(errno.ENOMEM, f"more than {MAX_BUFFER_KB} KiB per CPU")
        self.resize(size, cpu)
        self.expanded = True

    def expand(self) -> None:
        """``tracing_update_buffers``: the buffer is in use from now on. tpfs's is
        allocated whole from the start, so only what the files show changes."""
        self.expanded = True

    def ignores(self, pid: int) -> bool:
        """``trace_ignore_this_task``: ``set_event_pid`` leaves the task out, or
        ``set_event_notrace_pid`` names it."""
        return (bool(self.event_pids) and pid not in self.event_pids) or pid in self.notrace_pids

    def free_buffer(self, stop: bool) -> None:
        """``tracing_free_buffer_release``: tracing off when ``stop`` (the
        ``disable_on_free`` option), then every CPU's buffer down to its least,
        two pages."""
        if stop:
            self.tracing_on = False
        self.resize(0, None)
        self.expanded = True

    def _set_percent(self, buf: bytes) -> None:
        percent = kstrtoul_from_user(buf)
        if percent > 100:
            raise TpfsError(errno.EINVAL, f"buffer_percent {percent} is over 100")
        self.buffer_percent = percent

    def _set_cpumask(self, buf: bytes) -> None:
        self.cpumask = parse_cpumask(buf.decode("latin-1"), self.ncpus)

    def _add_pids(self, pids: set[int]) -> Callable[[bytes], None]:
        def write(buf: bytes) -> None:
            if buf:  # event_pid_write expands the buffer before it parses
                self.expand()
            pids.update(parse_pids(buf))

        return write

    def settings(self, error_log: list[str]) -> dict[str, Setting]:
        """The top-level files, by name, with their modes as on a real tracefs."""
        return {
            "tracing_on": Setting(0o640, lambda: f"{int(self.tracing_on)}\n", self._set_on),
            "current_tracer": Setting(0o640, lambda: f"{self.tracer}\n", self._set_tracer),
            "available_tracers": Setting(0o440, lambda: " ".join(TRACERS) + "\n"),
            "trace_clock": Setting(0o640, self._clocks, self._set_clock),
            "buffer_size_kb": Setting(0o640, lambda: self._buffer(1), self._set_buffer),
            "buffer_total_size_kb": Setting(0o440, lambda: self._buffer(self.ncpus)),
            "buffer_percent": Setting(0o640, lambda: f"{self.buffer_percent}\n",
                                      self._set_percent),
            "tracing_cpumask": Setting(0o640, lambda: show_cpumask(self.cpumask, self.ncpus) + "\n",
                                       self._set_cpumask),
            "set_event_pid": Setting(0o640, lambda: self._pids(self.event_pids),
                                     self._add_pids(self.event_pids), self.event_pids.clear),
            "set_event_notrace_pid": Setting(0o640, lambda: self._pids(self.notrace_pids),
                                             self._add_pids(self.notrace_pids),
                                             self.notrace_pids.clear),
            "error_log": Setting(0o640, lambda: "".join(error_log), lambda buf: None,
                                 error_log.clear),  # only O_TRUNC clears it
        }
