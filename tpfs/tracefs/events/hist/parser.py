"""The hist trigger's syntax, as ``event_hist_trigger_parse`` reads it: the
attributes (``keys=``, ``vals=``, ``sort=``, ``size=``, ``name=``,
``clock=``, ``pause``/``cont``/``clear``, ``nohitcount``), fields with their
modifiers, variables (``x=EXPR``) and references to them (``$x``,
``S.E.$x``), expressions (``+ - * /``, unary minus, constants), keys, values
and sort keys. Handlers and actions are only collected here, as text;
``actions.py`` parses and creates them.

A parser works on one ``HistTriggerData``; what it needs of the other
histograms (variables elsewhere, events' formats, synthetic events, the
histograms made for field variables) it asks its ``HistScope``.
"""

from __future__ import annotations

import errno
from typing import Protocol

from ...kstr import MAX_FILTER_STR_VAL, SPACES, kstrtoull
from ..filter import Field
from ..synth import SynthEvent
from .errors import (
    ERR_BAD_FIELD_MODIFIER,
    ERR_DIVISION_BY_ZERO,
    ERR_DUPLICATE_VAR,
    ERR_EMPTY_ASSIGNMENT,
    ERR_EMPTY_SORT_FIELD,
    ERR_EXPECT_NUMBER,
    ERR_FIELD_NOT_FOUND,
    ERR_FIELD_VAR_PARSE_FAIL,
    ERR_INVALID_REF_KEY,
    ERR_INVALID_SORT_FIELD,
    ERR_INVALID_SORT_MODIFIER,
    ERR_INVALID_STR_OPERAND,
    ERR_MALFORMED_ASSIGNMENT,
    ERR_NEED_NOHC_VAL,
    ERR_TIMESTAMP_MISMATCH,
    ERR_TOO_MANY_FIELD_VARS,
    ERR_TOO_MANY_SORT_FIELDS,
    ERR_TOO_MANY_SUBEXPR,
    ERR_TOO_MANY_VARS,
    ERR_UNARY_MINUS_SUBEXPR,
    ERR_VAR_CREATE_FIND_FAIL,
    ERR_VAR_NOT_FOUND,
    HIST_ACTIONS_MAX,
    HIST_DIV_SHIFT,
    HIST_KEY_SIZE_MAX,
    HIST_STACKTRACE_DEPTH,
    SYNTH_FIELDS_MAX,
    TRACING_MAP_BITS_MAX,
    TRACING_MAP_BITS_MIN,
    TRACING_MAP_KEYS_MAX,
    TRACING_MAP_SORT_KEYS_MAX,
    TRACING_MAP_VALS_MAX,
    TRACING_MAP_VARS_MAX,
    Refused,
)
from .fields import (
    FL_ALIAS,
    FL_BUCKET,
    FL_CONST,
    FL_CPU,
    FL_EXECNAME,
    FL_EXPR,
    FL_GRAPH,
    FL_HITCOUNT,
    FL_KEY,
    FL_LOG2,
    FL_PERCENT,
    FL_STACKTRACE,
    FL_STRING,
    FL_SYM,
    FL_SYM_OFFSET,
    FL_SYSCALL,
    FL_TIMESTAMP,
    FL_TIMESTAMP_USECS,
    FL_VAR,
    FL_VAR_REF,
    MODIFIERS,
    HistField,
    arith,
    contains_operator,
    expr_str,
    has_vars,
)
from .histogram import HANDLERS, HistTriggerData


class HistScope(Protocol):
    """What a parser asks of the instance's other histograms (``HistContext``)."""

    synth_events: dict[str, SynthEvent]

    def event_format(self, system: str, event: str) -> str | None: ...

    def var_defined(self, data: HistTriggerData, name: str) -> bool: ...

    def find_event_var(self, parser: Parser, system: str | None, event: str | None,
                       name: str) -> HistField | None: ...

    def field_var_hist(self, parser: Parser, system: str, event: str,
                       name: str) -> HistField | None: ...


class Parser:
    """``event_hist_trigger_parse`` and the ``create_*`` functions it calls."""

    def __init__(self, ctx: HistScope, data: HistTriggerData, command: str,
                 remove: bool = False) -> None:
        self.ctx = ctx
        self.data = data
        self.command = command
        self.remove = remove  # ``hist_data->remove``: a ``!hist`` may name its variables
        self.log: list[tuple[int, int]] = []
        self.var_defs: list[tuple[str, str]] = []

    def err(self, code: int, where: str | None = None) -> None:
        """``hist_err``: log an error with the caret at ``where`` in the command."""
        pos = self.command.find(where) if where else 0
        self.log.append((code, max(pos, 0)))

    def fail(self, code: int, where: str | None = None, err: int = errno.EINVAL) -> Refused:
        self.err(code, where)
        return Refused(err)

    # parse_hist_trigger_attrs
    def attrs(self, param: str) -> None:
        d = self.data
        for word in param.split(":"):
            if "=" in word:
                if not word.split("=", 1)[1]:
                    raise self.fail(ERR_EMPTY_ASSIGNMENT, word)
                self.assignment(word)
            elif word in ("nohitcount", "NOHC"):
                d.no_hitcount = True
            elif word == "pause":
                d.pause = True
            elif word in ("cont", "continue"):
                d.cont = True
            elif word == "clear":
                d.clear = True
            elif (word.partition("(")[0] in HANDLERS and "(" in word
                  and len(d.action_strs) < HIST_ACTIONS_MAX):
                d.action_strs.append(word)
            else:
                raise Refused()
        if d.keys_str is None:
            raise Refused()

    def assignment(self, word: str) -> None:
        d = self.data
        head, _, rest = word.partition("=")
        if head in ("key", "keys"):
            d.keys_str = rest
        elif head in ("val", "vals", "values"):
            d.vals_str = rest
        elif head == "sort":
            d.sort_key_str = rest
        elif word.startswith("name="):
            d.name = word
        elif word.startswith("clock="):
            d.clock = word[6:].strip(SPACES)
        elif word.startswith("size="):
            try:
                size = kstrtoull(word[5:])
            except ValueError:
                raise Refused() from None
            except OverflowError:
                raise Refused(errno.ERANGE) from None
            bits = max(size - 1, 0).bit_length() if size else 0
            if not TRACING_MAP_BITS_MIN <= bits <= TRACING_MAP_BITS_MAX:
                raise Refused()
            d.map_bits = bits
        else:
            if len(d.assignments) == TRACING_MAP_VARS_MAX:
                raise self.fail(ERR_TOO_MANY_VARS, word)
            d.assignments.append(word)

    # parse_field
    def parse_field(self, text: str, flags: int) -> tuple[Field | None, int, int]:
        name, dot, modifier = text.partition(".")
        buckets = 0
        if dot:
            if modifier in MODIFIERS:
                flags |= MODIFIERS[modifier]
            elif modifier == "execname" and name == "common_pid":
                flags |= FL_EXECNAME
            elif modifier.startswith("bucket"):
                rest = modifier[6:].removeprefix("s")
                try:
                    buckets = kstrtoull(rest[1:]) if rest.startswith("=") else 0
                except (ValueError, OverflowError):
                    buckets = 0
                if not buckets:
                    raise self.fail(ERR_BAD_FIELD_MODIFIER, modifier)
                flags |= FL_BUCKET
            elif modifier.startswith(("percent", "graph")) and not flags & (FL_VAR | FL_KEY):
                flags |= FL_PERCENT if modifier.startswith("percent") else FL_GRAPH
            else:
                raise self.fail(ERR_BAD_FIELD_MODIFIER, modifier)
        if name == "common_timestamp":
            self.data.enable_timestamps = True
            if flags & FL_TIMESTAMP_USECS:
                self.data.ts_in_usecs = True
            return None, flags | FL_TIMESTAMP, buckets
        if name == "common_stacktrace":
            return None, flags | FL_STACKTRACE, buckets
        if name == "common_cpu":
            return None, flags | FL_CPU, buckets
        if name == "hitcount":
            return None, flags | FL_HITCOUNT, buckets
        found = self.data.fields.get(name)
        if found is None or not found.size:
            if found is not None and found.filter_type == "cpu":
                return None, flags | FL_CPU, buckets
            raise self.fail(ERR_FIELD_NOT_FOUND, name)
        return found, flags, buckets

    # create_hist_field
    def create(self, fld: Field | None, flags: int, var_name: str | None, name: str = "",
               buckets: int = 0) -> HistField:
        hf = HistField(flags, fld, name, var_name, buckets=buckets)
        if flags & (FL_HITCOUNT | FL_CONST):
            hf.size, hf.type = 8, "u64"
        elif flags & FL_STACKTRACE:
            hf.size, hf.type = HIST_STACKTRACE_DEPTH * 8, "unsigned long[]"
        elif flags & (FL_LOG2 | FL_BUCKET):
            inner = self.create(fld, flags & ~(FL_LOG2 | FL_BUCKET), None, name)
            hf.operands, hf.size, hf.type = (inner,), inner.size, inner.type
        elif flags & FL_TIMESTAMP:
            hf.size, hf.type = 8, "u64"
        elif flags & FL_CPU:
            hf.size, hf.type = 4, "unsigned int"
        elif fld is not None:
            if fld.is_string and fld.filter_type != "ptr_string":
                hf.flags |= FL_STRING
                hf.type = fld.type
                hf.size = fld.size if fld.filter_type == "static_string" else MAX_FILTER_STR_VAL
            elif fld.size in (1, 2, 4, 8):
                hf.size, hf.is_signed, hf.type = fld.size, fld.signed, fld.type
            else:
                raise Refused(errno.ENOMEM)  # create_hist_field returns NULL
        return self.make_var(hf)

    def make_var(self, hf: HistField) -> HistField:
        """A variable gets a slot in each entry, and this trigger as its owner."""
        if hf.var_name is not None:
            hf.var_idx = self.data.new_var_slot()
            hf.owner = self.data
        return hf

    def parse_atom(self, text: str, flags: int, var_name: str | None) -> HistField:
        if text[:1].isdigit():
            try:
                constant = kstrtoull(text)
            except (ValueError, OverflowError):
                raise self.fail(ERR_EXPECT_NUMBER, text) from None
            hf = self.create(None, flags | FL_CONST, var_name)
            hf.constant = constant
            return hf
        ref_system = ref_event = None
        ref_var = text
        parts = text.split(".", 2)
        if len(parts) == 3:
            ref_system, ref_event, ref_var = parts
            text = ref_var
        local = self.local_field_var_ref(ref_system, ref_event, ref_var)
        if local is None:
            ref = self.parse_var_ref(ref_system, ref_event, ref_var)
            if ref is not None:
                if var_name is None:
                    return ref
                alias = HistField(FL_ALIAS | FL_VAR, None, ref.name, var_name, operands=(ref,),
                                  size=ref.size, is_signed=ref.is_signed, type=ref.type,
                                  owner=ref.owner, ref_idx=ref.ref_idx)
                alias.flags |= ref.flags & (FL_TIMESTAMP | FL_TIMESTAMP_USECS)
                return self.make_var(alias)
        else:
            text = local
        fld, flags, buckets = self.parse_field(text, flags)
        return self.create(fld, flags, var_name, text.partition(".")[0], buckets)

    def local_field_var_ref(self, system: str | None, event: str | None,
                            var: str) -> str | None:
        d = self.data
        if system and event and (system, event) != (d.system, d.event):
            return None
        if bool(system) != bool(event) or not (len(var) >= 2 and var[0] == "$"):
            return None
        for name, expr in self.var_defs:
            if name == var[1:] and not contains_operator(expr)[0] and not (
                    len(expr) >= 2 and expr[0] == "$"):
                return expr
        return None

    def parse_var_ref(self, system: str | None, event: str | None,
                      var: str) -> HistField | None:
        if not (len(var) >= 2 and var[0] == "$"):
            return None
        target = self.ctx.find_event_var(self, system, event, var[1:])
        if target is None:
            self.err(ERR_VAR_NOT_FOUND, var[1:])
            return None
        return self.var_ref(target, system, event)

    def var_ref(self, var: HistField, system: str | None, event: str | None) -> HistField:
        """``create_var_ref``: one reference per variable, shared."""
        d = self.data
        for ref in d.var_refs:
            if ref.var_idx == var.var_idx and ref.owner is var.owner:
                return ref
        if len(d.var_refs) >= TRACING_MAP_VARS_MAX:
            raise Refused(errno.ENOMEM)
        ref = HistField(FL_VAR_REF | (var.flags & (FL_TIMESTAMP | FL_TIMESTAMP_USECS)), None,
                        var.var_name or var.name, size=var.size, is_signed=var.is_signed,
                        type=var.type, var_idx=var.var_idx, owner=var.owner, system=system,
                        event=event, ref_idx=len(d.var_refs))
        d.var_refs.append(ref)
        return ref

    def parse_unary(self, text: str, var_name: str | None, depth: list[int]) -> HistField:
        depth[0] += 1
        if depth[0] > 3:
            raise self.fail(ERR_TOO_MANY_SUBEXPR, text)
        inner = text[1:]
        if "(" not in inner:
            raise Refused()
        inner = inner[1:]
        close = inner.rfind(")")
        if close < 0:
            raise Refused()
        if close != len(inner) - 1:
            raise self.fail(ERR_UNARY_MINUS_SUBEXPR, inner)
        inner = inner[:close]
        operand = self.parse_expr(inner, 0, None, depth)
        if operand.flags & FL_STRING:
            raise self.fail(ERR_INVALID_STR_OPERAND, inner)
        expr = HistField(FL_EXPR | (operand.flags & (FL_TIMESTAMP | FL_TIMESTAMP_USECS)),
                         var_name=var_name, operands=(operand,), operator="neg",
                         size=operand.size, is_signed=operand.is_signed, type=operand.type)
        expr.name = expr_str(expr)
        return self.make_var(expr)

    def parse_expr(self, text: str, flags: int, var_name: str | None,
                   depth: list[int]) -> HistField:
        if depth[0] > 3:
            raise self.fail(ERR_TOO_MANY_SUBEXPR, text)
        op, at = contains_operator(text)
        if not op:
            return self.parse_atom(text, flags, var_name)
        if op == "neg":
            return self.parse_unary(text, var_name, depth)
        depth[0] += 1
        left, right = text[:at], text[at + 1:]
        if not left or not right:
            raise Refused()
        op1 = self.parse_expr(left, 0, None, depth)
        if op1.flags & FL_STRING:
            raise self.fail(ERR_INVALID_STR_OPERAND, left)
        op2 = self.parse_expr(right, 0, None, depth)
        if op2.flags & FL_STRING:
            raise self.fail(ERR_INVALID_STR_OPERAND, right)
        var1 = self.referenced(op1)
        var2 = self.referenced(op2)
        f1 = var1.flags if var1 else op1.flags
        f2 = var2.flags if var2 else op2.flags
        if (f1 ^ f2) & FL_TIMESTAMP_USECS:
            raise self.fail(ERR_TIMESTAMP_MISMATCH)
        combine = bool(f1 & f2 & FL_CONST)
        expr = HistField((flags | (FL_CONST if combine else FL_EXPR)
                          | (op1.flags & (FL_TIMESTAMP | FL_TIMESTAMP_USECS))),
                         var_name=var_name, operands=(op1, op2), operator=op)
        op1.read_once = op2.read_once = True
        if op == "/" and f2 & FL_CONST:
            divisor = var2.constant if var2 else op2.constant
            if not divisor:
                raise self.fail(ERR_DIVISION_BY_ZERO, right, errno.EDOM)
            op2.constant = divisor
            if divisor & (divisor - 1) and divisor <= 1 << HIST_DIV_SHIFT:
                op2.div_multiplier = (1 << HIST_DIV_SHIFT) // divisor
        if combine:
            c1 = var1.constant if var1 else op1.constant
            c2 = var2.constant if var2 else op2.constant
            expr.constant = arith(op, c1, c2, op2)
            expr.operands = ()
            expr.size, expr.type = 8, "u64"
        else:
            expr.size, expr.is_signed, expr.type = op1.size, op1.is_signed, op1.type
        expr.name = expr_str(expr)
        return self.make_var(expr)

    def referenced(self, hf: HistField) -> HistField | None:
        """``check_expr_operands``: the variable a reference or alias stands for."""
        if not hf.flags & (FL_VAR_REF | FL_ALIAS):
            return None
        owner = hf.owner
        var = owner.find_var(hf.name) if owner is not None else None
        if var is None:
            raise Refused()
        return var

    # create_hist_fields
    def fields(self) -> None:
        d = self.data
        for assignment in d.assignments:
            for item in assignment.split(","):
                name, eq, expr = item.partition("=")
                if not eq:
                    raise self.fail(ERR_MALFORMED_ASSIGNMENT, name)
                if len(self.var_defs) == TRACING_MAP_VARS_MAX:
                    raise self.fail(ERR_TOO_MANY_VARS, name)
                self.var_defs.append((name, expr))
        d.vals.append(self.create(None, FL_HITCOUNT, None))
        self.val_fields()
        for name, expr in self.var_defs:
            if self.ctx.var_defined(d, name) and not self.remove:
                raise self.fail(ERR_DUPLICATE_VAR, name)
            hf = self.val_field(expr, FL_VAR, name)
            if hf.flags & FL_EXECNAME:
                hf.flags = FL_STRING | FL_VAR | FL_EXECNAME
                hf.size, hf.is_signed, hf.type = MAX_FILTER_STR_VAL, False, "char[]"
        self.key_fields()

    def val_field(self, text: str, flags: int, var_name: str | None) -> HistField:
        hf = self.parse_expr(text, flags, var_name, [0])
        bad = FL_BUCKET | FL_LOG2
        if hf.flags & FL_VAR:
            bad |= FL_GRAPH | FL_PERCENT
        else:
            bad |= FL_SYM | FL_SYM_OFFSET | FL_SYSCALL | FL_STACKTRACE
        if hf.flags & bad:
            raise self.fail(ERR_BAD_FIELD_MODIFIER, text)
        self.data.vals.append(hf)
        return hf

    def val_fields(self) -> None:
        d = self.data
        n_hitcount = 0
        values = 1
        items = d.vals_str.split(",") if d.vals_str is not None else []
        for i, item in enumerate(items):
            if i >= TRACING_MAP_VALS_MAX or values >= TRACING_MAP_VALS_MAX:
                if ",".join(items[i:]) != "hitcount":
                    raise Refused()
                break
            if item == "hitcount":
                n_hitcount += 1
                if n_hitcount == 1:
                    continue
            self.val_field(item, 0, None)
            values += 1
        if values == 1 and d.no_hitcount:
            raise self.fail(ERR_NEED_NOHC_VAL, err=errno.ENOENT)

    def key_fields(self) -> None:
        d = self.data
        assert d.keys_str is not None
        items = d.keys_str.split(",")
        if len(items) > TRACING_MAP_KEYS_MAX:
            raise Refused()
        for item in items:
            if item == "stacktrace":
                hf = self.create(None, FL_KEY | FL_STACKTRACE, None)
            else:
                hf = self.parse_expr(item, FL_KEY, None, [0])
                if has_vars(hf, 0):
                    raise self.fail(ERR_INVALID_REF_KEY, item)
            hf.size = -(-hf.size // 8) * 8
            hf.offset = d.key_size
            d.key_size += hf.size
            if d.key_size > HIST_KEY_SIZE_MAX:
                raise Refused()
            d.keys.append(hf)

    def sort_keys(self) -> None:
        d = self.data
        hitcount = d.vals[0]
        d.sort_keys = [(hitcount, False)]
        if d.sort_key_str is None:
            return
        items = d.sort_key_str.split(",")
        keys: list[tuple[HistField, bool]] = []
        for i, item in enumerate(items[:TRACING_MAP_SORT_KEYS_MAX]):
            if not item:
                raise self.fail(ERR_EMPTY_SORT_FIELD, "sort=")
            if i == TRACING_MAP_SORT_KEYS_MAX - 1 and len(items) > TRACING_MAP_SORT_KEYS_MAX:
                raise self.fail(ERR_TOO_MANY_SORT_FIELDS, "sort=")
            name, dot, modifier = item.partition(".")
            if not name:
                raise self.fail(ERR_EMPTY_SORT_FIELD, "sort=")
            candidates = [hitcount] if name == "hitcount" else [
                hf for hf in d.vals[1:] + d.keys
                if not hf.flags & FL_VAR and hf.display_name == name]
            if not candidates:
                raise self.fail(ERR_INVALID_SORT_FIELD, name)
            if dot and modifier not in ("descending", "ascending"):
                raise self.fail(ERR_INVALID_SORT_MODIFIER, modifier)
            keys.append((candidates[0], modifier == "descending"))
        d.sort_keys = keys

    # parse_actions

    def field_var(self, name: str) -> tuple[HistField, HistField] | None:
        """``create_field_var``: a variable that saves a field of this event."""
        d = self.data
        if len(d.field_vars) >= SYNTH_FIELDS_MAX:
            self.err(ERR_TOO_MANY_FIELD_VARS, name)
            return None
        try:
            val = self.parse_atom(name, FL_VAR, None)
        except Refused:
            self.err(ERR_FIELD_VAR_PARSE_FAIL, name)
            return None
        if self.ctx.var_defined(d, name):
            self.err(ERR_VAR_CREATE_FIND_FAIL, name)
            return None
        var = HistField(FL_VAR, None, name, name, size=val.size, type=val.type,
                        is_signed=val.is_signed, var_idx=d.new_var_slot(), owner=d)
        return var, val



def qualified(param: str) -> tuple[str | None, str | None, str | None]:
    """``SYSTEM.EVENT.NAME`` or ``NAME`` (None as the name: malformed)."""
    system, dot, rest = param.partition(".")
    if not dot:
        return None, None, param
    event, dot, name = rest.partition(".")
    return (system, event, name) if dot else (system, event, None)



def separate_filter(text: str) -> tuple[str, str | None]:
    """The trigger and its ``if FILTER``: the first ``if`` with a blank each side."""
    at = 0
    while True:
        p = text.find("if", at)
        if p < 0:
            return text, None
        if p == 0:
            raise Refused()
        if text[p - 1] not in " \t":
            at = p + 1
            continue
        if p >= len(text) - 3:
            raise Refused()
        if text[p + 2] not in " \t":
            at = p + 1
            continue
        return text[:p - 1].strip(SPACES), text[p:].strip(SPACES)
