"""What each trigger does when its event fires and its filter passes (a trigger
command's ``func``, from ``kernel/trace/trace_events_trigger.c``).

``traceon`` and ``traceoff`` set the instance's ``tracing_on``; ``stacktrace``
records an ``ftrace:kernel_stack`` event (empty: tpfs has no kernel stack to
walk); ``enable_event`` and ``disable_event`` soft-enable or soft-disable
their target. Each acts, and counts against its ``:N``, only when it changes
something. Hist triggers are not here: they aggregate (``hist``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..trace.record import KERNEL_STACK_FORMAT, encode_stack
from ..trace.trace import TraceArray
from .events import EventLayer
from .firing import Firing
from .trigger import Trigger

Action = Callable[[Trigger, Firing, EventLayer, TraceArray], None]


def _traceon(trigger: Trigger, firing: Firing, layer: EventLayer, trace: TraceArray) -> None:
    if trigger.take(trace.tracing.tracing_on):
        trace.tracing.tracing_on = True


def _traceoff(trigger: Trigger, firing: Firing, layer: EventLayer, trace: TraceArray) -> None:
    if trigger.take(not trace.tracing.tracing_on):
        trace.tracing.tracing_on = False


def _stacktrace(trigger: Trigger, firing: Firing, layer: EventLayer, trace: TraceArray) -> None:
    if trigger.take(False):
        trace.record(firing.cpu, encode_stack(pid=firing.pid), firing.comm,
                     "ftrace", KERNEL_STACK_FORMAT, firing.ts)


def _soft(disable: bool) -> Action:
    """``enable_event`` (``disable`` False) or ``disable_event`` of the trigger's target."""

    def action(trigger: Trigger, firing: Firing, layer: EventLayer, trace: TraceArray) -> None:
        assert trigger.target is not None
        if trigger.take(layer.soft_disabled(trigger.target) == disable):
            layer.set_soft_disabled(trigger.target, disable)

    return action


#: Each trigger command's ``func``, by the command's name.
ACTIONS: dict[str, Action] = {
    "traceon": _traceon,
    "traceoff": _traceoff,
    "stacktrace": _stacktrace,
    "enable_event": _soft(False),
    "disable_event": _soft(True),
}


def act(trigger: Trigger, firing: Firing, layer: EventLayer, trace: TraceArray) -> None:
    """One trigger's ``func``: each acts, and counts, only when it changes something."""
    ACTIONS[trigger.command](trigger, firing, layer, trace)
