"""Synthetic events as a dynamic-event kind (``trace_events_synth.c``'s ``synth_event_ops``).

A definition is ``s:[synthetic/]NAME FIELD[;FIELD...]`` in ``dynamic_events``,
or the same without ``s:`` in ``synthetic_events``; the hist triggers' actions
fire it. While a hist trigger's action names it, it is busy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events.synth import SynthError, SynthEvent, parse_synth_event
from ..trace.record import SYNTH_SYSTEM
from ..trace.settings import log_error
from .kind import CreateContext, DynEvent, DynEventKind

if TYPE_CHECKING:
    from .dynevents import DynamicEvents

SYNTH = "synth"


@dataclass(frozen=True, slots=True)
class Synthetic:
    """A synthetic event's definition, as the dynamic event list holds it."""

    synth: SynthEvent

    @property
    def name(self) -> str:
        return f"{SYNTH_SYSTEM}:{self.synth.name}"

    kind = SYNTH

    def show(self) -> str:
        return f"s:{SYNTH_SYSTEM}/{self.synth.show()}"

    def format(self, event_id: int, common_fields: str) -> str:
        return self.synth.format(event_id, common_fields)


class SynthKind(DynEventKind):
    """``synth_event_ops``."""

    name = SYNTH
    log_as = "synthetic_events"
    logs_name_in_use = False

    def parse(self, line: str, ctx: CreateContext) -> DynEvent | None:
        if not (line.startswith("s:") or line.startswith("s ")):
            return None
        return self.definition(line, ctx)

    def definition(self, line: str, ctx: CreateContext) -> Synthetic:
        """A definition of either form (``synthetic_events`` takes it without ``s:``)."""
        try:
            return Synthetic(parse_synth_event(line, ctx.synth_events))
        except SynthError as exc:
            if exc.message is not None:
                log_error(ctx.error_log, self.log_as, exc.message, line, exc.pos)
            raise

    def is_busy(self, definition: DynEvent, events: DynamicEvents) -> bool:
        assert isinstance(definition, Synthetic)
        return events.synth_in_use(definition.synth.name)

    def added(self, definition: DynEvent, events: DynamicEvents) -> None:
        assert isinstance(definition, Synthetic)
        events.synth_events[definition.synth.name] = definition.synth

    def free(self, definition: DynEvent, events: DynamicEvents) -> None:
        assert isinstance(definition, Synthetic)
        del events.synth_events[definition.synth.name]


SYNTH_KIND = SynthKind()
