"""The kernel's internal events under ``events/ftrace/``: names, ids, formats.

These are the reference kernel's (Linux 6.18): read from its tracefs and kept
as package data (``data/ftrace_events.json``), in its readdir order. The
catalogue of core events leaves them out because they are not tracepoints:
the ring buffer's own record types (``function``, ``print``, ``raw_data``,
``kernel_stack``, ...), which no ``enable`` switches on.

What the kernel shows, and tpfs should:

- ``events/ftrace/`` (0755) holds only the event directories: no ``enable``,
  no ``filter``.
- each event directory (0755) holds ``format`` (0440); ``id`` (0440) only for
  the two events with a registration (``function`` and ``print``), though
  every format names its ID; ``trigger`` (0640) only for ``print``, whose
  trigger file takes triggers as the other events' do (and, as ``hist``
  triggers go, a ``hist`` after ``id``: this kernel has none). None has
  ``enable`` or ``filter``. ``EventDir.files`` keeps each directory's
  entries in the kernel's readdir order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

MODE_DIR = 0o755
MODE_FORMAT = 0o440
MODE_ID = 0o440
MODE_TRIGGER = 0o640
SYSTEM = "ftrace"


@dataclass(frozen=True, slots=True)
class FtraceEvent:
    """One internal event: its directory's entries and its format text."""

    name: str
    id: int
    #: The directory's files, in the kernel's readdir order.
    files: tuple[str, ...]
    format: str


@cache
def ftrace_events() -> tuple[FtraceEvent, ...]:
    """Every ``events/ftrace/`` directory of the reference kernel, in its listing order."""
    raw = resources.files("tpfs.tracefs").joinpath("data/ftrace_events.json").read_text()
    doc = json.loads(raw)
    return tuple(FtraceEvent(e["name"], int(e["id"]), tuple(e["files"]), e["format"])
                 for e in doc["events"])


def ftrace_event(name: str) -> FtraceEvent:
    """One event by name; KeyError if the kernel has none of that name."""
    for event in ftrace_events():
        if event.name == name:
            return event
    raise KeyError(name)
