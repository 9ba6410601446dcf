"""How a hist trigger reads an event hit (``hist_fn_call`` and the key it builds):
the hit (``HistHit``: the record and its task, CPU, time and stack), a
field's value from the record, expressions over them and references to
variables, and the key's bytes as ``event_hist_trigger`` lays them out."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import HIST_STACKTRACE_DEPTH, U64
from .fields import (
    FL_ALIAS,
    FL_BUCKET,
    FL_CONST,
    FL_CPU,
    FL_EXECNAME,
    FL_HITCOUNT,
    FL_LOG2,
    FL_STACKTRACE,
    FL_STRING,
    FL_TIMESTAMP,
    FL_VAR_REF,
    HistField,
    arith,
    ilog2_roundup,
)
from .histogram import HistTriggerData
from .tracing_map import MapElt, Value


@dataclass(frozen=True, slots=True)
class HistHit:
    """One hit of a hist trigger: what it sees of an event firing."""

    record: bytes
    cpu: int
    pid: int
    comm: str
    ts: int  # the trace clock's stamp
    stack: tuple[int, ...] = ()
    #: ``trace_clock_in_ns``: whether ``ts`` counts nanoseconds (``.usecs`` divides only then).
    ts_in_ns: bool = True


_INT = {(1, False): "<B", (1, True): "<b", (2, False): "<H", (2, True): "<h",
        (4, False): "<I", (4, True): "<i", (8, False): "<Q", (8, True): "<q"}


def saved_comm(pid: int, comm: str) -> str:
    """``save_comm``."""
    return "<idle>" if not pid else comm


@dataclass(slots=True)
class Evaluation:
    data: HistTriggerData
    hit: HistHit
    elt: MapElt | None
    ref_vals: list[Value]

    def value(self, hf: HistField) -> Value:
        """``hist_fn_call``."""
        f = hf.flags
        if f & FL_VAR_REF:
            return self.ref_vals[hf.ref_idx]
        if f & FL_ALIAS:
            return self.ref_vals[hf.ref_idx]
        if f & FL_HITCOUNT:
            return 1
        if f & FL_CONST:
            return hf.constant
        if f & (FL_LOG2 | FL_BUCKET):
            inner = self.value(hf.operands[0])
            n = inner if isinstance(inner, int) else 0
            return ilog2_roundup(n) if f & FL_LOG2 else n // hf.buckets * hf.buckets
        if hf.operator == "neg":
            neg = self.value(hf.operands[0])
            return -(neg if isinstance(neg, int) else 0) & U64
        if hf.operator:
            a, b = (self.value(op) for op in hf.operands)
            return arith(hf.operator, a if isinstance(a, int) else 0,
                          b if isinstance(b, int) else 0, hf.operands[1])
        if f & FL_TIMESTAMP:
            ts = self.hit.ts
            return (ts + 500) // 1000 if self.data.ts_in_usecs and self.hit.ts_in_ns else ts
        if f & FL_CPU:
            return self.hit.cpu
        if f & FL_EXECNAME and f & FL_STRING:
            return (self.elt.comm if self.elt else "(no comm)").encode()
        fld = hf.field
        if fld is None:
            return 0
        if f & FL_STRING:
            return fld.text(self.hit.record)
        n = struct.unpack_from(_INT[fld.size, fld.signed], self.hit.record, fld.offset)[0]
        return int(n) & U64


def key_bytes(data: HistTriggerData, ev: Evaluation) -> bytes:
    """The key as ``event_hist_trigger`` builds it: 8-byte numbers, strings cut
    to their room, stack entries; laid out at the key fields' offsets."""
    key = bytearray(data.key_size)
    for hf in data.keys:
        if hf.flags & FL_STACKTRACE:
            stack = ev.hit.stack[:HIST_STACKTRACE_DEPTH]
            raw = b"".join((a & U64).to_bytes(8, "little") for a in stack)
        else:
            val = ev.value(hf)
            raw = val[:hf.size - 1] if isinstance(val, bytes) else (val & U64).to_bytes(8, "little")
        key[hf.offset:hf.offset + len(raw)] = raw
    return bytes(key)

