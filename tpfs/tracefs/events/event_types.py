"""Event type ids and formats: what ``trace_event_reg`` and ``alloc_trace_event_type`` keep.

Catalogue events keep their kernel ids. Events only tpfs has take ids down
from the top of the 16-bit type space, far from the ids the host hands its
own next dynamic events, so a tool that passes one to perf_event_open gets
an error instead of counting some host event. An id stays with its name for
the daemon's life unless the range runs out; then the ids of names gone are
reused. One ``EventTypes`` serves the top level and every instance.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ...kernel.errors import TpfsError
from ...kernel.registry import Registry
from .catalog import Catalog

COMMON_FIELDS = (
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
)
#: The highest event type id; tpfs-only events count down from here.
DYNAMIC_ID_TOP = 65535


@dataclass(slots=True)
class EventTypes:
    """Each event name's id and ``format`` text."""

    registry: Registry
    catalog: Catalog
    #: Formats of events that are no tracepoint (``ftrace:print``).
    extra: Mapping[str, str] = field(default_factory=dict)
    _formats: dict[str, str] = field(default_factory=dict)
    _ids: dict[str, int] = field(default_factory=dict)
    _id_floor: int = 0  # tpfs-only ids stay above every catalogue id
    _next_id: int = DYNAMIC_ID_TOP
    _spare_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for ev in self.catalog.events:
            self._ids[ev.name] = ev.id
            self._formats[ev.name] = ev.format
        self._id_floor = max(self._ids.values(), default=0)
        self._formats.update(self.extra)

    def event_id(self, name: str) -> int:
        ident = self._ids.get(name)
        if ident is None:
            ident = self._ids[name] = self._take_id()
        return ident

    def _take_id(self) -> int:
        """The next free id counting down from the top; ENOSPC when all are in use."""
        if not self._spare_ids and self._next_id <= self._id_floor:
            gone = [n for n, i in self._ids.items()
                    if i > self._id_floor and not self.registry.instances(n)]
            self._spare_ids = sorted((self._ids.pop(n) for n in gone), reverse=True)
        if self._spare_ids:
            return self._spare_ids.pop()
        if self._next_id <= self._id_floor:
            raise TpfsError(errno.ENOSPC, "every event id is in use")
        self._next_id -= 1
        return self._next_id + 1

    def format(self, name: str) -> str:
        known = self._formats.get(name)
        if known is not None:
            return known
        event = name.partition(":")[2]
        # No fields of its own: the separator's blank line, then print fmt's own.
        return (f"name: {event}\nID: {self.event_id(name)}\nformat:\n{COMMON_FIELDS}\n\n"
                f'print fmt: "%s", ""\n')

    def define_format(self, name: str, make: Callable[[int], str]) -> None:
        """Give ``name`` (a dynamic event) the format ``make`` writes for its id."""
        self._formats[name] = make(self.event_id(name))

    def forget_format(self, name: str) -> None:
        """The dynamic event ``name`` is gone: a later one of that name has its own."""
        self._formats.pop(name, None)
