"""Event probes (``trace_eprobe.c``): ``e`` lines on an existing event.

``e[:[GRP/][EVENT]] SYS.EVENT [FETCHARGS] [if FILTER]``: the eprobe fires
when the event it attaches to fires (and its filter, over that event's
record, matches), its arguments copied from that record's fields. While it
exists it holds that event: the event cannot be removed.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..events.filter import Field, check_filter
from .kind import CreateContext, DynEvent, DynEventKind
from .probes import (
    EPROBE_GROUP,
    ArgContext,
    ProbeArg,
    ProbeError,
    ProbeEvent,
    group_event,
    maxactive_of,
    offset_of,
    parse_args,
    probe_err,
    probe_head,
)
from .removal import Removal

if TYPE_CHECKING:
    from .dynevents import DynamicEvents

EPROBE = "eprobe"


def parse_eprobe(words: list[str], head: str, hpos: int,
                 event_fields: Callable[[str], Mapping[str, Field] | None] | None,
                 ncpus: int) -> ProbeEvent:
    target = words[1]
    tpos = offset_of(words, 1)
    # traceprobe_parse_event_name: SYSTEM/EVENT or SYSTEM.EVENT, both needed
    cut = target.find("/") if "/" in target else target.find(".")
    system, event_name = (target[:cut], target[cut + 1:]) if cut >= 0 else ("", target)
    if cut == 0:
        raise probe_err("Group name is not specified", tpos)
    if not system or not event_name:
        raise probe_err("This requires both group and event name to attach", tpos)
    group_event(f"{system}/{event_name}", tpos, EPROBE_GROUP)  # names as C identifiers
    attached = f"{system}:{event_name}"
    fields = None if event_fields is None else event_fields(attached)
    if fields is None:  # alloc_event_probe's ENODEV, logged as BAD_ATTACH_EVENT
        raise probe_err("Attached event does not exist", tpos, errno.ENODEV)
    group, event = group_event(head, hpos, EPROBE_GROUP)
    words, filter_text = _eprobe_filter(words, fields, ncpus)
    ctx = ArgContext("eprobe", False, False, fields)
    args = parse_args(words, 2, ctx)
    return ProbeEvent("eprobe", group, event or event_name, False, target, args,
                      attached=attached, filter=filter_text)


def _eprobe_filter(words: list[str], fields: Mapping[str, Field],
                   ncpus: int) -> tuple[list[str], str | None]:
    """``trace_eprobe_parse_filter``: the words before ``if``, and the filter after
    it, checked against the attached event as an event filter is (its error is
    logged as a filter's); parsed before the arguments, as the kernel does."""
    if "if" not in words[2:]:
        return words, None
    at = words.index("if", 2)
    rule = " ".join(words[at + 1:])
    if not rule:
        raise probe_err("No filter rule after 'if'", offset_of(words, len(words)))
    err = check_filter(rule, fields, ncpus)
    if err is not None:
        raise ProbeError(err.errno, err.message, err.pos if err.code else 0,
                         "event filter parse error", rule)
    return words[:at], rule


def fetch_value(arg: ProbeArg, record: bytes) -> int | str:
    """What an eprobe argument takes from its attached event's ``record``: the
    field it names, read as the field is laid out. Anything it would read from
    memory or registers tpfs does not have: zero, or an empty string."""
    src = arg.source
    if src is None or arg.comm.startswith(("+", "-")):
        return "" if arg.type.is_string else 0
    if src.filter_type not in ("dyn_string", "rdyn_string", "static_string"):
        value = int.from_bytes(record[src.offset:src.offset + src.size], "little",
                               signed=src.signed)
        return value if not arg.type.is_string else str(value)
    return src.text(record).decode("latin-1") if arg.type.is_string else 0


class EprobeKind(DynEventKind):
    """``eprobe_dyn_event_ops``."""

    name = EPROBE
    log_as = "event_probe"

    def parse(self, line: str, ctx: CreateContext) -> DynEvent | None:
        head = probe_head(line, "e")
        if head is None:
            return None
        head.check_name()
        maxactive_of(head.kind_text)  # refused as a kprobe's would be
        return parse_eprobe(head.words, head.head, head.hpos, ctx.event_fields, ctx.ncpus)

    def holds(self, definition: DynEvent) -> str | None:
        assert isinstance(definition, ProbeEvent)
        return definition.attached

    def match(self, definition: DynEvent, removal: Removal) -> bool:
        assert isinstance(definition, ProbeEvent)
        return removal.matches(definition)

    def added(self, definition: DynEvent, events: DynamicEvents) -> None:
        assert isinstance(definition, ProbeEvent) and definition.attached is not None
        events.attached.setdefault(definition.attached, []).append(definition)
        events.eprobe_hosts[definition.name] = definition.attached

    def free(self, definition: DynEvent, events: DynamicEvents) -> None:
        assert isinstance(definition, ProbeEvent) and definition.attached is not None
        same = events.attached[definition.attached]
        same.remove(definition)
        if not same:
            del events.attached[definition.attached]
        events.eprobe_hosts.pop(definition.name, None)


EPROBE_KIND = EprobeKind()
