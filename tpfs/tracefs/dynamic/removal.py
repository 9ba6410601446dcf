"""Removal lines of the dynamic-event files: ``-:[GRP/]EVENT [PLACE [ARGS]]``.

``dyn_event_release`` reads the name, and a kind's ``match`` asks the rest:
with a place and arguments, only the places that show them go.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from .probes import ProbeError, ProbeEvent, words_of


@dataclass(frozen=True, slots=True)
class Removal:
    """A ``-:[GRP/]EVENT [PLACE [ARGS]]`` line: what it removes (group None: any
    group; with a place and arguments, only the places that show them)."""

    group: str | None
    event: str
    words: tuple[str, ...] = ()

    def matches(self, probe: ProbeEvent) -> bool:
        """``trace_probe_match_command_args``, after the place: each word given is
        the argument at its position, as the listing shows it."""
        if not self.words:
            return True
        if self.words[0] != probe.place or len(self.words) - 1 > len(probe.args):
            return False
        return all(w == f"{a.name}={a.comm}" for w, a in zip(self.words[1:], probe.args,
                                                             strict=False))


def parse_removal(line: str, bang: bool = False) -> Removal | None:
    """``-:[GRP/]EVENT`` (``dyn_event_release``), or None when the line defines
    instead. With ``bang`` (``dynamic_events``), a line starting with ``!`` removes
    too, the event named after its first colon: ``!p:GRP/EVENT PLACE ...``."""
    words = words_of(line)
    if not words or not (words[0].startswith("-") or (bang and words[0].startswith("!"))):
        return None
    if words[0][0] == "-":
        if words[0][1:2] != ":":
            raise ProbeError(errno.EINVAL)
        name = words[0][2:]
    else:
        colon = words[0].find(":")
        if colon < 0:
            raise ProbeError(errno.EINVAL)
        name = words[0][colon + 1:]
    group, slash, event = name.partition("/") if "/" in name else ("", "", name)
    if not slash and not event:
        raise ProbeError(errno.EINVAL)
    return Removal(group if slash else None, event, tuple(words[1:]))  # no match: ENOENT
