"""libtraceevent through ctypes: the field's own parser and printer of events.

trace-cmd and perf print events with this library, from the events'
``format`` texts. It comes from Debian's ``libtraceevent1``
(``libtraceevent.so.1``); without it ``library()`` raises RuntimeError.
Struct layouts are those of ``libtraceevent-dev``'s headers (1.7).
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from functools import cache

LIBRARY = "libtraceevent.so.1"
#: ``TEP_PRINT_INFO``: the event's text as its print fmt makes it.
PRINT_INFO = b"INFO"


class TepRecord(ctypes.Structure):
    """``struct tep_record``."""

    _fields_ = [("ts", ctypes.c_ulonglong), ("offset", ctypes.c_ulonglong),
                ("missed_events", ctypes.c_longlong), ("record_size", ctypes.c_int),
                ("size", ctypes.c_int), ("data", ctypes.c_void_p), ("cpu", ctypes.c_int),
                ("ref_count", ctypes.c_int), ("locked", ctypes.c_int),
                ("priv", ctypes.c_void_p)]


class TraceSeq(ctypes.Structure):
    """``struct trace_seq``."""

    _fields_ = [("buffer", ctypes.c_void_p), ("buffer_size", ctypes.c_uint),
                ("len", ctypes.c_uint), ("readpos", ctypes.c_uint), ("state", ctypes.c_int)]


#: A function's ctypes signature: its result type and its argument types.
Signature = tuple["type | None", "list[type]"]


def load(signatures: Mapping[str, Signature]) -> ctypes.CDLL:
    """The library with ``signatures`` declared; RuntimeError if it is missing."""
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as exc:
        raise RuntimeError(f"{LIBRARY} is missing: apt-get install libtraceevent1") from exc
    for name, (restype, argtypes) in signatures.items():
        func = getattr(lib, name)
        func.restype, func.argtypes = restype, argtypes
    return lib


@cache
def library() -> ctypes.CDLL:
    """The loaded library with the signatures tpfs uses."""
    vp, cp, ull = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulonglong
    lib = load({
        "tep_alloc": (vp, []),
        "tep_free": (None, [vp]),
        "tep_set_long_size": (None, [vp, ctypes.c_int]),
        "tep_parse_event": (ctypes.c_int, [vp, cp, ctypes.c_ulong, cp]),
        "tep_strerror": (ctypes.c_int, [vp, ctypes.c_int, cp, ctypes.c_size_t]),
        "tep_register_function": (ctypes.c_int, [vp, cp, ull, cp]),
        "trace_seq_init": (None, [ctypes.POINTER(TraceSeq)]),
        "trace_seq_destroy": (None, [ctypes.POINTER(TraceSeq)]),
        "trace_seq_reset": (None, [ctypes.POINTER(TraceSeq)]),
    })
    # Variadic: only the fixed arguments are declared.
    lib.tep_print_event.restype = None
    return lib
