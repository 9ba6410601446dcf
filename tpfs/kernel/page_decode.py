"""Reading a page that another ring buffer wrote: the kernel's ``trace_pipe_raw``.

``ring_buffer_format`` writes pages as tpfs's own buffers make them; this
reads any page as ``ring_buffer_read_page`` hands it out, the way
libtraceevent's kbuffer does: the page's time stamp and commit word (the
"events were lost" bits and, when stored, their count after the data), then
each record's time delta, time extends, absolute time stamps and padding,
yielding every data record's time stamp and payload. A malformed page ends
the walk where it stops making sense: the bytes come from outside.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .ring_buffer_format import (
    BUF_PAGE_HDR_SIZE,
    RB_MISSED_EVENTS,
    RB_MISSED_STORED,
    RINGBUF_TYPE_DATA_TYPE_LEN_MAX,
    RINGBUF_TYPE_PADDING,
    RINGBUF_TYPE_TIME_EXTEND,
    TS_SHIFT,
)

RINGBUF_TYPE_TIME_STAMP = 31
#: The commit word's bits that are flags, not the length of the data.
_MISSED_FLAGS = RB_MISSED_EVENTS | RB_MISSED_STORED
#: ``TS_MSB``: the top bits an absolute time stamp record leaves to the page's.
_TS_MSB = 0xF8 << 56
_TS_ABS_WRAP = 1 << 59
_HEADER = struct.Struct("<QQ")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class PageEvents:
    """What one page holds: the events lost before it (-1: some, count unknown)
    and each data record as (time stamp, payload)."""

    lost: int
    events: list[tuple[int, bytes]]


def decode_page(page: bytes) -> PageEvents:
    """The records of one ``trace_pipe_raw`` page, in order."""
    if len(page) < BUF_PAGE_HDR_SIZE:
        return PageEvents(0, [])
    ts, commit = _HEADER.unpack_from(page)
    size = min(commit & 0xFFFFFFFF & ~_MISSED_FLAGS, len(page) - BUF_PAGE_HDR_SIZE)
    data = page[BUF_PAGE_HDR_SIZE:BUF_PAGE_HDR_SIZE + size]
    lost = 0
    if commit & RB_MISSED_EVENTS:
        lost = -1
        end = BUF_PAGE_HDR_SIZE + size
        if commit & RB_MISSED_STORED and end + _U64.size <= len(page):
            (lost,) = _U64.unpack_from(page, end)
    events: list[tuple[int, bytes]] = []
    offset = 0
    while offset + _U32.size <= size:
        (word,) = _U32.unpack_from(data, offset)
        type_len, delta = word & 31, word >> 5
        array0 = (_U32.unpack_from(data, offset + 4)[0]
                  if offset + 8 <= size else None)
        if type_len == RINGBUF_TYPE_PADDING:
            if delta == 0 or array0 is None:  # the rest of the page is padding
                break
            offset += array0 + 4
        elif type_len == RINGBUF_TYPE_TIME_EXTEND:
            if array0 is None:
                break
            ts += array0 << TS_SHIFT | delta
            offset += 8
        elif type_len == RINGBUF_TYPE_TIME_STAMP:
            if array0 is None:
                break
            stamp = (array0 << TS_SHIFT | delta) | ts & _TS_MSB  # rb_fix_abs_ts
            ts = stamp + _TS_ABS_WRAP if stamp < ts else stamp
            offset += 8
        elif type_len == 0:
            if array0 is None or array0 < 4 or offset + 4 + array0 > size:
                break
            ts += delta
            events.append((ts, bytes(data[offset + 8:offset + 4 + array0])))
            offset += 4 + array0
        else:
            assert type_len <= RINGBUF_TYPE_DATA_TYPE_LEN_MAX
            end = offset + 4 + type_len * 4
            if end > size:
                break
            ts += delta
            events.append((ts, bytes(data[offset + 4:end])))
            offset = end
    return PageEvents(lost, events)
