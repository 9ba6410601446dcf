"""What one trace instance keeps of one event: the kernel's ``struct trace_event_file``.

The kernel hangs one ``trace_event_file`` per (instance, event) off the
instance, holding the event's filter, its triggers and the flags of its
state (``EVENT_FILE_FL_SOFT_MODE``, ``_SOFT_DISABLED``, ``_WAS_ENABLED``...).
An ``EventLayer`` is one instance's view of the events, so it holds one
``EventFile`` per event name in one dict, made when the event first needs
state and dropped when it needs none. Whether the event is enabled is not
here: that is whether its probe is registered, read from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .filter import Predicate
from .trigger import Trigger


@dataclass(slots=True)
class EventFile:
    """One event's state in one instance."""

    #: What the ``filter`` file shows: the filter taken, or the text and error of
    #: the last refused one; None for ``none``.
    filter_text: str | None = None
    #: The filter compiled, when its text was taken (``filter`` of the file).
    predicate: Predicate | None = None
    #: The triggers but hist ones, newest first (``triggers`` list).
    triggers: list[Trigger] = field(default_factory=list)
    #: Soft-mode users (``sm_ref``): triggers on the event or naming it as target.
    soft_users: int = 0
    #: ``EVENT_FILE_FL_SOFT_DISABLED``: the probe runs but records nothing.
    soft_disabled: bool = False
    #: ``EVENT_FILE_FL_WAS_ENABLED``: enabled (or soft-enabled) since it came.
    was_enabled: bool = False

    @property
    def soft_mode(self) -> bool:
        """``EVENT_FILE_FL_SOFT_MODE``: it has soft-mode users."""
        return self.soft_users > 0

    @property
    def idle(self) -> bool:
        """Whether it holds nothing, so it may be forgotten."""
        return (self.filter_text is None and not self.triggers and not self.soft_users
                and not self.soft_disabled and not self.was_enabled)
