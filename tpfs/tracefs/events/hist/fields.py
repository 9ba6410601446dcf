"""Hist fields (``struct hist_field``): keys, values, variables, references and
expressions, their flags and modifiers, how the trigger line names them, and
the arithmetic of expressions, as ``trace_events_hist.c`` has them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..filter import Field
from .errors import HIST_DIV_SHIFT, U64

if TYPE_CHECKING:
    from .histogram import HistTriggerData

# enum hist_field_flags
(FL_HITCOUNT, FL_KEY, FL_STRING, FL_HEX, FL_SYM, FL_SYM_OFFSET, FL_EXECNAME, FL_SYSCALL,
 FL_STACKTRACE, FL_LOG2, FL_TIMESTAMP, FL_TIMESTAMP_USECS, FL_VAR, FL_EXPR, FL_VAR_REF, FL_CPU,
 FL_ALIAS, FL_BUCKET, FL_CONST, FL_PERCENT, FL_GRAPH) = (1 << i for i in range(21))

#: ``get_hist_field_flags``: the modifier a field shows, first match wins.
_FLAG_NAMES = ((FL_HEX, "hex"), (FL_SYM, "sym"), (FL_SYM_OFFSET, "sym-offset"),
               (FL_EXECNAME, "execname"), (FL_SYSCALL, "syscall"), (FL_LOG2, "log2"),
               (FL_BUCKET, "buckets"), (FL_TIMESTAMP_USECS, "usecs"), (FL_PERCENT, "percent"),
               (FL_GRAPH, "graph"), (FL_STACKTRACE, "stacktrace"))
MODIFIERS = {"hex": FL_HEX, "sym": FL_SYM, "symXoffset": FL_SYM_OFFSET, "syscall": FL_SYSCALL,
             "stacktrace": FL_STACKTRACE, "log2": FL_LOG2, "usecs": FL_TIMESTAMP_USECS}


@dataclass(eq=False, slots=True)
class HistField:
    """``struct hist_field``: a key, value, variable, reference or expression."""

    flags: int
    field: Field | None = None
    name: str = ""  # the event field's, or an expression's text, or a reference's variable
    var_name: str | None = None
    operands: tuple[HistField, ...] = ()
    operator: str = ""  # "+", "-", "*", "/", or "neg" for unary minus
    constant: int = 0
    div_multiplier: int = 0
    buckets: int = 0
    size: int = 0
    is_signed: bool = False
    type: str = ""
    offset: int = 0  # where a key field sits in the key
    var_idx: int = -1  # a variable's slot in each entry
    owner: HistTriggerData | None = None  # a reference's: whose variable
    system: str | None = None
    event: str | None = None
    ref_idx: int = -1  # a reference's slot in var_ref_vals
    read_once: bool = False

    @property
    def display_name(self) -> str:
        """``hist_field_name``."""
        return _field_name(self, 0)


def _field_name(hf: HistField, level: int) -> str:
    if level > 1:
        return ""
    if hf.field is not None:
        return hf.name
    if hf.flags & (FL_LOG2 | FL_ALIAS | FL_BUCKET) and hf.operands:
        return _field_name(hf.operands[0], level + 1)
    if hf.flags & FL_CPU:
        return "common_cpu"
    if hf.flags & FL_HITCOUNT:
        return "hitcount"
    if hf.flags & (FL_EXPR | FL_VAR_REF):
        if hf.system:
            return f"{hf.system}.{hf.event}.{hf.name}"
        return hf.name
    if hf.flags & FL_TIMESTAMP:
        return "common_timestamp"
    return ""


def _flag_name(hf: HistField) -> str | None:
    return next((name for bit, name in _FLAG_NAMES if hf.flags & bit), None)


def hist_field_print(hf: HistField) -> str:
    """How the trigger line shows a field (``hist_field_print``)."""
    out = f"{hf.var_name}=" if hf.var_name else ""
    if hf.flags & FL_CPU:
        out += "common_cpu"
    elif hf.flags & FL_CONST:
        out += str(hf.constant)
    else:
        out += "$" * bool(hf.flags & (FL_VAR_REF | FL_ALIAS)) + hf.display_name
    if hf.flags and not hf.flags & (FL_VAR_REF | FL_EXPR | FL_STACKTRACE):
        flags = _flag_name(hf)
        if flags:
            out += "." + flags
    if hf.buckets:
        out += f"={hf.buckets}"
    return out


def _expr_field_str(hf: HistField) -> str:
    out = "$" if hf.flags & FL_VAR_REF else str(hf.constant) if hf.flags & FL_CONST else ""
    out += hf.display_name
    if hf.flags and not hf.flags & FL_VAR_REF:
        flags = _flag_name(hf)
        if flags:
            out += "." + flags
    return out


def expr_str(hf: HistField) -> str:
    """``expr_str``: an expression's name."""
    if not hf.operands:
        return _expr_field_str(hf)
    if hf.operator == "neg":
        return "-(" + expr_str(hf.operands[0]) + ")"
    return _expr_field_str(hf.operands[0]) + hf.operator + _expr_field_str(hf.operands[1])


def contains_operator(text: str) -> tuple[str, int]:
    """``contains_operator``: the root operator (the rightmost of the lowest
    precedence) and where it is; ``neg`` for a leading ``-``."""
    minus, plus = text.rfind("-"), text.rfind("+")
    if minus == 0:
        return "neg", 0
    if minus > 0 or plus >= 0:
        return ("+", plus) if plus > minus else ("-", minus)
    div, mult = text.rfind("/"), text.rfind("*")
    if mult > div:
        return "*", mult
    if div >= 0:
        return "/", div
    return "", -1


def has_vars(hf: HistField, level: int) -> bool:
    """``field_has_hist_vars``."""
    if level > 3:
        return False
    if hf.flags & (FL_VAR | FL_VAR_REF):
        return True
    return any(has_vars(op, level + 1) for op in hf.operands)


def arith(op: str, a: int, b: int, divisor: HistField) -> int:
    """``hist_field_plus`` and the rest, in u64."""
    if op == "+":
        return (a + b) & U64
    if op == "-":
        return (a - b) & U64
    if op == "*":
        return (a * b) & U64
    if not b:
        return U64
    if divisor.flags & FL_CONST and divisor.div_multiplier and a < 1 << HIST_DIV_SHIFT:
        # div_by_mult_and_shift: the kernel's approximation, rounded up
        return (a * divisor.div_multiplier + (1 << HIST_DIV_SHIFT) - 1) >> HIST_DIV_SHIFT
    return a // b


def ilog2_roundup(val: int) -> int:
    """``ilog2(roundup_pow_of_two(val))`` on a 64-bit kernel."""
    return ((val - 1) & U64).bit_length() & 63

