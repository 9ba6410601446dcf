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

Commands are chosen through ``COMMANDS``, a registry of ``EventCommand``
objects as the kernel's ``trigger_commands`` list of ``struct
event_command``: each says its type, its flags and how its parameters are
read. ``hist`` is one of them, its parameters read by the hist room
(``hist/``). This kernel has no ``snapshot``, ``enable_hist`` or
``disable_hist`` (its trigger files list none): a command for them is one
more entry.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field

from ...kernel.errors import TpfsError
from ..kstr import SPACES, kstrtoull
from .filter import Predicate

TRIGGER_HELP = "# Available triggers:\n# traceon traceoff stacktrace enable_event disable_event\n"

UNLIMITED = -1
#: What a command's parameters say: the event it names (``enable_event``'s
#: ``S:E``), its count as written, its filter (after ``if``); each may be None.
Params = tuple[str | None, str | None, str | None]
#: Reads a command's parameters (None: there are none), given the whole line
#: (for errors) and which events there are.
ParamParser = Callable[[str | None, str, Callable[[str], bool]], Params]


@dataclass(frozen=True, slots=True)
class EventCommand:
    """``struct event_command``: a trigger command. Commands of one
    ``trigger_type`` exclude each other on an event (with one target);
    ``post`` ones (``EVENT_CMD_FL_POST_TRIGGER``) act after the event is
    recorded; ``params`` reads the parameters, None for a command another
    room parses whole (``hist``)."""

    name: str
    trigger_type: str
    params: ParamParser | None
    post: bool = False


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
        return COMMANDS[self.command].trigger_type, self.target

    @property
    def post(self) -> bool:
        """Whether it acts only once the event is recorded (when it needs the record)."""
        return COMMANDS[self.command].post

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


def _count_params(rest: str | None, text: str, exists: Callable[[str], bool]) -> Params:
    """``event_trigger_parse``: an optional count, then the filter."""
    if rest is not None and rest[0].isdigit():
        count_text, cond = _param_and_filter(rest)
        return None, count_text, cond
    return None, None, rest


def _enable_params(rest: str | None, text: str, exists: Callable[[str], bool]) -> Params:
    """``event_enable_trigger_parse``: ``S:E``, an optional count, then the filter."""
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
    return target, count_text, cond


#: ``trigger_commands``: every command, by name.
COMMANDS = {cmd.name: cmd for cmd in (
    EventCommand("traceon", "onoff", _count_params),
    EventCommand("traceoff", "onoff", _count_params, post=True),
    EventCommand("stacktrace", "stacktrace", _count_params, post=True),
    EventCommand("enable_event", "enable", _enable_params),
    EventCommand("disable_event", "enable", _enable_params),
    EventCommand("hist", "hist", None),
)}


def find_command(word: str) -> tuple[EventCommand | None, bool]:
    """``trigger_process_regex``: the command a word names (``!`` before it: a
    removal), None for none."""
    remove = word.startswith("!")
    return COMMANDS.get(word[remove:]), remove


def hist_line(text: str) -> str | None:
    """A ``[!]hist`` command as the hist layer takes it (``hist:PARAMS``), or None
    for another command: the kernel's ``hist`` command gets its parameters
    after a ``:`` or a blank alike."""
    command, rest = split_command(text)
    cmd, _ = find_command(command)
    if cmd is None or cmd.params is not None:
        return None
    return command if rest is None else f"{command}:{rest}"


def parse_trigger(text: str, exists: Callable[[str], bool]) -> TriggerLine:
    """A trigger write without trailing blanks; ``exists`` says which events there are.

    Refuses as the kernel does, in its order: EINVAL for a bad command, target,
    count or filter keyword, ERANGE for a count over 64 bits.
    """
    word, rest = split_command(text)
    cmd, remove = find_command(word)
    if cmd is None or cmd.params is None:
        raise _bad(text)
    command = cmd.name
    target, count_text, cond = cmd.params(rest, text, exists)
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
