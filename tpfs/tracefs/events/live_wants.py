"""Which of the host's events some tpfs instance wants now: what ``--live`` asks the kernel for.

An event is enabled in a tpfs instance exactly when that instance's event
probe (``trace_event_raw_event_EVENT``) is registered on its name, whether
by ``enable``, ``set_event``, a soft-mode user such as a trigger's
``enable_event`` or an enabled eprobe on it (``enable_eprobe``), or a tool
doing any of these. The registry tells ``LiveWants`` every name's new probe
array (its ``on_probes``); when the first event probe of a host event arrives
it asks its sink to want the event, when the last goes to let it go. Dynamic
and module events of tpfs's own are never asked for: only names of the
host's catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ...kernel.registry import ProbeArray
from .events import event_probe


class LiveSink(Protocol):
    """What follows the wants: the kernel's instance that records the events."""

    def want(self, name: str) -> None: ...

    def drop(self, name: str) -> None: ...


class LiveWants:
    """The host events enabled somewhere in tpfs, told to a sink as they change."""

    def __init__(self, hosted: Iterable[str], sink: LiveSink) -> None:
        #: The host's events by name, with the function of each one's event probes.
        self.hosted = {name: event_probe(name).func for name in hosted
                       if not name.startswith("ftrace:")}
        self.sink = sink
        #: The host events asked of the kernel.
        self.wanted: set[str] = set()

    def probes_changed(self, name: str, funcs: ProbeArray) -> None:
        """The registry's ``on_probes``: ``name`` now has the probes ``funcs``."""
        own = self.hosted.get(name)
        if own is None:
            return  # tpfs's own event
        wanted = any(probe.func == own for probe in funcs)
        if wanted and name not in self.wanted:
            self.wanted.add(name)
            self.sink.want(name)
        elif not wanted and name in self.wanted:
            self.wanted.discard(name)
            self.sink.drop(name)

    def recording(self) -> set[str]:
        """The host events whose records some tpfs instance takes now."""
        return set(self.wanted)
