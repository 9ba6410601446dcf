"""More top-level files, as the reference kernel (Linux 6.18) has them.

``saved_cmdlines``, ``saved_cmdlines_size``, ``saved_tgids``,
``printk_formats``, ``tracing_thresh``, ``tracing_max_latency``,
``set_ftrace_pid``, ``set_ftrace_notrace_pid``, ``set_ftrace_filter``,
``set_ftrace_notrace`` and the parsing of ``current_tracer``: what each shows
and what a write does, observed on the kernel's tracefs unless a docstring
says otherwise. Pure: the daemon holds the objects and wires them to files,
as it does ``settings.Setting``.

Two things the reference kernel does not let one observe:

- it has no ``tracing_max_latency`` (built without the latency tracers);
  ``Nsecs`` models it as the same code as ``tracing_thresh``;
- it refuses to open the function-tracing files (``set_ftrace_*``,
  ``available_filter_functions``, ``enabled_functions``) with EPERM, and to
  make ``function`` the current tracer (EPERM); ``FtracePids`` and
  ``FunctionFilter`` follow the kernel's source and README text instead.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ...kernel.errors import TpfsError
from ..kstr import SPACES, kstrtoul_from_user
from .settings import parse_pids

#: The modes of the files here (and ``README``/``trace_options``, elsewhere).
MODES = {
    "saved_cmdlines": 0o440, "saved_cmdlines_size": 0o640, "saved_tgids": 0o440,
    "printk_formats": 0o440, "tracing_thresh": 0o640, "tracing_max_latency": 0o640,
    "set_ftrace_pid": 0o640, "set_ftrace_notrace_pid": 0o640,
    "set_ftrace_filter": 0o640, "set_ftrace_notrace": 0o640,
}

# -- current_tracer -----------------------------------------------------------
#: ``current_tracer`` reads at most this many bytes of a write (the rest is ignored).
MAX_TRACER_SIZE = 100


def parse_tracer(buf: bytes, tracers: Iterable[str]) -> str:
    """The tracer a ``current_tracer`` write names: EINVAL unless ``tracers`` lists it.

    The first 100 bytes, cut at a NUL, stripped of spaces at both ends
    (``nop`` and 200 spaces is ``nop``; ``nop x`` is EINVAL).
    """
    name = buf[:MAX_TRACER_SIZE].split(b"\0", 1)[0].decode("latin-1").strip(SPACES)
    if name not in tuple(tracers):
        raise TpfsError(errno.EINVAL, f"no tracer {name!r}")
    return name


# -- saved_cmdlines, saved_cmdlines_size, saved_tgids -------------------------
PID_MAX_DEFAULT = 0x8000
TASK_COMM_LEN = 16
PAGE_SIZE = 4096
#: ``sizeof(struct saved_cmdlines_buffer)``: the pid-to-slot map of 32769
#: ints, a pointer and two ints; each slot then costs a comm and a pid.
_CMDLINES_HEADER = 131096
_CMDLINES_SLOT = TASK_COMM_LEN + 4
NO_CMDLINE_MAP = -1


def cmdlines_capacity(requested: int) -> int:
    """The slots a ``saved_cmdlines_size`` of ``requested`` gets.

    The kernel allocates whole pages (a power-of-two number of them) and
    uses all of them: 128 (the boot size) and 6552 read back as 6552, 6553
    as 19659, 32768 as 45874.
    """
    need = _CMDLINES_HEADER + requested * _CMDLINES_SLOT
    size = PAGE_SIZE
    while size < need:
        size *= 2
    return (size - _CMDLINES_HEADER) // _CMDLINES_SLOT


SAVED_CMDLINES_DEFAULT = cmdlines_capacity(128)


def parse_cmdlines_size(buf: bytes) -> int:
    """A ``saved_cmdlines_size`` write: 1 to 32768 (else EINVAL), as ``kstrtoul``."""
    value = kstrtoul_from_user(buf)
    if not 1 <= value <= PID_MAX_DEFAULT:
        raise TpfsError(errno.EINVAL, f"saved_cmdlines_size {value} not in 1..{PID_MAX_DEFAULT}")
    return value


@dataclass(slots=True)
class SavedCmdlines:
    """The comm cache: ``trace_save_cmdline``'s slots and their listing.

    A pid keeps its slot (found through ``pid & 0x7fff``); a new pid takes
    the slot after the last one taken, round the ring, starting at slot 1.
    A resize starts an empty cache.
    """

    capacity: int = SAVED_CMDLINES_DEFAULT
    _pid_to_slot: dict[int, int] = field(init=False, default_factory=dict)
    _slot_pid: list[int] = field(init=False, default_factory=list)
    _slot_comm: list[str] = field(init=False, default_factory=list)
    _last: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._reset(self.capacity)

    def _reset(self, capacity: int) -> None:
        self.capacity = capacity
        self._pid_to_slot = {}
        self._slot_pid = [NO_CMDLINE_MAP] * capacity
        self._slot_comm = [""] * capacity
        self._last = 0

    def render_size(self) -> str:
        return f"{self.capacity}\n"

    def write_size(self, buf: bytes) -> int:
        self._reset(cmdlines_capacity(parse_cmdlines_size(buf)))
        return len(buf)

    def record(self, pid: int, comm: str) -> None:
        """Save ``comm`` for ``pid`` (pid 0, the idle task, is never saved)."""
        if pid == 0:
            return
        key = pid & (PID_MAX_DEFAULT - 1)
        slot = self._pid_to_slot.get(key)
        if slot is None:
            slot = (self._last + 1) % self.capacity
            self._pid_to_slot[key] = slot
            self._last = slot
        self._slot_pid[slot] = pid
        self._slot_comm[slot] = comm[:TASK_COMM_LEN - 1]

    def find(self, pid: int) -> str:
        """``trace_find_cmdline``: ``<idle>`` for 0, ``<...>`` for a pid it lost."""
        if pid == 0:
            return "<idle>"
        slot = self._pid_to_slot.get(pid & (PID_MAX_DEFAULT - 1))
        if slot is not None and self._slot_pid[slot] == pid:
            return self._slot_comm[slot]
        return "<...>"

    def render(self) -> str:
        """``saved_cmdlines``: ``PID COMM`` per saved slot, in slot order."""
        return "".join(f"{pid} {self.find(pid)}\n" for pid in self._slot_pid
                       if pid != NO_CMDLINE_MAP)


@dataclass(slots=True)
class SavedTgids:
    """``saved_tgids``: ``PID TGID`` lines by pid, filled only with ``record-tgid``.

    The format (``%d %d``) is the kernel source's: the reference kernel's
    list was empty (``record-tgid`` is off at boot).
    """

    tgids: dict[int, int] = field(default_factory=dict)

    def record(self, pid: int, tgid: int) -> None:
        if pid:
            self.tgids[pid] = tgid

    def render(self) -> str:
        return "".join(f"{pid} {self.tgids[pid]}\n" for pid in sorted(self.tgids))


# -- printk_formats ---------------------------------------------------------
_PRINTK_ESCAPES = {"\n": "\\n", "\t": "\\t", "\\": "\\", '"': '\\"'}


def render_printk_formats(formats: Iterable[tuple[int, str]]) -> str:
    """``printk_formats``: ``0xADDR : "FORMAT"`` per line (the kernel's have 128).

    Newlines, tabs and quotes are escaped; a backslash is shown as one
    backslash, as the kernel does. tpfs has no ``trace_printk`` formats, so
    it serves this empty.
    """
    return "".join(
        f'0x{addr:x} : "{"".join(_PRINTK_ESCAPES.get(c, c) for c in fmt)}"\n'
        for addr, fmt in formats)


# -- tracing_thresh, tracing_max_latency -------------------------------------
_ULONG = 1 << 64


@dataclass(slots=True)
class Nsecs:
    """``tracing_thresh``/``tracing_max_latency``: written in µs, kept in ns.

    Reads ``0`` at boot; a write is ``kstrtoul`` (``5\\n`` and ``+3`` are
    fine, `` 5`` and ``-1`` EINVAL, too large ERANGE) times 1000, wrapping
    as an unsigned long does (18446744073709551615 reads back as
    18446744073709550).
    """

    nsecs: int = 0

    def render(self) -> str:
        return "-1\n" if self.nsecs == _ULONG - 1 else f"{self.nsecs // 1000}\n"

    def write(self, buf: bytes) -> int:
        self.nsecs = kstrtoul_from_user(buf) * 1000 % _ULONG
        return len(buf)


# -- set_ftrace_pid, set_ftrace_notrace_pid ---------------------------------
@dataclass(slots=True)
class FtracePids:
    """A function tracer pid list: ``no pid`` when empty (from the kernel's source).

    A write adds whitespace-separated pids (all or none), parsed as
    ``set_event_pid`` parses them; opening with O_TRUNC clears the list.
    """

    pids: set[int] = field(default_factory=set)

    def render(self) -> str:
        if not self.pids:
            return "no pid\n"
        return "".join(f"{pid}\n" for pid in sorted(self.pids))

    def write(self, buf: bytes) -> int:
        self.pids |= parse_pids(buf)
        return len(buf)

    def clear(self) -> None:
        self.pids.clear()


# -- set_ftrace_filter, set_ftrace_notrace -----------------------------------
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_.]+)?")
_GLOB = re.compile(r"[A-Za-z0-9_.*?\[\]]+")


@dataclass(slots=True)
class FunctionFilter:
    """``set_ftrace_filter`` (or, with ``notrace``, ``set_ftrace_notrace``).

    tpfs knows no kernel symbols, so it takes any C identifier (with a
    ``.isra.0``-style suffix) as a function that exists, and a glob (``*``,
    ``?``, ``[``) as a pattern that matches none of them: EINVAL, the kernel's
    answer when nothing matches. ``!PATTERN`` removes the names it matches
    (none: EINVAL). Commands (``NAME:traceon``, ``:mod:NAME``) are EINVAL.
    The words of a write are applied in turn; a refused one stops the rest.
    Empty, it reads as the kernel's ``#### all functions enabled ####``
    (``#### no functions disabled ####`` for ``notrace``); otherwise one
    name a line, in the order they were added. O_TRUNC empties it.
    """

    notrace: bool = False
    names: dict[str, None] = field(default_factory=dict)

    def render(self) -> str:
        if not self.names:
            return ("#### no functions disabled ####\n" if self.notrace
                    else "#### all functions enabled ####\n")
        return "".join(f"{name}\n" for name in self.names)

    def write(self, buf: bytes) -> int:
        for word in buf.decode("latin-1").split():
            self._apply(word)
        return len(buf)

    def _apply(self, word: str) -> None:
        remove = word.startswith("!")
        pattern = word[1:] if remove else word
        if not _GLOB.fullmatch(pattern):
            raise TpfsError(errno.EINVAL, f"{word!r}: not a function name (commands unsupported)")
        if remove:
            hits = [n for n in self.names if fnmatchcase(n, pattern)]
            if not hits:
                raise TpfsError(errno.EINVAL, f"{word!r} matches no function")
            for name in hits:
                del self.names[name]
        elif _SYMBOL.fullmatch(pattern):
            self.names[pattern] = None
        elif any(c in pattern for c in "*?["):
            raise TpfsError(errno.EINVAL, f"{word!r}: tpfs has no functions for a glob to match")
        else:
            raise TpfsError(errno.EINVAL, f"{word!r} is not a function name")

    def clear(self) -> None:
        self.names.clear()
