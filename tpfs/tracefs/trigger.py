"""Event triggers (``events/S/E/trigger``), as ``trace_events_trigger.c`` parses them.

A trigger is a command (``traceon``, ``traceoff``, ``stacktrace``,
``enable_event:S:E``, ``disable_event:S:E``), an optional ``:COUNT`` and an
optional ``if FILTER``; ``!`` before it removes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRIGGER_HELP = "# Available triggers:\n# traceon traceoff stacktrace enable_event disable_event\n"

_TRIGGER_RE = re.compile(
    r"(?P<cmd>traceon|traceoff|stacktrace|(?:enable|disable)_event:(?P<target>\w+:\w+))"
    r"(?::(?P<count>\d+))?(?:\s+if\s+(?P<filter>.+))?")


@dataclass(slots=True)
class Trigger:
    command: str
    count: int | None = None

    def render(self) -> str:
        tail = "unlimited" if self.count is None else f"count={self.count}"
        return f"{self.command}:{tail}"


@dataclass(frozen=True, slots=True)
class TriggerLine:
    """One write to a trigger file: what to add or (``remove``) take away."""

    trigger: Trigger
    target: str | None  # the event enable_event/disable_event names
    remove: bool


def parse_trigger(text: str) -> TriggerLine | None:
    """A trigger write without surrounding blanks; None if it is not one."""
    remove = text.startswith("!")
    m = _TRIGGER_RE.fullmatch(text.lstrip("!"))
    if m is None:
        return None
    count = int(m["count"]) if m["count"] else None
    return TriggerLine(Trigger(m["cmd"], count), m["target"], remove)
