"""Event filters (``events/S/E/filter``), checked as ``trace_events_filter.c`` checks them.

A filter is predicates ``FIELD OP VALUE`` joined by ``&&``/``||``, with ``!``
and parentheses, over the fields the event's ``format`` declares and the
generic ones (``CPU``, ``COMM``, ...). ``check_filter`` walks the text as the
kernel's ``calc_stack``, ``predicate_parse`` and ``parse_pred`` do and
returns the kernel's verdict: its errno (the kernel leaks ``-1``..``-3`` as
EPERM, ENOENT and ESRCH), its message and the position its caret points
at. Filters are checked here, not evaluated: nothing fires events yet.

One difference is forced: tpfs has no kernel symbol table, so ``FIELD.function``
takes any symbol-like name and refuses every address ("Function not found").
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from dataclasses import dataclass

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
MAX_FILTER_STR_VAL = 256
NUM_BUF = 24  # parse_pred's num_buf: an operand of 24 characters is too long
MAX_WRITE = 4096  # a write of a page or more is EINVAL
SPACES = " \t\n\v\f\r"  # the kernel's isspace()
_HEX = "0123456789abcdefABCDEF"

_SYMBOL_RE = re.compile(r"[A-Za-z_][\w.$]*")
_FIELD_RE = re.compile(r"\tfield:([^;]*);\toffset:\d+;\tsize:(\d+);\tsigned:(-?\d+);")


@dataclass(frozen=True, slots=True)
class Field:
    """What ``parse_pred`` needs of a field: its C type, size, sign and filter type."""

    type: str
    size: int
    signed: bool
    kind: str = ""  # "cpu" or "comm" for the generic fields; else derived from the type

    @property
    def filter_type(self) -> str:
        """``filter_assign_type``: how the kernel compares the field."""
        if self.kind:
            return self.kind
        t = self.type
        if "__data_loc" in t and "char" in t:
            return "dyn_string"
        if "__data_loc" in t and "cpumask_t" in t:
            return "cpumask"
        if "__rel_loc" in t and "char" in t:
            return "rdyn_string"
        if "[" in t and "char" in t:
            return "static_string"
        if t in ("char *", "const char *"):
            return "ptr_string"
        return "other"

    @property
    def is_string(self) -> bool:
        return self.filter_type in ("dyn_string", "rdyn_string", "static_string", "ptr_string",
                                    "comm")


#: ``ftrace_generic_fields``: present in every event, after the event's own fields.
GENERIC_FIELDS = {
    "CPU": Field("int", 0, True, "cpu"), "cpu": Field("int", 0, True, "cpu"),
    "common_cpu": Field("int", 0, True, "cpu"),
    "COMM": Field("char *", 0, False, "comm"), "comm": Field("char *", 0, False, "comm"),
}


def filter_fields(fmt: str) -> dict[str, Field]:
    """The fields a filter over an event with ``format`` text ``fmt`` may name."""
    fields = dict(GENERIC_FIELDS)
    for decl, size, signed in _FIELD_RE.findall(fmt):
        ctype, _, name = decl.rpartition(" ")
        name, bracket, dims = name.partition("[")
        fields[name] = Field(ctype + bracket + dims, int(size), signed != "0")
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


def kstrtoull(text: str, signed: bool = False) -> int:
    """The kernel's ``kstrtoull`` (or ``kstrtoll``) in base 0.

    Raises OverflowError where the kernel answers ERANGE, ValueError where EINVAL.
    """
    negative = signed and text.startswith("-")
    if negative or text.startswith("+"):
        text = text[1:]
    base = 10
    if text.startswith("0"):
        base = 16 if text[1:2] in ("x", "X") and text[2:3] in tuple(_HEX) else 8
        text = text[2:] if base == 16 else text
    valid = _HEX if base == 16 else _HEX[:base]
    end = 0
    while end < len(text) and text[end] in valid:
        end += 1
    value = int(text[:end], base) if end else 0
    if value >> 64:
        raise OverflowError(text)
    if not end or text[end:] not in ("", "\n"):
        raise ValueError(text)
    if signed and value > (1 << 63) - (not negative):
        raise OverflowError(text)
    return -value if negative else value


def cpulist_valid(text: str, nbits: int) -> bool:
    """Whether ``bitmap_parselist`` takes ``text`` for a mask of ``nbits`` bits."""
    lastbit = nbits - 1
    pos = 0

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
            return True
        if text[pos:pos + 3].lower() == "all":
            start, end = 0, lastbit
            pos += 3
        else:
            first = number()
            if first is None:
                return False
            start = end = first
            if not at_region_end():
                if text[pos] != "-":
                    return False
                pos += 1
                last = number()
                if last is None:
                    return False
                end = last
        off = group = end + 1
        plain = at_region_end()
        if not plain:
            if text[pos] != ":":
                return False
            pos += 1
            got_off = number()
            if got_off is None or text[pos:pos + 1] != "/":
                return False
            pos += 1
            got_group = number()
            if got_group is None:
                return False
            off, group = got_off, got_group
        if start > end or group == 0 or off > group or end >= nbits:
            return False
        if plain and text[pos:pos + 1] in ("", "\n"):  # only a plain region ends at a newline
            return True


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


def _parse_pred(expr: str, start: int, fields: Mapping[str, Field],
                ncpus: int) -> FilterError | int:
    """``parse_pred`` on the predicate at ``start``: where it ends, or its error.

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
    if expr.startswith(".ustring", i):
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
    else:
        return fail(INVALID_VALUE, i)
    return i


def check_filter(expr: str, fields: Mapping[str, Field], ncpus: int) -> FilterError | None:
    """Why the kernel refuses ``expr`` over ``fields``, or None if it takes it."""
    counted = _calc_stack(expr)
    if isinstance(counted, FilterError):
        return counted
    if not counted:
        return FilterError(errno.EINVAL, 0, 0)
    max_preds = counted + 2
    n = len(expr)
    depth = 0
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
            continue
        if c == "!" and expr[ptr:ptr + 1] not in ("=", "~"):
            continue
        if preds >= max_preds:
            return FilterError(errno.EPERM, TOO_MANY_PREDS, start)
        end = _parse_pred(expr, start, fields, ncpus)
        if isinstance(end, FilterError):
            return end
        ptr = end
        preds += 1
        while True:  # after a predicate: ")", "&&", "||" or the end
            at = ptr
            ptr += 1
            c = expr[at] if at < n else ""
            if c and c in SPACES:
                continue
            if c in "&|" and c and expr[ptr:ptr + 1] == c:
                ptr += 1
                break
            if c not in ("", ")"):
                return FilterError(errno.EPERM, TOO_MANY_PREDS, at)
            if not c:
                ptr = n + 1
                return _finish(depth, preds, ptr)
            if depth == 0:
                return FilterError(errno.EPERM, TOO_MANY_CLOSE, ptr)
            depth -= 1
    return _finish(depth, preds, ptr)


def _finish(depth: int, preds: int, ptr: int) -> FilterError | None:
    if depth:
        return FilterError(errno.EPERM, TOO_MANY_OPEN, ptr)
    if not preds:
        return FilterError(errno.EINVAL, NO_FILTER, ptr)
    return None
