"""libtraceevent's kbuffer through ctypes: the field's own reader of ring-buffer pages.

trace-cmd and perf decode ``trace_pipe_raw`` pages with this code, so the
ring-buffer tests use it as the oracle for the page format. It comes from
Debian's ``libtraceevent1`` (``libtraceevent.so.1``); without it ``decode``
raises, so the tests that use it fail rather than skip.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import cache

from tpfs.tracefs.trace.libtraceevent import load

KBUFFER_LSIZE_8 = 1
KBUFFER_ENDIAN_LITTLE = 1


class RawInfo(ctypes.Structure):
    """``struct kbuffer_raw_info``."""

    _fields_ = [("type", ctypes.c_int), ("length", ctypes.c_int),
                ("delta", ctypes.c_ulonglong), ("next", ctypes.c_void_p)]


@dataclass(frozen=True)
class KEvent:
    ts: int
    data: bytes


@dataclass(frozen=True)
class KRecord:
    """One record as ``kbuffer_raw_get`` sees it: type_len, payload length, delta."""

    type: int
    length: int
    delta: int


@dataclass(frozen=True)
class KPage:
    timestamp: int
    size: int
    missed: int
    events: list[KEvent]
    records: list[KRecord]


@cache
def library() -> ctypes.CDLL:
    vp, ull = ctypes.c_void_p, ctypes.c_ulonglong
    return load({
        "kbuffer_alloc": (vp, [ctypes.c_int, ctypes.c_int]),
        "kbuffer_free": (None, [vp]),
        "kbuffer_load_subbuffer": (ctypes.c_int, [vp, vp]),
        "kbuffer_read_event": (vp, [vp, ctypes.POINTER(ull)]),
        "kbuffer_next_event": (vp, [vp, ctypes.POINTER(ull)]),
        "kbuffer_event_size": (ctypes.c_int, [vp]),
        "kbuffer_missed_events": (ctypes.c_int, [vp]),
        "kbuffer_subbuffer_size": (ctypes.c_int, [vp]),
        "kbuffer_subbuf_timestamp": (ull, [vp, vp]),
        "kbuffer_raw_get": (ctypes.POINTER(RawInfo), [vp, vp, ctypes.POINTER(RawInfo)]),
    })


def decode(page: bytes) -> KPage:
    """Read a whole page the way trace-cmd does: its header, events and raw records."""
    lib = library()
    kbuf = lib.kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_LITTLE)
    assert kbuf, "kbuffer_alloc failed"
    buf = ctypes.create_string_buffer(page, len(page))
    try:
        assert lib.kbuffer_load_subbuffer(kbuf, buf) == 0
        missed = lib.kbuffer_missed_events(kbuf)
        ts = ctypes.c_ulonglong()
        events = []
        ptr = lib.kbuffer_read_event(kbuf, ctypes.byref(ts))
        while ptr:
            size = lib.kbuffer_event_size(kbuf)
            events.append(KEvent(ts.value, ctypes.string_at(ptr, size)))
            ptr = lib.kbuffer_next_event(kbuf, ctypes.byref(ts))
        records = []
        info = RawInfo(next=ctypes.addressof(buf) + 16)
        while lib.kbuffer_raw_get(kbuf, buf, ctypes.byref(info)):
            records.append(KRecord(info.type, info.length, info.delta))
        return KPage(lib.kbuffer_subbuf_timestamp(kbuf, buf),
                     lib.kbuffer_subbuffer_size(kbuf), missed, events, records)
    finally:
        lib.kbuffer_free(kbuf)
