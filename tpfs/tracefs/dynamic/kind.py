"""A kind of dynamic event as one object: the kernel's ``dyn_event_operations``.

Each kind (kprobe, uprobe, eprobe, synthetic) is a ``DynEventKind`` in its own
module, and ``dynevents.KINDS`` is the table of them. A line written to a
dynamic-events file is offered to the kinds that file takes, in the table's
order, as ``create_dyn_event`` offers it to each ``create``: a kind answers
None for a line that is not its own (``-ECANCELED``), a definition, or an
error it has logged under its own name. ``show`` is its line in the
listings, ``is_busy`` whether something besides an enabled event holds it,
``match`` whether a removal line names it, and ``added``/``free`` keep the
indexes the kind needs (a probe's hits, an eprobe's attached event, a
synthetic event's name) as a definition comes and goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..events.filter import Field
from ..events.synth import SynthEvent
from ..trace.settings import log_error
from .probes import ProbeError
from .removal import Removal

if TYPE_CHECKING:
    from .dynevents import DynamicEvents


class DynEvent(Protocol):
    """A definition, whatever its kind (``struct dyn_event``)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def show(self) -> str: ...

    def format(self, event_id: int, common_fields: str) -> str: ...


@dataclass(frozen=True, slots=True)
class CreateContext:
    """What a kind's ``create`` may ask of the system it defines events in."""

    error_log: list[str]
    #: Whether a uprobe's path is a regular file (None: nothing is there).
    files: Callable[[str], bool | None]
    #: An existing event's fields (None: no such event), for eprobes.
    event_fields: Callable[[str], Mapping[str, Field] | None]
    #: How many kernel symbols have a kprobe's symbol's name (None: unknown).
    same_symbols: Callable[[str], int | None] | None
    ncpus: int
    #: The synthetic events by bare name (a synthetic definition checks its fields).
    synth_events: MutableMapping[str, SynthEvent]


class DynEventKind:
    """One kind's operations; the defaults are those of a kind that needs nothing."""

    #: The kind's name, as definitions carry it.
    name: str = ""
    #: Where its errors go in ``error_log`` (``trace_probe_log_init``'s subsystem).
    log_as: str = ""
    #: Whether making an event of a name in use is logged (probes log it).
    logs_name_in_use: bool = True

    def parse(self, line: str, ctx: CreateContext) -> DynEvent | None:
        """The definition ``line`` makes, None if it is not this kind's."""
        raise NotImplementedError

    def create(self, line: str, ctx: CreateContext) -> DynEvent | None:
        """``parse``, its refusal logged as the kernel logs it."""
        try:
            return self.parse(line, ctx)
        except ProbeError as exc:
            if exc.message is not None:
                log_error(ctx.error_log, exc.log_as or self.log_as, exc.message,
                          exc.command or line, exc.pos)
            raise

    def show(self, definition: DynEvent) -> str:
        return definition.show()

    def is_busy(self, definition: DynEvent, events: DynamicEvents) -> bool:
        return False

    def holds(self, definition: DynEvent) -> str | None:
        """The event this definition holds while it exists (an eprobe's)."""
        return None

    def match(self, definition: DynEvent, removal: Removal) -> bool:
        return True

    def added(self, definition: DynEvent, events: DynamicEvents) -> None:
        """A definition made a new event."""

    def free(self, definition: DynEvent, events: DynamicEvents) -> None:
        """The event of this (first) definition is gone."""
