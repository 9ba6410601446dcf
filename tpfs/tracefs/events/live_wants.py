"""Which of the host's events some tpfs instance wants now: what ``--live`` asks the kernel for.

An event is enabled in a tpfs instance exactly when that instance's event
probe (``trace_event_raw_event_EVENT``) is registered on its name, whether
by ``enable``, ``set_event``, a soft-mode user such as a trigger's
``enable_event``, or a tool doing any of these. The registry tells
``LiveWants`` every name's new probe array (its ``on_probes``); when the
first event probe of a host event arrives it asks its sink to want the event,
when the last goes to let it go. Dynamic and module events of tpfs's own are
never asked for: only names of the host's catalogue.

An enabled eprobe wants the host event it is attached to as well: in the
kernel, enabling an eprobe registers a trigger on its attached event, which
makes that event fire (``enable_eprobe``). The eprobe's own event probe
arriving on its name counts as a want of its attached event, and going as
the end of it; the host event is asked for while its own probe or an
enabled eprobe on it wants it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from ...kernel.registry import ProbeArray
from .events import event_probe


class LiveSink(Protocol):
    """What follows the wants: the kernel's instance that records the events."""

    def want(self, name: str) -> None: ...

    def drop(self, name: str) -> None: ...


class LiveWants:
    """The host events enabled somewhere in tpfs, told to a sink as they change."""

    def __init__(self, hosted: Iterable[str], sink: LiveSink,
                 attached: Callable[[str], str | None]) -> None:
        #: The host's events by name, with the function of each one's event probes.
        self.hosted = {name: event_probe(name).func for name in hosted
                       if not name.startswith("ftrace:")}
        self.sink = sink
        #: The event an eprobe is attached to, by the eprobe's name (None: no eprobe).
        self.attached = attached
        #: The host events asked of the kernel.
        self.wanted: set[str] = set()
        #: The host events whose own event probe is registered in some tpfs instance.
        self.enabled: set[str] = set()
        #: The eprobes enabled in some tpfs instance, with the host event each is on.
        self.eprobes: dict[str, str] = {}

    def probes_changed(self, name: str, funcs: ProbeArray) -> None:
        """The registry's ``on_probes``: ``name`` now has the probes ``funcs``."""
        own = self.hosted.get(name)
        if own is not None:
            if any(probe.func == own for probe in funcs):
                self.enabled.add(name)
            else:
                self.enabled.discard(name)
            self._update(name)
            return
        mine = event_probe(name).func
        on = any(probe.func == mine for probe in funcs)
        # An eprobe going keeps the event it was enabled on (its definition may be gone).
        host = self.eprobes.pop(name, None) if not on else self.attached(name)
        if host is None or host not in self.hosted:
            return
        if on:
            self.eprobes[name] = host
        self._update(host)

    def recording(self) -> set[str]:
        """The events whose being enabled in a tpfs instance makes it record live
        records: the host events asked for, and the enabled eprobes on them."""
        return self.wanted | self.eprobes.keys()

    def _update(self, name: str) -> None:
        """Tell the sink if whether ``name`` is wanted changed."""
        wanted = name in self.enabled or name in self.eprobes.values()
        if wanted and name not in self.wanted:
            self.wanted.add(name)
            self.sink.want(name)
        elif not wanted and name in self.wanted:
            self.wanted.discard(name)
            self.sink.drop(name)
