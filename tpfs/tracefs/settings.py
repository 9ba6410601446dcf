"""The top-level tracing settings that tracing tools read and write.

Nothing here traces anything: these files hold the values a real tracefs
would show (tracing_on, current_tracer, trace_clock, buffer sizes, the cpu
mask, pid filters, uprobe definitions, the error log and an empty trace),
and accept or refuse writes the way the kernel's files do.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..kernel.errors import TpfsError

TRACERS = ("blk", "function", "nop")
CLOCKS = ("local", "global", "counter", "uptime", "perf", "mono", "mono_raw", "boot", "tai",
          "x86-tsc")
INITIAL_BUFFER_KB = 7
EXPANDED_BUFFER_KB = 1408
_UPROBE_RE = re.compile(r"[pr](?::[\w/]+)?\s+\S+:(?:0x)?[0-9a-fA-F]+(?:\s+.*)?|-:[\w/]+")
_CPUMASK_RE = re.compile(r"[0-9a-fA-F]+(?:,[0-9a-fA-F]+)*")

TRACE_HEADER = """\
# tracer: {tracer}
#
# entries-in-buffer/entries-written: 0/0   #P:{ncpus}
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""


def _word(buf: bytes) -> str:
    return buf.decode("ascii", "replace").strip()


def _number(buf: bytes) -> int:
    text = _word(buf)
    if not text.isdigit() or not text.isascii():
        raise TpfsError(errno.EINVAL, f"not a number: {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Setting:
    """One top-level file: its mode, what it shows, what a write and O_TRUNC do."""

    mode: int
    render: Callable[[], str]
    write: Callable[[bytes], None] | None = None
    clear: Callable[[], None] | None = None


@dataclass
class Tracing:
    ncpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    tracing_on: bool = True
    tracer: str = "nop"
    clock: str = "local"
    buffer_kb: int | None = None  # None until set: the buffer is still the boot minimum
    cpumask: int = 0
    event_pids: set[int] = field(default_factory=set)
    notrace_pids: set[int] = field(default_factory=set)
    uprobes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.cpumask:
            self.cpumask = (1 << self.ncpus) - 1

    # -- renderers ---------------------------------------------------------
    def _buffer(self, per_cpu: int) -> str:
        if self.buffer_kb is None:
            return f"{INITIAL_BUFFER_KB * per_cpu} (expanded: {EXPANDED_BUFFER_KB * per_cpu})\n"
        return f"{self.buffer_kb * per_cpu}\n"

    def _clocks(self) -> str:
        return " ".join(f"[{c}]" if c == self.clock else c for c in CLOCKS) + "\n"

    @staticmethod
    def _pids(pids: set[int]) -> str:
        return "".join(f"{p}\n" for p in sorted(pids))

    # -- writers -----------------------------------------------------------
    def _set_on(self, buf: bytes) -> None:
        self.tracing_on = _number(buf) != 0

    def _set_tracer(self, buf: bytes) -> None:
        name = _word(buf)
        if name not in TRACERS:
            raise TpfsError(errno.EINVAL, f"no tracer {name!r}")
        self.tracer = name

    def _set_clock(self, buf: bytes) -> None:
        name = _word(buf)
        if name not in CLOCKS:
            raise TpfsError(errno.EINVAL, f"no clock {name!r}")
        self.clock = name

    def _set_buffer(self, buf: bytes) -> None:
        size = _number(buf)
        if size == 0:
            raise TpfsError(errno.EINVAL, "buffer size must be positive")
        self.buffer_kb = size

    def _set_cpumask(self, buf: bytes) -> None:
        text = _word(buf)
        if not _CPUMASK_RE.fullmatch(text):
            raise TpfsError(errno.EINVAL, f"bad cpu mask {text!r}")
        self.cpumask = int(text.replace(",", ""), 16)

    @staticmethod
    def _add_pids(pids: set[int]) -> Callable[[bytes], None]:
        def write(buf: bytes) -> None:
            words = buf.decode("ascii", "replace").split()
            if not all(w.isdigit() and w.isascii() for w in words):
                raise TpfsError(errno.EINVAL, f"bad pid list {words!r}")
            pids.update(int(w) for w in words)

        return write

    def _add_uprobes(self, buf: bytes) -> None:
        lines = [ln.strip() for ln in buf.decode("ascii", "replace").splitlines() if ln.strip()]
        if not all(_UPROBE_RE.fullmatch(ln) for ln in lines):
            raise TpfsError(errno.EINVAL, "bad uprobe definition")
        for ln in lines:
            if ln.startswith("-:"):
                self.uprobes = [u for u in self.uprobes if u.split()[0].split(":", 1)[-1]
                                != ln[2:]]
            else:
                self.uprobes.append(ln)

    def settings(self, error_log: list[str]) -> dict[str, Setting]:
        """The top-level files, by name, with their modes as on a real tracefs."""
        return {
            "tracing_on": Setting(0o640, lambda: f"{int(self.tracing_on)}\n", self._set_on),
            "current_tracer": Setting(0o640, lambda: f"{self.tracer}\n", self._set_tracer),
            "available_tracers": Setting(0o440, lambda: " ".join(TRACERS) + "\n"),
            "trace_clock": Setting(0o640, self._clocks, self._set_clock),
            "buffer_size_kb": Setting(0o640, lambda: self._buffer(1), self._set_buffer),
            "buffer_total_size_kb": Setting(0o440, lambda: self._buffer(self.ncpus)),
            "tracing_cpumask": Setting(0o640, lambda: f"{self.cpumask:x}\n", self._set_cpumask),
            "set_event_pid": Setting(0o640, lambda: self._pids(self.event_pids),
                                     self._add_pids(self.event_pids), self.event_pids.clear),
            "set_event_notrace_pid": Setting(0o640, lambda: self._pids(self.notrace_pids),
                                             self._add_pids(self.notrace_pids),
                                             self.notrace_pids.clear),
            "error_log": Setting(0o640, lambda: "".join(error_log),
                                 lambda buf: error_log.clear(), error_log.clear),
            "uprobe_events": Setting(0o640, lambda: "".join(f"{u}\n" for u in self.uprobes),
                                     self._add_uprobes, self.uprobes.clear),
            "trace": Setting(0o640, lambda: TRACE_HEADER.format(tracer=self.tracer,
                                                                ncpus=self.ncpus),
                             lambda buf: None, lambda: None),
        }
