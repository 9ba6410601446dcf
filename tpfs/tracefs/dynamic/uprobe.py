"""Uprobe events (``trace_uprobe.c``): ``p``/``r`` lines on an offset in a file.

``p|r[:[GRP/][EVENT]] PATH:OFFSET[%return][(REF)] [FETCHARGS]``: the path must
name a regular file; nothing runs it in tpfs, so the event fires only through
``fire``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from .kind import CreateContext, DynEvent
from .kprobe import KprobeKind
from .probes import (
    UPROBE_GROUP,
    ArgContext,
    ProbeError,
    ProbeEvent,
    group_event,
    is_uprobe_place,
    parse_args,
    probe_err,
    probe_head,
    probe_number,
    sanitize,
)

UPROBE = "uprobe"


def parse_uprobe(words: list[str], is_return: bool, head: str, hpos: int, tpos: int,
                 files: Callable[[str], bool | None] | None) -> ProbeEvent:
    """``trace_uprobe_create``'s place: ``PATH:OFFSET[(REF_CTR_OFFSET)][%return]``,
    checked in its order: the file, the reference counter, the suffix, the offset."""
    path, colon, arg = words[1].rpartition(":")
    if not colon or not path or not arg[:1].isdigit():
        raise ProbeError(errno.EINVAL)  # -ECANCELED: no uprobe, and nothing logged
    apos = tpos + len(path) + 1
    if files is not None:
        kind = files(path)
        if kind is None:
            raise probe_err("Failed to find the given file", tpos, errno.ENOENT)
        if not kind:
            raise probe_err("Not a regular file", tpos)
    ref = None
    opened = arg.find("(")
    if opened >= 0:
        closed = arg.find(")", opened)
        if closed < 0:
            raise probe_err("Reference counter brace is not closed", apos + len(arg))
        if closed + 1 < len(arg):
            raise probe_err("Reference counter has wrong suffix", apos + closed + 1)
        ref = probe_number(arg[opened + 1:closed], "Invalid reference counter offset",
                      apos + opened + 1)
        arg = arg[:opened]
    percent = arg.find("%")
    if percent >= 0:
        if arg[percent:] != "%return":
            raise probe_err("Invalid probed address suffix", apos + percent)
        is_return, arg = True, arg[:percent]
    offset = probe_number(arg, "Invalid uprobe offset", apos)
    group, event = group_event(head, hpos, UPROBE_GROUP)
    default = sanitize(f"p_{os.path.basename(path)}_0x{offset:x}")  # "p" for return too
    place = f"{path}:0x{offset:016x}" + ("" if ref is None else f"(0x{ref:x})")
    ctx = ArgContext("uprobe", is_return, False, {})
    args = parse_args(words, 2, ctx)
    return ProbeEvent("uprobe", group, event or default, is_return, place, args)


class UprobeKind(KprobeKind):
    """``trace_uprobe_ops``: counted and matched as a kprobe is."""

    name = UPROBE
    log_as = "trace_uprobe"

    def parse(self, line: str, ctx: CreateContext) -> DynEvent | None:
        head = probe_head(line, "pr")
        if head is None:
            return None
        if not is_uprobe_place(head.target):
            return None
        head.check_name()
        # trace_uprobe_create reads a name only right after the letter ("r2:x" has none)
        return parse_uprobe(head.words, head.letter == "r", "" if head.kind_text[1:] else head.head,
                            head.hpos, head.tpos, ctx.files)


UPROBE_KIND = UprobeKind()
