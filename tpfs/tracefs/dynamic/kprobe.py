"""Kprobe events (``trace_kprobe.c``): ``p``/``r`` lines on a kernel symbol or address.

``p[:[GRP/][EVENT]] [MOD:]SYM[+OFFS]|ADDR [FETCHARGS]`` and its return form
``r[MAXACTIVE]...``. tpfs has no kernel text: a symbol is taken by its form,
and checked against the host's symbol names when it knows them (one of that
name, not several).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..kstr import kstrtoull
from .kind import CreateContext, DynEvent, DynEventKind
from .probes import (
    KPROBE_GROUP,
    SYMBOL_RE,
    UINT_MAX,
    ArgContext,
    ProbeEvent,
    group_event,
    is_uprobe_place,
    maxactive_of,
    parse_args,
    probe_err,
    probe_head,
    sanitize,
)
from .removal import Removal

if TYPE_CHECKING:
    from .dynevents import DynamicEvents

KPROBE = "kprobe"


def parse_kprobe(words: list[str], is_return: bool, maxactive: int, head: str, hpos: int,
                 tpos: int, same_symbols: Callable[[str], int | None] | None) -> ProbeEvent:
    """``__trace_kprobe_create`` after the head: the place, its name, the arguments."""
    target = words[1]
    if target.endswith("%return"):
        if is_return:
            raise probe_err("Invalid probed address suffix", tpos + len(target) - 7)
        is_return, target = True, target[:-7]
    offset = 0
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|[0-9]+", target):
        place = target
        default = f"{'r' if is_return else 'p'}_0x{int(target, 0):x}"
        at_entry = False
    else:
        symbol, plus, offs = target.partition("+")
        if plus:
            try:
                offset = kstrtoull(offs)
            except (ValueError, OverflowError):
                raise probe_err("Invalid probed address or symbol", tpos) from None
            if offset > UINT_MAX:
                raise probe_err("Invalid probed address or symbol", tpos)
        if not SYMBOL_RE.fullmatch(symbol):
            raise probe_err("Invalid probed address or symbol", tpos)
        count = None if same_symbols is None else same_symbols(symbol)
        if count == 0:  # validate_probe_symbol
            raise probe_err("Invalid probed address or symbol", tpos)
        if count is not None and count > 1:
            raise probe_err("The symbol is not unique", tpos)
        if is_return and offset:
            raise probe_err("Retprobe address must be an function entry", tpos)
        place = f"{symbol}+{offset}" if offset else symbol
        default = sanitize(f"{'r' if is_return else 'p'}_{symbol}_{offset}")
        at_entry = offset == 0
    group, event = group_event(head, hpos, KPROBE_GROUP)
    ctx = ArgContext("kprobe", is_return, at_entry, {})
    args = parse_args(words, 2, ctx)
    return ProbeEvent("kprobe", group, event or default, is_return, place, args, maxactive)


class KprobeKind(DynEventKind):
    """``trace_kprobe_ops``."""

    name = KPROBE
    log_as = "trace_kprobe"

    def parse(self, line: str, ctx: CreateContext) -> DynEvent | None:
        head = probe_head(line, "pr")
        if head is None:
            return None
        if is_uprobe_place(head.target):
            return None
        head.check_name()
        maxactive = maxactive_of(head.kind_text)
        return parse_kprobe(head.words, head.letter == "r", maxactive, head.head, head.hpos,
                            head.tpos, ctx.same_symbols)

    def match(self, definition: DynEvent, removal: Removal) -> bool:
        assert isinstance(definition, ProbeEvent)
        return removal.matches(definition)

    def added(self, definition: DynEvent, events: DynamicEvents) -> None:
        events.profile_hits[definition.name] = 0

    def free(self, definition: DynEvent, events: DynamicEvents) -> None:
        events.profile_hits.pop(definition.name, None)


KPROBE_KIND = KprobeKind()
