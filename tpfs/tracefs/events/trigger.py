"""Event triggers (``events/S/E/trigger``), parsed as ``trace_events_trigger.c`` parses them.

A trigger is a command (``traceon``, ``traceoff``, ``stacktrace``,
``enable_event:S:E``, ``disable_event:S:E``), an optional ``:COUNT`` (the
kernel's ``kstrtoul``, shown back as a signed long: ``-1`` is unlimited) and
an optional ``if FILTER``, which the event layer checks against the
triggering event's fields and compiles into ``test``; ``!`` before it
removes it. Commands of one type exclude each other on an event:
``traceon`` and ``traceoff`` are one type, and so are ``enable_event`` and
``disable_event`` of one target. What a trigger does when its event fires
is the firing path's (``fire.py``); here is when it may act and how it counts.
``hist`` commands are recognised here and handed to the hist layer (``hist.py``).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field

from ...kernel.errors import TpfsError
from ..kstr import SPACES, kstrtoull
from .filter import Predicate

TRIGGER_HELP = "# Available triggers:\n# traceon traceoff stacktrace enable_event disable_event\n"

#: The kernel's ``trigger_type`` of each command.
_TYPES = {"traceon": "onoff", "traceoff": "onoff", "stacktrace": "stacktrace",
          "enable_event": "enable", "disable_event": "enable"}
#: ``EVENT_CMD_FL_POST_TRIGGER``: these act after the event is recorded.
_POST = ("traceoff", "stacktrace")
UNLIMITED = -1


@dataclass(slots=True)
class Trigger:
    command: str
    target: str | None = None  # the S:E that enable_event/disable_event names
    count: int = UNLIMITED  # counts down as the trigger acts
    filter: str | None = None  # the text after "if", as written
    test: Predicate | None = field(default=None, compare=False, repr=False)  # the filter's

    @property
    def kind(self) -> tuple[str, str | None]:
        """Triggers of one kind exclude each other on an event."""
        return _TYPES[self.command], self.target

    @property
    def post(self) -> bool:
        """Whether it acts only once the event is recorded (when it needs the record)."""
        return self.command in _POST

    @property
    def needs_record(self) -> bool:
        """``update_cond_flag``: a filter or a post trigger puts its event in
        ``TRIGGER_COND`` mode, where every trigger waits for the record."""
        return self.filter is not None or self.post

    def take(self, redundant: bool) -> bool:
        """Whether the trigger acts now, counting the act down if it has a count.

        ``redundant``: what it would do is done already (``traceon`` with
        tracing on, ``enable_event`` of an enabled event): the kernel's
        counting triggers then skip without counting.
        """
        if redundant or not self.count:
            return False
        if self.count != UNLIMITED:
            self.count -= 1
        return True

    def render(self) -> str:
        head = self.command if self.target is None else f"{self.command}:{self.target}"
        tail = ":unlimited" if self.count == UNLIMITED else f":count={self.count}"
        return head + tail + ("" if self.filter is None else f" if {self.filter}")


@dataclass(frozen=True, slots=True)
class TriggerLine:
    """One write to a trigger file: what to add or (``remove``) take away."""

    trigger: Trigger
    remove: bool


def _bad(text: str) -> TpfsError:
    return TpfsError(errno.EINVAL, f"bad trigger {text!r}")


def _strsep(text: str, delims: str) -> tuple[str, str | None]:
    """C's ``strsep``: the text up to the first delimiter, and the rest (None if none)."""
    cut = next((i for i, c in enumerate(text) if c in delims), None)
    return (text, None) if cut is None else (text[:cut], text[cut + 1:])


def _param_and_filter(text: str) -> tuple[str, str | None]:
    """``event_trigger_separate_filter``: the first word, then the rest without blanks."""
    param, rest = _strsep(text, " \t")
    rest = None if rest is None else rest.lstrip(SPACES) or None
    return param, rest


def split_command(text: str) -> tuple[str, str | None]:
    """``trigger_process_regex``: the command word (``!`` kept) and its parameters,
    None when there are none."""
    command, rest = _strsep(text.lstrip(SPACES), ": \t")
    return command, None if rest is None else rest.lstrip(SPACES) or None


def hist_line(text: str) -> str | None:
    """A ``[!]hist`` command as the hist layer takes it (``hist:PARAMS``), or None
    for another command: the kernel's ``hist`` command gets its parameters
    after a ``:`` or a blank alike."""
    command, rest = split_command(text)
    if command not in ("hist", "!hist"):
        return None
    return command if rest is None else f"{command}:{rest}"


def parse_trigger(text: str, exists: Callable[[str], bool]) -> TriggerLine:
    """A trigger write without trailing blanks; ``exists`` says which events there are.

    Refuses as the kernel does, in its order: EINVAL for a bad command, target,
    count or filter keyword, ERANGE for a count over 64 bits.
    """
    command, rest = split_command(text)
    remove = command.startswith("!")
    command = command[remove:]
    if command not in _TYPES:
        raise _bad(text)
    target = None
    count_text: str | None = None
    cond = None
    if _TYPES[command] == "enable":
        if rest is None:
            raise _bad(text)
        param, cond = _param_and_filter(rest)
        system, more = _strsep(param, ":")
        if more is None:
            raise _bad(text)
        event, count_text = _strsep(more, ":")
        target = f"{system}:{event}"
        if not exists(target):
            raise _bad(text)
    elif rest is not None and rest[0].isdigit():
        count_text, cond = _param_and_filter(rest)
    else:
        cond = rest
    if remove:
        return TriggerLine(Trigger(command, target), True)
    count = UNLIMITED
    if count_text is not None:
        number = count_text.split(":", 1)[0]
        if not number:
            raise _bad(text)
        try:
            count = kstrtoull(number)
        except ValueError:
            raise _bad(text) from None
        except OverflowError:
            raise TpfsError(errno.ERANGE, f"trigger count {number} out of range") from None
        count -= (count >> 63) << 64  # shown as the kernel's signed long
    if cond is not None:
        keyword, cond = _strsep(cond, " \t")
        if keyword != "if" or cond is None:
            raise _bad(text)
    return TriggerLine(Trigger(command, target, count, cond), False)
