"""Event filters (``events/S/E/filter``), checked as ``trace_events_filter.c`` checks them.

A filter is predicates ``FIELD OP VALUE`` joined by ``&&``/``||``, with ``!``
and parentheses, over the fields the event's ``format`` declares and the
generic ones (``CPU``, ``COMM``, ...). ``check_filter`` walks the text as the
kernel's ``calc_stack``, ``predicate_parse`` and ``parse_pred`` do and
returns the kernel's verdict: its errno (the kernel leaks ``-1``..``-3`` as
EPERM, ENOENT and ESRCH), its message and the position its caret points
at. ``compile_filter`` turns a filter the check takes into a ``Predicate``
over an event's binary record, the CPU and the task's comm, which the
firing path asks as ``filter_match_preds`` does.

One difference is forced: tpfs has no kernel symbol table, so ``FIELD.function``
takes any symbol-like name and refuses every address ("Function not found").
"""

from __future__ import annotations

import errno
import operator
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ..kstr import MAX_FILTER_STR_VAL, SPACES, kstrtoull
from ..trace.field import EventField, generic, parse_fields

SUBSYSTEM_FILTER_HELP = (
    "### global filter ###\n"
    "# Use this to set filters for multiple events.\n"
    "# Only events with the given fields will be affected.\n"
    "# If no events are modified, an error message will be displayed here\n"
)

#: ``err_text[]``: a parse error's code is its index here.
ERRORS = (
    "No error", "Invalid operator", "Too many '('", "Too few '('", "Missing matching quote",
    "Missing '{'", "Missing '}'", "Operand too long", "Expecting string field",
    "Expecting numeric field", "Illegal operation for field type", "Field not found",
    "Illegal integer value", "Couldn't find or set field in one of a subsystem's events",
    "Too many terms in predicate expression", "Meaningless filter expression",
    "Invalid cpulist", "Only 'ip' field is supported for function trace",
    "Invalid value (did you forget quotes)?", "Function not found", "Error", "No filter found",
)
(INVALID_OP, TOO_MANY_OPEN, TOO_MANY_CLOSE, MISSING_QUOTE, MISSING_BRACE_OPEN,
 MISSING_BRACE_CLOSE, OPERAND_TOO_LONG, EXPECT_STRING, EXPECT_DIGIT, ILLEGAL_FIELD_OP,
 FIELD_NOT_FOUND, ILLEGAL_INTVAL, BAD_SUBSYS_FILTER, TOO_MANY_PREDS) = range(1, 15)
INVALID_CPULIST, INVALID_VALUE, NO_FUNCTION, ERRNO, NO_FILTER = 16, 18, 19, 20, 21

#: The comparison operators in the kernel's matching order (``<=`` before ``<``).
OPERATORS = ("~", "!=", "==", "<=", "<", ">=", ">", "&")
NUM_BUF = 24  # parse_pred's num_buf: an operand of 24 characters is too long
MAX_WRITE = 4096  # a write of a page or more is EINVAL

_SYMBOL_RE = re.compile(r"[A-Za-z_][\w.$]*")


#: What ``parse_pred`` needs of a field: the one field type that reads records.
Field = EventField

#: ``ftrace_generic_fields``: present in every event, after the event's own fields.
GENERIC_FIELDS = {name: generic(name, kind) for name, kind in (
    ("CPU", "cpu"), ("cpu", "cpu"), ("common_cpu", "cpu"), ("COMM", "comm"), ("comm", "comm"))}


def filter_fields(fmt: str) -> dict[str, Field]:
    """The fields a filter over an event with ``format`` text ``fmt`` may name."""
    fields = dict(GENERIC_FIELDS)
    fields.update((f.name, f) for f in parse_fields(fmt))
    return fields


@dataclass(frozen=True, slots=True)
class FilterError:
    """A refused filter: the write's errno, the ``ERRORS`` code (0: none) and the caret."""

    errno: int
    code: int
    pos: int

    @property
    def message(self) -> str:
        """What the error log says."""
        return ERRORS[self.code or ERRNO]

    def show(self, expr: str) -> str:
        """The filter file's text after the failed write (``append_filter_err``)."""
        if not self.code:
            return f"{expr}\nError: (0)\n"
        pos = min(self.pos, len(expr))
        pos += pos > 0  # "indexing is off by one"
        return f"{expr}\n{'^':>{pos}}\nparse_error: {ERRORS[self.code]}\n"




def cpulist_parse(text: str, nbits: int) -> int | None:
    """``bitmap_parselist``: the mask ``text`` names in ``nbits`` bits, or None if refused."""
    lastbit = nbits - 1
    pos = 0
    mask = 0

    def number() -> int | None:
        nonlocal pos
        if text[pos:pos + 1] == "N":
            pos += 1
            return lastbit
        start = pos
        while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        if pos == start or int(text[start:pos]) >> 32:
            return None
        return int(text[start:pos])

    def at_region_end() -> bool:
        return pos >= len(text) or text[pos] in SPACES + ","

    while True:
        while pos < len(text) and text[pos] in SPACES + ",":
            pos += 1
        if pos >= len(text) or text[pos] == "\n":
            return mask
        if text[pos:pos + 3].lower() == "all":
            start, end = 0, lastbit
            pos += 3
        else:
            first = number()
            if first is None:
                return None
            start = end = first
            if not at_region_end():
                if text[pos] != "-":
                    return None
                pos += 1
                last = number()
                if last is None:
                    return None
                end = last
        off = group = end + 1
        plain = at_region_end()
        if not plain:
            if text[pos] != ":":
                return None
            pos += 1
            got_off = number()
            if got_off is None or text[pos:pos + 1] != "/":
                return None
            pos += 1
            got_group = number()
            if got_group is None:
                return None
            off, group = got_off, got_group
        if start > end or group == 0 or off > group or end >= nbits:
            return None
        for first_bit in range(start, end + 1, group):  # bitmap_set_region
            mask |= ((1 << min(end - first_bit + 1, off)) - 1) << first_bit
        if plain and text[pos:pos + 1] in ("", "\n"):  # only a plain region ends at a newline
            return mask


def cpulist_valid(text: str, nbits: int) -> bool:
    """Whether ``bitmap_parselist`` takes ``text`` for a mask of ``nbits`` bits."""
    return cpulist_parse(text, nbits) is not None


def _calc_stack(expr: str) -> FilterError | int:
    """``calc_stack``: the number of predicates, or the error of unbalanced text."""
    is_pred = False
    nr_preds = 0
    depth = 1
    quote = ""
    last_quote = 0
    i = 0
    while i < len(expr):
        c = expr[i]
        i += 1
        if c in SPACES:
            continue
        if quote:
            if c == quote:
                quote = ""
            continue
        if c in "'\"":
            quote, last_quote = c, i - 1
        elif c in "&|" and expr[i:i + 1] == c:
            is_pred = False
            continue
        elif c == "(":
            is_pred = False
            depth += 1
            continue
        elif c == ")":
            is_pred = False
            if depth == 1:
                return FilterError(errno.EPERM, TOO_MANY_CLOSE, i - 1)
            depth -= 1
            continue
        if not is_pred:
            nr_preds += 1
            is_pred = True
    if quote:
        return FilterError(errno.ESRCH, MISSING_QUOTE, last_quote)
    if depth != 1:
        level = depth
        for i in range(len(expr) - 1, 0, -1):
            c = expr[i]
            if quote:
                if c == quote:
                    quote = ""
            elif c == "(":
                if level == depth:
                    return FilterError(errno.ENOENT, TOO_MANY_OPEN, i)
                level -= 1
            elif c == ")":
                level += 1
            elif c in "'\"":
                quote = c
        return FilterError(errno.ENOENT, TOO_MANY_OPEN, 0)
    return nr_preds


@dataclass(frozen=True, slots=True)
class _Pred:
    """One predicate as ``parse_pred`` reads it: ``value`` is the text of a
    number, of a string between its quotes, of a cpulist, or a function name."""

    end: int  # where the predicate's text ends
    field: Field
    op: str
    operand: str  # "number", "string", "cpus" or "function"
    value: str
    ustring: bool


def _parse_pred(expr: str, start: int, fields: Mapping[str, Field],
                ncpus: int) -> FilterError | _Pred:
    """``parse_pred`` on the predicate at ``start``: what it says, or its error.

    Every position the kernel reports here is one past the index it names.
    """
    n = len(expr)

    def char(i: int) -> str:
        return expr[i] if i < n else "\0"

    def skip(i: int) -> int:
        while char(i) in SPACES and i < n:
            i += 1
        return i

    def fail(code: int, i: int) -> FilterError:
        return FilterError(errno.EINVAL, code, i + 1)

    i = start
    while char(i).isalnum() or char(i) == "_":
        i += 1
    if i == start:
        return FilterError(errno.EPERM, 0, 0)
    field = fields.get(expr[start:i])
    if field is None:
        return fail(FIELD_NOT_FOUND, i)
    ustring = expr.startswith(".ustring", i)
    if ustring:
        i += len(".ustring")
    function = expr.startswith(".function", i)
    if function:
        i += len(".function")
    i = skip(i)
    op = next((o for o in OPERATORS if expr.startswith(o, i)), None)
    if op is None:
        return fail(INVALID_OP, i)
    i = skip(i + len(op))
    value = i
    if function:
        if field.size != 8:
            return fail(ILLEGAL_FIELD_OP, i)
        if op not in ("==", "!="):
            return fail(INVALID_OP, i)
        if char(i).isdigit():
            while char(i).isalnum():
                i += 1
            if i - value >= NUM_BUF:
                return fail(OPERAND_TOO_LONG, i)
            try:
                kstrtoull(expr[value:i])
            except (ValueError, OverflowError):
                return fail(INVALID_VALUE, i)
            return fail(NO_FUNCTION, i)  # tpfs has no kernel text: no address is in a function
        while i < n and expr[i] not in SPACES:
            i += 1
        if not _SYMBOL_RE.fullmatch(expr[value:i]):  # no symbol table: any symbol-like name
            return fail(NO_FUNCTION, i)
        operand = "function"
    elif expr.startswith("CPUS", i):
        if field.filter_type not in ("cpumask", "cpu", "other") or op not in ("==", "!=", "&"):
            return fail(ILLEGAL_FIELD_OP, i)
        i += len("CPUS") + 1
        if char(i - 1) != "{":
            return fail(MISSING_BRACE_OPEN, i)
        mask_start = i
        while i < n and expr[i] != "}":
            i += 1
        if i >= n:
            return fail(MISSING_BRACE_CLOSE, i)
        if i == mask_start or not cpulist_valid(expr[mask_start:i], ncpus):
            return fail(INVALID_CPULIST, i)
        value, operand = mask_start, "cpus"
        i += 1
    elif char(i) in "'\"":
        quote = char(i)
        if op not in ("!=", "~", "=="):
            return fail(ILLEGAL_FIELD_OP, i)
        if not field.is_string:
            return fail(EXPECT_DIGIT, i)
        i += 1
        while i < n and expr[i] != quote:
            i += 1
        if i >= n:
            return fail(MISSING_QUOTE, i)
        if i - value - 1 >= MAX_FILTER_STR_VAL:
            return fail(OPERAND_TOO_LONG, i)
        value, operand = value + 1, "string"
        i += 1
    elif char(i).isdigit() or char(i) == "-":
        if field.is_string:
            return fail(EXPECT_STRING, i)
        if op == "~":
            return fail(ILLEGAL_FIELD_OP, i)
        i += char(i) == "-"
        while char(i).isalnum():
            i += 1
        if i - value >= NUM_BUF:
            return fail(OPERAND_TOO_LONG, i)
        try:
            kstrtoull(expr[value:i], field.signed)
        except (ValueError, OverflowError):
            return fail(ILLEGAL_INTVAL, value)
        operand = "number"
    else:
        return fail(INVALID_VALUE, i)
    text_end = i - (operand in ("cpus", "string"))  # before the closing brace or quote
    return _Pred(i, field, op, operand, expr[value:text_end], ustring)


#: What the walk over a filter's text sees: predicates and the words between them.
_Token = _Pred | str  # "(", ")", "!", "&&" or "||"


def _walk(expr: str, fields: Mapping[str, Field], ncpus: int) -> FilterError | list[_Token]:
    """``predicate_parse``'s first pass: the text's tokens, or why the kernel refuses it."""
    counted = _calc_stack(expr)
    if isinstance(counted, FilterError):
        return counted
    if not counted:
        return FilterError(errno.EINVAL, 0, 0)
    max_preds = counted + 2
    n = len(expr)
    depth = 0
    tokens: list[_Token] = []
    preds = 0
    ptr = 0
    while ptr < n:
        start = ptr
        ptr += 1
        c = expr[start]
        if c in SPACES:
            continue
        if c == "(":
            depth += 1
            tokens.append(c)
            continue
        if c == "!" and expr[ptr:ptr + 1] not in ("=", "~"):
            tokens.append(c)
            continue
        if preds >= max_preds:
            return FilterError(errno.EPERM, TOO_MANY_PREDS, start)
        pred = _parse_pred(expr, start, fields, ncpus)
        if isinstance(pred, FilterError):
            return pred
        tokens.append(pred)
        ptr = pred.end
        preds += 1
        while True:  # after a predicate: ")", "&&", "||" or the end
            at = ptr
            ptr += 1
            c = expr[at] if at < n else ""
            if c and c in SPACES:
                continue
            if c in "&|" and c and expr[ptr:ptr + 1] == c:
                ptr += 1
                tokens.append(c + c)
                break
            if c not in ("", ")"):
                return FilterError(errno.EPERM, TOO_MANY_PREDS, at)
            if not c:
                ptr = n + 1
                return _finish(depth, preds, ptr) or tokens
            if depth == 0:
                return FilterError(errno.EPERM, TOO_MANY_CLOSE, ptr)
            depth -= 1
            tokens.append(c)
    return _finish(depth, preds, ptr) or tokens


def _finish(depth: int, preds: int, ptr: int) -> FilterError | None:
    if depth:
        return FilterError(errno.EPERM, TOO_MANY_OPEN, ptr)
    if not preds:
        return FilterError(errno.EINVAL, NO_FILTER, ptr)
    return None


def check_filter(expr: str, fields: Mapping[str, Field], ncpus: int) -> FilterError | None:
    """Why the kernel refuses ``expr`` over ``fields``, or None if it takes it."""
    walked = _walk(expr, fields, ncpus)
    return walked if isinstance(walked, FilterError) else None


# -- evaluation --------------------------------------------------------------

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


def _cstr(buf: bytes, start: int) -> bytes:
    """The C string at ``start``: up to its NUL, or the end of the buffer."""
    end = buf.find(b"\0", start)
    return buf[start:] if end < 0 else buf[start:end]


#: Where a string field's text is: its buffer, where it starts, and the length
#: the kernel passes its matcher (the array's size; a dynamic string's length
#: with its NUL; 0 for "up to the NUL").
_StringAt = Callable[[bytes, bytes], tuple[bytes, int, int]]
_Matcher = Callable[[bytes, int, int], bool]


def _string_at(field: Field) -> _StringAt:
    if field.filter_type == "comm":
        return lambda r, m: (m, 0, TASK_COMM_LEN)
    span = field.span

    def in_record(r: bytes, m: bytes) -> tuple[bytes, int, int]:
        return (r, *span(r))
    return in_record


def _glob_class(pat: bytes, i: int) -> tuple[bytes, int] | None:
    """A ``[...]`` class at ``pat[i:]`` (past the ``[``) as ``glob_match`` reads it:
    its regex and where the pattern goes on, or None if malformed (then ``[`` is literal)."""
    n = len(pat)
    inverted = pat[i:i + 1] == b"!"
    i += inverted
    spans: list[bytes] = []
    first = True
    while first or pat[i:i + 1] != b"]":
        first = False
        if i >= n:
            return None
        low = high = pat[i]
        i += 1
        if pat[i:i + 1] == b"-" and pat[i + 1:i + 2] != b"]":
            if i + 1 >= n:
                return None
            high = pat[i + 1]
            i += 2
        if low <= high:  # a reversed range matches nothing
            spans.append(b"\\x%02x-\\x%02x" % (low, high))
    body = b"".join(spans)
    if not body:
        return (b"." if inverted else b"(?!)"), i + 1
    return b"[" + b"^" * inverted + body + b"]", i + 1


def _glob_regex(pat: bytes) -> re.Pattern[bytes]:
    """``glob_match``'s language as a regex: ``*``, ``?``, classes, ``\\`` escapes."""
    out: list[bytes] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i:i + 1]
        i += 1
        if c == b"*":
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"[" and (cls := _glob_class(pat, i)) is not None:
            out.append(cls[0])
            i = cls[1]
        else:
            if c == b"\\":
                c, i = pat[i:i + 1], i + 1  # a trailing "\\" matches the string's end
            out.append(re.escape(c))
    return re.compile(b"".join(out), re.DOTALL)


def _regex(pattern: bytes, glob: bool) -> tuple[_Matcher, bool]:
    """``filter_build_regex``: the matcher for a pattern, and whether it is negated
    (``~ "!..."``). ``==`` and ``!=`` match the text whole; ``~`` reads a leading
    ``!``, then ``*`` at an end (front, end, middle match) or a full glob."""
    negated = False
    kind = "full"
    if glob:
        if pattern.startswith(b"!"):
            negated, pattern = True, pattern[1:]
        if not pattern[:1].isdigit():
            for i, ch in enumerate(pattern):
                if ch == ord("*"):
                    if i == 0:
                        kind = "end"
                    elif i == len(pattern) - 1:
                        kind = "middle" if kind == "end" else "front"
                        pattern = pattern[:i]
                        break
                    else:
                        kind = "glob"
                        break
                elif ch in b"[?\\":
                    kind = "glob"
                    break
            if kind in ("end", "middle"):
                pattern = pattern[1:]
    plen = len(pattern)

    def full(buf: bytes, start: int, length: int) -> bool:  # strncmp over the length
        if not length:
            return _cstr(buf, start) == pattern
        seg = buf[start:start + length]
        nul = seg.find(b"\0")
        return (seg if nul < 0 else seg[:nul]) == pattern[:length]

    def front(buf: bytes, start: int, length: int) -> bool:
        return not 0 < length < plen and buf[start:start + plen] == pattern

    def middle(buf: bytes, start: int, length: int) -> bool:  # strnstr: past NULs too
        return pattern in (buf[start:start + length] if length else _cstr(buf, start))

    def end(buf: bytes, start: int, length: int) -> bool:  # the last length - 1 bytes
        last = start + length - 1
        return length - 1 >= plen and buf[last - plen:last] == pattern

    if kind == "glob":
        fullmatch = _glob_regex(pattern).fullmatch
        return (lambda buf, start, length: fullmatch(_cstr(buf, start)) is not None), negated
    return {"full": full, "front": front, "middle": middle, "end": end}[kind], negated


def _string(field: Field, op: str, text: str) -> Predicate:
    """``filter_pred_string``/``strloc``/``strrelloc``/``comm``: the match, negated by
    ``!=`` or a leading ``!``. A ``char *`` points into memory tpfs does not have:
    reading it faults, which the kernel answers false whatever the operator."""
    if field.filter_type == "ptr_string":
        return _never
    match, negated = _regex(text.encode("latin-1"), op == "~")
    negated ^= op == "!="
    where = _string_at(field)

    def pred(r: bytes, c: int, m: bytes) -> bool:
        return match(*where(r, m)) is not negated

    return pred


def _compile_pred(pred: _Pred, ncpus: int) -> Predicate:
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


_INVERT, _PROCESS_AND, _PROCESS_OR = 1, 2, 4


@dataclass(slots=True)
class _Program:
    """``predicate_parse``'s program: entry ``i`` runs ``preds[i]`` and, when the
    result equals ``when[i]``, jumps past ``target[i]``; falling off the end at
    index ``len(preds)`` is TRUE, one further is FALSE."""

    preds: list[_Pred]
    when: list[bool]
    target: list[int]


def _program(tokens: list[_Token]) -> _Program | None:
    """The program ``predicate_parse`` builds from the walked tokens, or None where
    its last pass refuses one that would not move forward (``WARN_ON``, EINVAL).

    The kernel's three passes, with its operator stack instead of recursion, so
    that nesting as deep as the text allows costs no Python stack: the first
    pass links each predicate to the one an ``&&`` or ``||`` after it affects
    (``update_preds``), the second short-cuts a jump into a jump of the same
    sense, the third folds the ``!``s in scope into when to branch.
    """
    preds: list[_Pred] = []
    inverts: list[bool] = []
    when: list[bool] = []
    target: list[int] = []
    stack = [0]
    invert = 0

    def update(n: int, branch: int) -> None:
        t = target[n]
        s = target[t]
        when[t] = bool(branch)
        target[t] = n
        target[n] = s

    for token in tokens:
        if token == "(":
            stack.append(invert)
        elif token == "!":
            invert ^= _INVERT
        elif isinstance(token, _Pred):
            inverts.append(bool(invert))
            target.append(len(preds) - 1)
            when.append(False)
            preds.append(token)
        else:  # "&&", "||" or ")": what follows a predicate
            n = len(preds) - 1
            invert = stack[-1] & _INVERT
            if stack[-1] & _PROCESS_AND:
                update(n, invert)
                stack[-1] &= ~_PROCESS_AND
            if token == "&&":
                stack[-1] |= _PROCESS_AND
                continue
            if stack[-1] & _PROCESS_OR:
                update(n, not invert)
                stack[-1] &= ~_PROCESS_OR
            if token == "||":
                stack[-1] |= _PROCESS_OR
                continue
            stack.pop()
    if tokens[-1] == ")" or isinstance(tokens[-1], _Pred):
        # The text ends after a predicate: the end is what a ")" does, without
        # the pop. After a dangling "&&", "||" or "!" the kernel's outer loop
        # just stops, and what they asked for is never done.
        n = len(preds) - 1
        invert = stack[-1] & _INVERT
        if stack[-1] & _PROCESS_AND:
            update(n, invert)
        if stack[-1] & _PROCESS_OR:
            update(n, not invert)
    count = len(preds)
    target[count - 1] = count
    when[count - 1] = False
    for i in range(count - 2, -1, -1):
        t = target[i]
        if t < count and when[i] == when[t]:
            target[i] = target[t]
    for i in range(count):
        when[i] = inverts[i] ^ when[i]
        if target[i] <= i:
            return None
    return _Program(preds, when, target)


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
    tokens = _walk(expr, filter_fields(fmt), ncpus)
    if isinstance(tokens, FilterError):
        raise ValueError(f"filter {expr!r}: {tokens.message}")
    program = _program(tokens)
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
