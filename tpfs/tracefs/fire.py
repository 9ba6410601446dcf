"""The ``fire`` file: make tracepoints fire, as the code around them would.

Each line is ``SUBSYS:EVENT [@cpu=N] [@pid=N] [@comm=NAME] [@count=N]
[FIELD=VALUE ...]`` (the ``@`` words anywhere after the name). It fires every
registered instance of the name, ``count`` times, on that CPU, as that task
(by default the writer), with the record its ``format`` lays out for those
values: integers in decimal or ``0x`` hex, text for ``char[N]`` and
``__data_loc char[]`` fields, zero or empty for fields not given. Each
instance calls its probes through the registry; the event's own probe
records the event into the trace array when set_event_pid allows the task.

A write is one batch: every line is parsed and its record encoded before
anything fires, so a bad line (EINVAL), a name with no instance (ENOENT) or
more than ``MAX_FIRINGS`` firings in all (EINVAL) fires nothing.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from ..kernel.errors import TpfsError
from ..kernel.registry import Probe, ProbeCall, Registry, Tracepoint
from .control import parse_event_name, split_lines
from .events import EventLayer, event_probe
from .nodes import Opener
from .record import Value, layout
from .trace import TraceArray

#: Firings one write may ask for: the daemon serves nothing else meanwhile.
MAX_FIRINGS = 100_000
MAX_PID = (1 << 22) - 1  # pid_max's ceiling on 64-bit kernels
_NUMBER_RE = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_COMM_MAX = 15  # TASK_COMM_LEN less its NUL


@dataclass(frozen=True, slots=True)
class Firing:
    """One parsed line: what to fire, where, as whom, how often, with which record."""

    name: str
    cpu: int
    pid: int
    comm: str | None
    count: int
    record: bytes


def _invalid(why: str) -> TpfsError:
    return TpfsError(errno.EINVAL, why)


def _number(word: str, low: int, high: int, what: str) -> int:
    if not _NUMBER_RE.fullmatch(word):
        raise _invalid(f"{what}: {word!r} is not a number")
    value = int(word, 0) if "x" in word.lower() else int(word)
    if not low <= value <= high:
        raise _invalid(f"{what}: {value} is out of range {low}..{high}")
    return value


class Firer:
    """Parses ``fire`` writes and fires them through the registry."""

    def __init__(self, registry: Registry, layer: EventLayer, trace: TraceArray) -> None:
        self.registry = registry
        self.layer = layer
        self.trace = trace

    def parse(self, words: list[str], opener: Opener) -> Firing:
        name = parse_event_name(words[0])
        if not self.layer.exists(name):
            raise TpfsError(errno.ENOENT, f"no tracepoint {name} is registered")
        ncpus = self.trace.tracing.ncpus
        cpu, pid, count = 0, opener.pid, 1
        comm: str | None = None
        named = False  # @pid without @comm: a task whose name was not saved
        event = layout(self.layer.format(name))
        values: dict[str, Value] = {}
        for word in words[1:]:
            key, eq, value = word.partition("=")
            if not eq:
                raise _invalid(f"{word!r} is not WORD=VALUE")
            if key == "@cpu":
                cpu = _number(value, 0, ncpus - 1, "@cpu")
            elif key == "@pid":
                pid, named = _number(value, 0, MAX_PID, "@pid"), True
            elif key == "@comm":
                if not 0 < len(value) <= _COMM_MAX:
                    raise _invalid(f"@comm {value!r} is not 1 to {_COMM_MAX} characters")
                comm = value
                named = True
            elif key == "@count":
                count = _number(value, 1, MAX_FIRINGS, "@count")
            elif key in values:
                raise _invalid(f"field {key} given twice")
            else:
                fld = event.by_name.get(key)
                is_text = fld is not None and fld.kind != "scalar" and fld.is_text
                values[key] = value if is_text else _number(value, -(1 << 63), (1 << 64) - 1,
                                                            key)
        if not named:
            comm = opener.comm
        try:
            record = event.encode(values, pid=pid)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        return Firing(name, cpu, pid, comm, count, record)

    def write(self, buf: bytes, opener: Opener) -> None:
        firings = [self.parse(words, opener) for words in split_lines(buf)]
        if sum(f.count for f in firings) > MAX_FIRINGS:
            raise _invalid(f"more than {MAX_FIRINGS} firings in one write")
        for firing in firings:
            call = self._probe_call(firing)
            for _ in range(firing.count):
                self.registry.fire(firing.name, call)

    def _probe_call(self, firing: Firing) -> ProbeCall:
        own = event_probe(firing.name)
        tracing = self.trace.tracing
        allowed = ((not tracing.event_pids or firing.pid in tracing.event_pids)
                   and firing.pid not in tracing.notrace_pids)
        subsys = firing.name.partition(":")[0]
        fmt = self.layer.format(firing.name)

        def call(tp: Tracepoint, probe: Probe) -> None:
            if probe == own and allowed:
                self.trace.record(firing.cpu, firing.record, firing.comm, subsys, fmt)

        return call
