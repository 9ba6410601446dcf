"""Checking a filter's text as ``predicate_parse``, ``calc_stack`` and ``parse_pred`` do.

``walk`` reads the text once into tokens (predicates and the words between
them) or the kernel's verdict on it (``FilterError``); ``check_filter`` is
that verdict alone. ``filter_fields`` are the fields a filter may name: the
event's own (``EventField``s from its format) and the generic ones.

One difference is forced: tpfs has no kernel symbol table, so ``FIELD.function``
takes any symbol-like name and refuses every address ("Function not found").
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...kstr import MAX_FILTER_STR_VAL, SPACES, kstrtoull
from ...trace.field import EventField, generic, parse_fields
from .cpulist import cpulist_valid
from .errors import (
    EXPECT_DIGIT,
    EXPECT_STRING,
    FIELD_NOT_FOUND,
    ILLEGAL_FIELD_OP,
    ILLEGAL_INTVAL,
    INVALID_CPULIST,
    INVALID_OP,
    INVALID_VALUE,
    MISSING_BRACE_CLOSE,
    MISSING_BRACE_OPEN,
    MISSING_QUOTE,
    NO_FILTER,
    NO_FUNCTION,
    OPERAND_TOO_LONG,
    TOO_MANY_CLOSE,
    TOO_MANY_OPEN,
    TOO_MANY_PREDS,
    FilterError,
)

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
class Pred:
    """One predicate as ``parse_pred`` reads it: ``value`` is the text of a
    number, of a string between its quotes, of a cpulist, or a function name."""

    end: int  # where the predicate's text ends
    field: Field
    op: str
    operand: str  # "number", "string", "cpus" or "function"
    value: str
    ustring: bool


def _parse_pred(expr: str, start: int, fields: Mapping[str, Field],
                ncpus: int) -> FilterError | Pred:
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
    return Pred(i, field, op, operand, expr[value:text_end], ustring)


#: What the walk over a filter's text sees: predicates and the words between them.
Token = Pred | str  # "(", ")", "!", "&&" or "||"


def walk(expr: str, fields: Mapping[str, Field], ncpus: int) -> FilterError | list[Token]:
    """``predicate_parse``'s first pass: the text's tokens, or why the kernel refuses it."""
    counted = _calc_stack(expr)
    if isinstance(counted, FilterError):
        return counted
    if not counted:
        return FilterError(errno.EINVAL, 0, 0)
    max_preds = counted + 2
    n = len(expr)
    depth = 0
    tokens: list[Token] = []
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
    # A text that ends in "&&" or "||" gets here with the operator eaten: as
    # upstream predicate_parse (6.x, e.g. commit 0291023e7330), whose first pass
    # then stops at the NUL and only checks the parentheses and that a predicate
    # was seen, it is taken. Some 6.18.44 builds refuse it as "Meaningless filter
    # expression" (tests/compat: test_a_trailing_or_is_taken_or_refused_as_the_build_does).
    return _finish(depth, preds, ptr) or tokens


def _finish(depth: int, preds: int, ptr: int) -> FilterError | None:
    if depth:
        return FilterError(errno.EPERM, TOO_MANY_OPEN, ptr)
    if not preds:
        return FilterError(errno.EINVAL, NO_FILTER, ptr)
    return None


def check_filter(expr: str, fields: Mapping[str, Field], ncpus: int) -> FilterError | None:
    """Why the kernel refuses ``expr`` over ``fields``, or None if it takes it."""
    walked = walk(expr, fields, ncpus)
    return walked if isinstance(walked, FilterError) else None
