"""Running a filter: ``compile_filter`` turns a filter the check takes into a
``Predicate`` over an event's binary record, the CPU and the task's comm,
run as ``filter_match_preds`` runs ``predicate_parse``'s program."""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from dataclasses import replace

from ...kstr import kstrtoull
from .cpulist import cpulist_parse
from .errors import FilterError
from .parse import Field, Pred, filter_fields, walk
from .program import build_program
from .regex import build_regex

#: A compiled filter: whether an event passes, given its binary record, the CPU
#: it fires on and the firing task's comm as the kernel keeps it (``task_comm``).
Predicate = Callable[[bytes, int, bytes], bool]
TASK_COMM_LEN = 16
_INTS = {1: "b", 2: "h", 4: "i", 8: "q"}  # struct codes of the sizes the kernel compares


def task_comm(comm: str | None) -> bytes:
    """``current->comm``: at most 15 bytes, NUL-padded to ``TASK_COMM_LEN``."""
    raw = (comm or "").encode("utf-8", "surrogateescape")[:TASK_COMM_LEN - 1]
    return raw.ljust(TASK_COMM_LEN, b"\0")


def _never(record: bytes, cpu: int, comm: bytes) -> bool:
    return False


def _always(record: bytes, cpu: int, comm: bytes) -> bool:
    return True


def _cast(value: int, size: int, signed: bool) -> int:
    """C's ``(type)value`` for an integer type of ``size`` bytes."""
    bits = 8 * size
    value &= (1 << bits) - 1
    return value - (1 << bits) if signed and value >> (bits - 1) else value


def _intersects(a: int, b: int) -> bool:
    return a & b != 0


#: The comparisons, as C functions where Python has them.
_OPS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "&": _intersects,
}
_Reader = Callable[[bytes, int, bytes], int]


def _compare(read: _Reader, op: str, val: int) -> Predicate:
    """``read(...) OP val``."""
    cmp = _OPS[op]
    return lambda r, c, m: cmp(read(r, c, m), val)


def _field_reader(field: Field, signed: bool) -> _Reader | None:
    code = _INTS.get(field.size)
    if code is None:
        return None
    unpack = struct.Struct("<" + (code if signed else code.upper())).unpack_from
    offset = field.offset
    return lambda r, c, m: unpack(r, offset)[0]


def _cpu(record: bytes, cpu: int, comm: bytes) -> int:
    return cpu


def _numeric(field: Field, op: str, val: int) -> Predicate:
    """``filter_pred_<type>``: the field read as its size and sign, against ``(type)val``;
    ``==``/``!=`` compare bits (unsigned). Other sizes have no compare function: false."""
    signed = field.signed and op not in ("==", "!=")
    code = _INTS.get(field.size)
    if code is None:
        return _never
    unpack = struct.Struct("<" + (code if signed else code.upper())).unpack_from
    offset, cmp, value = field.offset, _OPS[op], _cast(val, field.size, signed)
    return lambda r, c, m: cmp(unpack(r, offset)[0], value)


def _bits(mask: int) -> int:
    return bin(mask).count("1")


def _cpus(field: Field, op: str, mask: int, ncpus: int) -> Predicate:
    """``FIELD OP CPUS{list}``: one CPU in the list compares as a number; a
    cpumask field is a set; otherwise a value (as ``unsigned int``) is a CPU."""
    single = _bits(mask) == 1
    cpu = mask.bit_length() - 1
    kind = field.filter_type
    if kind == "cpumask":
        data, full = field.data, (1 << ncpus) - 1

        def record_mask(r: bytes, c: int, m: bytes) -> int:
            return int.from_bytes(data(r), "little") & full

        if single:  # do_filter_cpumask_scalar
            bit = 1 << cpu
            if op == "==":
                return lambda r, c, m: record_mask(r, c, m) == bit
            if op == "!=":
                return lambda r, c, m: record_mask(r, c, m) != bit
            return lambda r, c, m: bool(record_mask(r, c, m) & bit)
        return _compare(record_mask, op, mask)  # do_filter_cpumask: equal or intersects
    if single:
        op = "==" if op == "&" else op
        if kind == "cpu":
            return _compare(_cpu, op, cpu)
        return _numeric(replace(field, signed=False), op, cpu)
    if op != "&":  # do_filter_scalar_cpumask: a set of two or more is no single CPU
        equal = op == "=="
        if kind == "cpu":
            return _always if not equal else _never
        value = _field_reader(field, False)
        if value is None or equal:
            return _never
        read = value
        return lambda r, c, m: read(r, c, m) & 0xFFFFFFFF < ncpus
    if kind == "cpu":
        return lambda r, c, m: bool(mask >> c & 1)
    value = _field_reader(field, False)
    if value is None:
        return _never
    read = value
    return lambda r, c, m: bool(mask >> (read(r, c, m) & 0xFFFFFFFF) & 1)


#: Where a string field's text is: its buffer, where it starts, and the length
#: the kernel passes its matcher (the array's size; a dynamic string's length
#: with its NUL; 0 for "up to the NUL").
_StringAt = Callable[[bytes, bytes], tuple[bytes, int, int]]


def _string_at(field: Field) -> _StringAt:
    if field.filter_type == "comm":
        return lambda r, m: (m, 0, TASK_COMM_LEN)
    span = field.spanner()

    def in_record(r: bytes, m: bytes) -> tuple[bytes, int, int]:
        start, length = span(r)
        return r, start, length
    return in_record


def _string(field: Field, op: str, text: str) -> Predicate:
    """``filter_pred_string``/``strloc``/``strrelloc``/``comm``: the match, negated by
    ``!=`` or a leading ``!``. A ``char *`` points into memory tpfs does not have:
    reading it faults, which the kernel answers false whatever the operator."""
    if field.filter_type == "ptr_string":
        return _never
    match, negated = build_regex(text.encode("latin-1"), op == "~")
    negated ^= op == "!="
    where = _string_at(field)

    def pred(r: bytes, c: int, m: bytes) -> bool:
        return match(*where(r, m)) is not negated

    return pred


def _compile_pred(pred: Pred, ncpus: int) -> Predicate:
    field, op = pred.field, pred.op
    if pred.operand == "function":  # no kernel text: no value is inside any function
        return _never if op == "==" else _always
    if pred.operand == "cpus":
        mask = cpulist_parse(pred.value, ncpus)
        assert mask is not None  # checked by _parse_pred
        return _cpus(field, op, mask, ncpus)
    if pred.operand == "string":
        return _string(field, op, pred.value)
    val = kstrtoull(pred.value, field.signed)
    if field.filter_type == "cpu":  # filter_pred_cpu: int against (int)val; no "&"
        return _never if op == "&" else _compare(_cpu, op, _cast(val, 4, True))
    return _numeric(field, op, val)


def compile_filter(expr: str, fmt: str, ncpus: int) -> Predicate:
    """The predicate of a filter ``check_filter`` takes, over an event with ``format`` ``fmt``.

    Compiled once into closures that read the record with ``struct`` at the
    format's offsets, run as ``filter_match_preds`` runs the program of
    ``predicate_parse``: a loop over the predicates, each either falling through
    or jumping forward, so a filter nested thousands deep evaluates in a loop,
    never by recursion. As in the kernel, ``&&`` binds tighter than ``||``, ``!``
    negates the predicate or parenthesis after it, and an ``&&``, ``||`` or
    ``!`` dangling at the end is ignored. Numbers compare in the field's size
    and sign, against the constant cast to it; fields of other sizes never
    match. Strings match as ``regex_match_*`` do, bytes for bytes, including
    their quirks (``~ "*x"`` on a ``char[N]`` or ``COMM`` compares the array's
    last bytes, not the string's). tpfs has no kernel or user memory, so
    ``char *`` and ``.ustring`` fields never match (the kernel's answer to a
    faulting read) and ``.function`` is never ``==`` (``!=`` always): no
    address is inside a kernel function.

    Raises ValueError for a filter the kernel refuses.
    """
    tokens = walk(expr, filter_fields(fmt), ncpus)
    if isinstance(tokens, FilterError):
        raise ValueError(f"filter {expr!r}: {tokens.message}")
    program = build_program(tokens)
    if program is None:
        raise ValueError(f"filter {expr!r}: the program would not move forward")
    tests = [_compile_pred(pred, ncpus) for pred in program.preds]
    if len(tests) == 1:  # one predicate: no program to run
        test, falls = tests[0], not program.when[0]
        return test if falls else (lambda r, c, m: not test(r, c, m))
    when, target, count = program.when, program.target, len(tests)

    def run(r: bytes, c: int, m: bytes) -> bool:
        i = 0
        while i < count:
            if tests[i](r, c, m) == when[i]:
                i = target[i]
            i += 1
        return i == count

    return run
