"""The ``fire`` file: make tracepoints fire, as the code around them would.

Each line is ``SUBSYS:EVENT [@cpu=N] [@pid=N] [@comm=NAME] [@count=N]
[FIELD=VALUE ...]`` (the ``@`` words anywhere after the name). It fires every
registered instance of the name, ``count`` times, on that CPU, as that task
(by default the writer), with the record its ``format`` lays out for those
values: integers in decimal or ``0x`` hex, text for ``char[N]`` and
``__data_loc char[]`` fields, zero or empty for fields not given. Each
instance calls its probes through the registry; what an event's own probe
does then (its triggers, pid filter, filter and commit, the synthetic events
its histograms fire) is ``events.own_probe``'s, and the eprobes on it fire with
it (``dynamic.eprobe_firing``).

A write is one batch: every line is parsed and its record encoded before
anything fires, so a bad line (EINVAL), a name with no instance (ENOENT) or
more than ``MAX_FIRINGS`` firings in all (EINVAL) fires nothing.
"""

from __future__ import annotations

import errno
import functools
import re
from collections.abc import Callable

from ..kernel.errors import TpfsError
from ..kernel.registry import Registry
from .events.events import EventLayer
from .events.firing import Firing
from .events.own_probe import EventProbes
from .events.pid_filter import FOLLOW_FORK, follow_fork
from .trace.record import Value, layout
from .tracepoints.control import parse_event_name, split_lines
from .vfs.nodes import Opener

#: Firings one write may ask for: the daemon serves nothing else meanwhile.
MAX_FIRINGS = 100_000
MAX_PID = (1 << 22) - 1  # pid_max's ceiling on 64-bit kernels
_NUMBER_RE = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_COMM_MAX = 15  # TASK_COMM_LEN less its NUL


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

    def __init__(self, registry: Registry, layer: EventLayer, probes: EventProbes,
                 hit: Callable[[str], None]) -> None:
        self.registry = registry
        self.layer = layer  # the top level's: names and formats
        #: What each firing calls, in each instance.
        self.probes = probes
        #: Told of each firing that reached an event's probes (the profiles count them).
        self.hit = hit

    def parse(self, words: list[str], opener: Opener,
              writer_comm: Callable[[], str | None] | None = None) -> Firing:
        """One line; ``writer_comm`` gives the writer's name (looked up once a write)."""
        name = parse_event_name(words[0])
        if not self.layer.exists(name):
            raise TpfsError(errno.ENOENT, f"no tracepoint {name} is registered")
        ncpus = self.layer.ncpus
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
            comm = opener.comm if writer_comm is None else writer_comm()
        try:
            record = event.encode(values, pid=pid)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        return Firing(name, cpu, pid, comm, count, record)

    def write(self, buf: bytes, opener: Opener) -> None:
        writer_comm = functools.cache(lambda: opener.comm)
        firings = [self.parse(words, opener, writer_comm) for words in split_lines(buf)]
        if sum(f.count for f in firings) > MAX_FIRINGS:
            raise _invalid(f"more than {MAX_FIRINGS} firings in one write")
        for firing in firings:
            calls = self.probes.calls(firing)
            for _ in range(firing.count):
                for name, call in calls:
                    if self.registry.fire(name, call):
                        self.hit(name)
            if firing.name in FOLLOW_FORK:
                follow_fork(firing, self.layer.format(firing.name), self.probes.targets)

