"""The ``fire`` file: make tracepoints fire, as the code around them would.

Each line is ``SUBSYS:EVENT [@cpu=N] [@pid=N] [@comm=NAME] [@count=N]
[FIELD=VALUE ...]`` (the ``@`` words anywhere after the name). It fires every
registered instance of the name, ``count`` times, on that CPU (by default the
writer's, as the kernel's markers), as that task
(by default the writer), with the record its ``format`` lays out for those
values: integers in decimal or ``0x`` hex, text for ``char[N]`` and
``__data_loc char[]`` fields, zero or empty for fields not given. Each
instance calls its probes through the registry; what an event's own probe
does then (its triggers, pid filter, filter and commit, the synthetic events
its histograms fire) is ``events.own_probe``'s, and the eprobes on it fire with
it (``dynamic.eprobe_firing``).

A write is one batch: every line is parsed and its record encoded before
anything fires, so a bad line (EINVAL, as is a line that gives an ``@`` word or
a field twice), a name with no instance (ENOENT) or
more than ``MAX_FIRINGS`` firings in all (EINVAL) fires nothing.

Design note: a long write is applied in slices. ``begin`` does the whole
check up front and returns a ``Firings``, whose ``step`` fires until the
driver says stop (the FUSE adapter gives it about 50 ms, then serves other
requests before the next step); a write of ``@count=100000`` into many
recording instances would otherwise hold the daemon's one thread for tens
of seconds. The check is whole and comes first, so bad input still changes
nothing; the application is incremental, as the kernel fires events one by
one while other tasks run: each firing sees the state the requests served
in between left (an event disabled, an instance removed, a filter set), and
an event removed meanwhile fires no more. This layer knows no clock and no
trio: the driver decides how long a slice is.
"""

from __future__ import annotations

import errno
import functools
import re
from collections.abc import Callable, Sequence

from ..kernel.errors import TpfsError
from ..kernel.registry import ProbeCall, Registry
from .events.events import EventLayer
from .events.firing import Firing
from .events.own_probe import EventProbes
from .events.pid_filter import FOLLOW_FORK, follow_fork
from .fire_native import FireTables, Line
from .trace.record import Value, layout
from .tracepoints.control import check_size, parse_event_name, split_lines
from .vfs.nodes import Opener
from .vfs.work import run

#: Firings one write may ask for (each into every instance that records the event).
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


class Firings:
    """A checked ``fire`` write, applied a slice at a time: the lines in order,
    each ``count`` times, then its fork bookkeeping (see the design note)."""

    __slots__ = ("firer", "firings", "line", "done")

    def __init__(self, firer: Firer, firings: list[Firing]) -> None:
        self.firer = firer
        self.firings = firings
        self.line = 0  # the line being fired
        self.done = 0  # how many times it has fired

    def step(self, more: Callable[[], bool]) -> bool:
        """Fire at least once (if anything is left), then on while ``more()``;
        True once the whole write is applied."""
        try:
            return self._step(more)
        finally:
            self.firer.probes.flush()  # the slice's records into their buffers

    def _step(self, more: Callable[[], bool]) -> bool:
        firer = self.firer
        exists, calls_of, fire_once = firer.layer.exists, firer.probes.calls, firer.fire_once
        firings = self.firings
        end = len(firings)
        line, done = self.line, self.done
        # Whether each name exists, asked once a slice: only requests, served between
        # slices, load or unload the code that defines an event.
        alive: dict[str, bool] = {}
        try:
            while line < end:
                firing = firings[line]
                name = firing.name
                there = alive.get(name)
                if there is None:
                    there = alive[name] = exists(name)
                if there:  # else removed since: fires no more
                    # Probes and eprobes as they are now: they may have changed between
                    # steps.
                    calls = calls_of(firing)
                    count = firing.count
                    while done < count:
                        fire_once(calls)
                        done += 1
                        if done < count and not more():
                            return False
                    if name in FOLLOW_FORK:
                        follow_fork(firing, firer.layer.format(name), firer.probes.targets)
                line += 1
                done = 0
                if line < end and not more():
                    return False
            return True
        finally:
            self.line, self.done = line, done


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
        #: The native parse's tables of the events fired so far.
        self.native = FireTables()

    def parse(self, words: list[str], opener: Opener,
              writer_comm: Callable[[], str | None] | None = None,
              writer_cpu: Callable[[], int] | None = None) -> Firing:
        """One line; ``writer_comm`` and ``writer_cpu`` give the writer's name and
        CPU (looked up once a write)."""
        name = parse_event_name(words[0])
        if not self.layer.exists(name):
            raise TpfsError(errno.ENOENT, f"no tracepoint {name} is registered")
        ncpus = self.layer.ncpus
        cpu: int | None = None
        pid, count = opener.pid, 1
        comm: str | None = None
        named = False  # @pid without @comm: a task whose name was not saved
        event = layout(self.layer.format(name))
        values: dict[str, Value] = {}
        given: set[str] = set()
        for word in words[1:]:
            key, eq, value = word.partition("=")
            if not eq:
                raise _invalid(f"{word!r} is not WORD=VALUE")
            if key in given:  # an @ word or a field, each at most once a line
                raise _invalid(f"{key} given twice")
            given.add(key)
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
            else:
                fld = event.by_name.get(key)
                is_text = fld is not None and fld.kind != "scalar" and fld.is_text
                values[key] = value if is_text else _number(value, -(1 << 63), (1 << 64) - 1,
                                                            key)
        if not named:
            comm = opener.comm if writer_comm is None else writer_comm()
        if cpu is None:
            cpu = opener.cpu(ncpus) if writer_cpu is None else writer_cpu()
        try:
            record = event.encode(values, pid=pid)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        return Firing(name, cpu, pid, comm, count, record)

    def begin(self, buf: bytes, opener: Opener) -> Firings:
        """Check a whole write (raising, with nothing changed, if any of it is bad)
        and return the firings it asks for, to be applied by ``Firings.step``."""
        writer_comm = functools.cache(lambda: opener.comm)
        writer_cpu = functools.cache(lambda: opener.cpu(self.layer.ncpus))
        check_size(buf)
        lines = self.native.parse(buf, self.layer.ncpus, opener.pid)
        firings = None if lines is None else self._native_firings(lines, opener, writer_comm,
                                                                  writer_cpu)
        if firings is None:  # Python's parse: the first write of an event, and every error
            firings = [self.parse(words, opener, writer_comm, writer_cpu)
                       for words in split_lines(buf)]
            for name in {f.name for f in firings}:
                self.native.learn(name, layout(self.layer.format(name)))
        if sum(f.count for f in firings) > MAX_FIRINGS:
            raise _invalid(f"more than {MAX_FIRINGS} firings in one write")
        return Firings(self, firings)

    def _native_firings(self, lines: list[Line], opener: Opener,
                        writer_comm: Callable[[], str | None],
                        writer_cpu: Callable[[], int]) -> list[Firing] | None:
        """The native parse's lines as firings, or None if an event it named no longer
        exists with the layout its table was compiled from."""
        layer, layouts = self.layer, self.native.layouts
        for name in {line[0] for line in lines}:
            if not layer.exists(name) or layout(layer.format(name)) is not layouts[name]:
                self.native.forget(name)
                return None
        # The writer's CPU and name, looked up as Python's parse does: if a line needs them.
        wcpu = writer_cpu() if any(line[1] is None for line in lines) else 0
        wcomm = writer_comm() if any(line[2] is None and line[3] is None
                                     for line in lines) else None
        wpid = opener.pid
        return [Firing(name, wcpu if cpu is None else cpu, wpid if pid is None else pid,
                       wcomm if pid is None and comm is None else comm, count, record)
                for name, cpu, pid, comm, count, record in lines]

    def write(self, buf: bytes, opener: Opener) -> None:
        """A whole write, checked then applied at once."""
        run(self.begin(buf, opener))

    def fire_once(self, calls: Sequence[tuple[str, ProbeCall]]) -> bool:
        """Fire once through ``calls``; False when no instance took it."""
        fired = False
        for name, call in calls:
            if self.registry.fire(name, call):
                self.hit(name)
                fired = True
        return fired

    def fire_live(self, firing: Firing) -> bool:
        """One event the kernel recorded, fired as a written line is: into every
        instance that has it enabled, through its pid filters, filter, triggers and
        hists, with the kernel's time stamp. False when no instance took it.

        The common case's record waits in the batch, as a write's slice's do: the
        caller fires a page's worth, then ``flush_live`` writes them (before it
        returns to trio, so no request sees the buffers between the two)."""
        fired = self.fire_once(self.probes.calls(firing))
        if firing.name in FOLLOW_FORK:
            follow_fork(firing, self.layer.format(firing.name), self.probes.targets)
        return fired

    def flush_live(self) -> None:
        """Write the records ``fire_live`` left in the batch."""
        self.probes.flush()
