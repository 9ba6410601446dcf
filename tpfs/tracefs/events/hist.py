"""Hist triggers (``hist:keys=...``), parsed, aggregated and shown as ``trace_events_hist.c`` does.

A hist trigger keeps a ``tracing_map`` from a key (up to three event
fields, or ``stacktrace``) to running sums (``hitcount`` and up to two
value fields), bounded by ``size`` entries: hits past that are counted as
dropped. Fields take the kernel's modifiers (``.hex``, ``.sym``,
``.sym-offset``, ``.execname``, ``.syscall``, ``.log2``, ``.buckets=N``,
``.usecs``, ``.percent``, ``.graph``), the special fields
``common_timestamp`` and ``common_cpu``, constants and ``+ - * /``
expressions. Variables (``ts0=common_timestamp``) are kept per entry and
read by other histograms with the same key (``$ts0``); actions
(``onmatch(S.E).trace(synth,...)``, ``onmax($v).save(...)``,
``onchange($v)...``) run when their event hits, and synthetic event
firings come back to the caller to carry out.

``HistContext`` is a trace instance's set of hist triggers: it takes the
lines written to ``events/S/E/trigger`` (``command``), the event's firings
(``fire``), and renders the ``hist`` file (``show``) and the trigger lines
(``HistTrigger.render``). Errors are ``HistError``: the errno, and the
``error_log`` entries the kernel would add. Fields are looked up with
``filter_fields`` (the kernel's ``trace_find_event_field``): the hist code
chooses how to read a field by its ``filter_type``, which that computes.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from ...kernel.errors import TpfsError
from ..kstr import MAX_FILTER_STR_VAL, SPACES, kstrtoull
from .filter import (
    Field,
    Predicate,
    check_filter,
    compile_filter,
    filter_fields,
    task_comm,
)
from .synth import STR_VAR_LEN_MAX, SynthEvent

#: ``err_text[]``: a hist error's code is its index here.
HIST_ERRORS = (
    "No error", "Variable already defined",
    "Variable name not unique, need to use fully qualified name (subsys.event.var) for variable",
    "Too many variables defined", "Malformed assignment",
    "Named hist trigger doesn't match existing named trigger (includes variables)",
    "Hist trigger already exists", "Can't clear or continue a nonexistent hist trigger",
    "Couldn't set trace_clock", "Invalid field modifier", "Too many subexpressions (3 max)",
    "Timestamp units in expression don't match", "Too many field variables defined",
    "Event file not found", "Matching event histogram not found",
    "Couldn't create histogram for field", "Couldn't find synthetic variable",
    "Couldn't find synthetic event", "Param type doesn't match synthetic event field type",
    "Param count doesn't match synthetic event field count", "Couldn't parse field variable",
    "Couldn't create or find variable", "For onmax(x) or onchange(x), x must be a variable",
    "Couldn't find onmax or onchange variable", "Couldn't create onmax or onchange variable",
    "Couldn't create field variable", "Too many action params", "Couldn't find param",
    "Invalid action param", "No action found", "No params found for save()",
    "Can't have more than one save() action per hist", "Handler doesn't support action",
    "No closing paren found", "Missing subsystem", "Invalid subsystem or event name",
    "Using variable references in keys not supported", "Couldn't find variable",
    "Couldn't find field", "Empty assignment", "Invalid sort modifier", "Empty sort field",
    "Too many sort fields (Max = 2)", "Sort field must be a key or a val",
    "String type can not be an operand in expression", "Expecting numeric literal",
    "Unary minus not supported in sub-expressions", "Division by zero",
    "Non-hitcount value is required for 'nohitcount'",
)
(ERR_DUPLICATE_VAR, ERR_VAR_NOT_UNIQUE, ERR_TOO_MANY_VARS, ERR_MALFORMED_ASSIGNMENT,
 ERR_NAMED_MISMATCH, ERR_TRIGGER_EEXIST, ERR_TRIGGER_ENOENT_CLEAR, ERR_SET_CLOCK_FAIL,
 ERR_BAD_FIELD_MODIFIER, ERR_TOO_MANY_SUBEXPR, ERR_TIMESTAMP_MISMATCH, ERR_TOO_MANY_FIELD_VARS,
 ERR_EVENT_FILE_NOT_FOUND, ERR_HIST_NOT_FOUND, ERR_HIST_CREATE_FAIL, ERR_SYNTH_VAR_NOT_FOUND,
 ERR_SYNTH_EVENT_NOT_FOUND, ERR_SYNTH_TYPE_MISMATCH, ERR_SYNTH_COUNT_MISMATCH,
 ERR_FIELD_VAR_PARSE_FAIL, ERR_VAR_CREATE_FIND_FAIL, ERR_ONX_NOT_VAR, ERR_ONX_VAR_NOT_FOUND,
 ERR_ONX_VAR_CREATE_FAIL, ERR_FIELD_VAR_CREATE_FAIL, ERR_TOO_MANY_PARAMS, ERR_PARAM_NOT_FOUND,
 ERR_INVALID_PARAM, ERR_ACTION_NOT_FOUND, ERR_NO_SAVE_PARAMS, ERR_TOO_MANY_SAVE_ACTIONS,
 ERR_ACTION_MISMATCH, ERR_NO_CLOSING_PAREN, ERR_SUBSYS_NOT_FOUND, ERR_INVALID_SUBSYS_EVENT,
 ERR_INVALID_REF_KEY, ERR_VAR_NOT_FOUND, ERR_FIELD_NOT_FOUND, ERR_EMPTY_ASSIGNMENT,
 ERR_INVALID_SORT_MODIFIER, ERR_EMPTY_SORT_FIELD, ERR_TOO_MANY_SORT_FIELDS,
 ERR_INVALID_SORT_FIELD, ERR_INVALID_STR_OPERAND, ERR_EXPECT_NUMBER, ERR_UNARY_MINUS_SUBEXPR,
 ERR_DIVISION_BY_ZERO, ERR_NEED_NOHC_VAL) = range(1, 49)

# tracing_map.h and trace_events_hist.c limits
TRACING_MAP_BITS_DEFAULT, TRACING_MAP_BITS_MIN, TRACING_MAP_BITS_MAX = 11, 7, 17
TRACING_MAP_KEYS_MAX = 3
TRACING_MAP_VALS_MAX = 3
TRACING_MAP_VARS_MAX = 16
TRACING_MAP_SORT_KEYS_MAX = 2
HIST_ACTIONS_MAX = 8
SYNTH_FIELDS_MAX = 64
HIST_STACKTRACE_DEPTH = 16
HIST_KEY_SIZE_MAX = MAX_FILTER_STR_VAL + HIST_STACKTRACE_DEPTH * 8
HIST_DIV_SHIFT = 20
_U64 = (1 << 64) - 1

# enum hist_field_flags
(FL_HITCOUNT, FL_KEY, FL_STRING, FL_HEX, FL_SYM, FL_SYM_OFFSET, FL_EXECNAME, FL_SYSCALL,
 FL_STACKTRACE, FL_LOG2, FL_TIMESTAMP, FL_TIMESTAMP_USECS, FL_VAR, FL_EXPR, FL_VAR_REF, FL_CPU,
 FL_ALIAS, FL_BUCKET, FL_CONST, FL_PERCENT, FL_GRAPH) = (1 << i for i in range(21))

#: ``get_hist_field_flags``: the modifier a field shows, first match wins.
_FLAG_NAMES = ((FL_HEX, "hex"), (FL_SYM, "sym"), (FL_SYM_OFFSET, "sym-offset"),
               (FL_EXECNAME, "execname"), (FL_SYSCALL, "syscall"), (FL_LOG2, "log2"),
               (FL_BUCKET, "buckets"), (FL_TIMESTAMP_USECS, "usecs"), (FL_PERCENT, "percent"),
               (FL_GRAPH, "graph"), (FL_STACKTRACE, "stacktrace"))
_MODIFIERS = {"hex": FL_HEX, "sym": FL_SYM, "symXoffset": FL_SYM_OFFSET, "syscall": FL_SYSCALL,
              "stacktrace": FL_STACKTRACE, "log2": FL_LOG2, "usecs": FL_TIMESTAMP_USECS}

#: Resolvers the ``hist`` file uses: an address to ``%ps`` / ``%pS`` text, a
#: syscall number to its name; None where unknown.
Resolver = Callable[[int], "str | None"]
Value = int | bytes


class HistError(TpfsError):
    """A refused hist command: its errno, and the ``error_log`` entries it adds
    (``HIST_ERRORS`` codes with the caret position in ``command``)."""

    def __init__(self, err: int, log: list[tuple[int, int]], command: str) -> None:
        self.log = log
        self.command = command
        text = HIST_ERRORS[log[-1][0]] if log else "bad hist trigger"
        super().__init__(err, f"hist trigger {command!r}: {text}")

    @property
    def messages(self) -> list[str]:
        return [HIST_ERRORS[code] for code, _ in self.log]


class _Refused(Exception):
    """Unwinds a parse; ``HistContext`` turns it into a ``HistError``."""

    def __init__(self, err: int = errno.EINVAL) -> None:
        super().__init__(err)
        self.errno = err


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


def _expr_str(hf: HistField) -> str:
    """``expr_str``: an expression's name."""
    if not hf.operands:
        return _expr_field_str(hf)
    if hf.operator == "neg":
        return "-(" + _expr_str(hf.operands[0]) + ")"
    return _expr_field_str(hf.operands[0]) + hf.operator + _expr_field_str(hf.operands[1])


@dataclass(slots=True)
class Action:
    """``struct action_data``: a handler (onmatch, onmax, onchange) and its action."""

    handler: str
    action: str  # "save", "trace", "snapshot"
    action_name: str
    params: list[str]
    match_system: str = ""
    match_event: str = ""
    var_str: str = ""  # onmax/onchange: the "$var" as written
    synth_name: str | None = None  # trace(NAME,...): the keyword form's event
    synth: SynthEvent | None = None
    arg_refs: list[HistField] = field(default_factory=list)
    track_ref: HistField | None = None
    track_var: HistField | None = None

    def spec(self, save_vars: list[tuple[HistField, HistField]]) -> str:
        """``print_onmatch_spec`` / ``print_track_data_spec``."""
        if self.action == "save":
            args = ",".join(var.var_name or "" for var, _ in save_vars)
        elif self.action == "trace":
            names = ([self.synth_name] if self.synth_name is not None else []) + self.params
            args = ",".join(names)
        else:
            args = ""
        if self.handler == "onmatch":
            return f":onmatch({self.match_system}.{self.match_event}).{self.action_name}({args})"
        return f":{self.handler}({self.var_str}).{self.action_name}({args})"


@dataclass(eq=False, slots=True)
class HistTriggerData:
    """``struct hist_trigger_data``: a parsed hist trigger and its ``tracing_map``."""

    system: str
    event: str
    fmt: str
    keys_str: str | None = None
    vals_str: str | None = None
    sort_key_str: str | None = None
    name: str | None = None
    clock: str = "global"
    pause: bool = False
    cont: bool = False
    clear: bool = False
    no_hitcount: bool = False
    ts_in_usecs: bool = False
    map_bits: int = TRACING_MAP_BITS_DEFAULT
    assignments: list[str] = field(default_factory=list)
    action_strs: list[str] = field(default_factory=list)
    vals: list[HistField] = field(default_factory=list)  # hitcount, values and variables
    keys: list[HistField] = field(default_factory=list)
    sort_keys: list[tuple[HistField, bool]] = field(default_factory=list)
    key_size: int = 0
    enable_timestamps: bool = False
    var_refs: list[HistField] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    field_vars: list[tuple[HistField, HistField]] = field(default_factory=list)  # (var, val)
    save_vars: list[tuple[HistField, HistField]] = field(default_factory=list)
    #: the histograms ``create_field_var_hist`` made on other events for this one
    field_var_hists: list[HistTrigger] = field(default_factory=list)
    n_var_slots: int = 0
    map: TracingMap = field(init=False)

    @property
    def fields(self) -> dict[str, Field]:
        return filter_fields(self.fmt)

    @property
    def n_vars(self) -> int:
        return sum(1 for v in self.vals if v.flags & FL_VAR)

    def find_var(self, name: str) -> HistField | None:
        """``find_var_field``: this trigger's variable ``name``."""
        return next((hf for hf in self.vals + self.keys
                     if hf.flags & FL_VAR and hf.var_name == name), None)

    def new_var_slot(self) -> int:
        self.n_var_slots += 1
        return self.n_var_slots - 1

    def spec(self, name: str | None, filter_text: str | None, paused: bool) -> str:
        """``event_hist_trigger_print``: the trigger's line, ending in ``[active]``/``[paused]``."""
        out = "hist:" + (f"{name}:" if name else "") + "keys="
        out += ",".join("common_stacktrace" if k.flags & FL_STACKTRACE and k.field is None
                        else hist_field_print(k) for k in self.keys)
        hitcount = self.vals[0]
        shown = [("hitcount" if v is hitcount else hist_field_print(v))
                 for v in self.vals if not v.flags & FL_VAR
                 and not (v is hitcount and self.no_hitcount)]
        out += ":vals=" + ",".join(shown)
        variables = [hist_field_print(v) for v in self.vals if v.flags & FL_VAR]
        if variables:
            out += ":" + ",".join(variables)
        out += ":sort=" + ",".join(
            ("hitcount" if hf is hitcount else hist_field_print(hf))
            + ".descending" * descending for hf, descending in self.sort_keys)
        out += f":size={1 << self.map_bits}"
        if self.enable_timestamps:
            out += f":clock={self.clock}"
        if self.no_hitcount:
            out += ":nohitcount"
        out += "".join(a.spec(self.save_vars) for a in self.actions)
        if filter_text is not None:
            out += f" if {filter_text}"
        return out + (" [paused]" if paused else " [active]") + "\n"


# -- parsing ------------------------------------------------------------------


class _Parser:
    """``event_hist_trigger_parse`` and the ``create_*`` functions it calls."""

    def __init__(self, ctx: HistContext, data: HistTriggerData, command: str,
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

    def fail(self, code: int, where: str | None = None, err: int = errno.EINVAL) -> _Refused:
        self.err(code, where)
        return _Refused(err)

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
            elif (word.startswith(("onmatch(", "onmax(", "onchange("))
                  and len(d.action_strs) < HIST_ACTIONS_MAX):
                d.action_strs.append(word)
            else:
                raise _Refused()
        if d.keys_str is None:
            raise _Refused()

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
                raise _Refused() from None
            except OverflowError:
                raise _Refused(errno.ERANGE) from None
            bits = max(size - 1, 0).bit_length() if size else 0
            if not TRACING_MAP_BITS_MIN <= bits <= TRACING_MAP_BITS_MAX:
                raise _Refused()
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
            if modifier in _MODIFIERS:
                flags |= _MODIFIERS[modifier]
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
                raise _Refused(errno.ENOMEM)  # create_hist_field returns NULL
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
            if name == var[1:] and not _contains_operator(expr)[0] and not (
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
            raise _Refused(errno.ENOMEM)
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
            raise _Refused()
        inner = inner[1:]
        close = inner.rfind(")")
        if close < 0:
            raise _Refused()
        if close != len(inner) - 1:
            raise self.fail(ERR_UNARY_MINUS_SUBEXPR, inner)
        inner = inner[:close]
        operand = self.parse_expr(inner, 0, None, depth)
        if operand.flags & FL_STRING:
            raise self.fail(ERR_INVALID_STR_OPERAND, inner)
        expr = HistField(FL_EXPR | (operand.flags & (FL_TIMESTAMP | FL_TIMESTAMP_USECS)),
                         var_name=var_name, operands=(operand,), operator="neg",
                         size=operand.size, is_signed=operand.is_signed, type=operand.type)
        expr.name = _expr_str(expr)
        return self.make_var(expr)

    def parse_expr(self, text: str, flags: int, var_name: str | None,
                   depth: list[int]) -> HistField:
        if depth[0] > 3:
            raise self.fail(ERR_TOO_MANY_SUBEXPR, text)
        op, at = _contains_operator(text)
        if not op:
            return self.parse_atom(text, flags, var_name)
        if op == "neg":
            return self.parse_unary(text, var_name, depth)
        depth[0] += 1
        left, right = text[:at], text[at + 1:]
        if not left or not right:
            raise _Refused()
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
            expr.constant = _arith(op, c1, c2, op2)
            expr.operands = ()
            expr.size, expr.type = 8, "u64"
        else:
            expr.size, expr.is_signed, expr.type = op1.size, op1.is_signed, op1.type
        expr.name = _expr_str(expr)
        return self.make_var(expr)

    def referenced(self, hf: HistField) -> HistField | None:
        """``check_expr_operands``: the variable a reference or alias stands for."""
        if not hf.flags & (FL_VAR_REF | FL_ALIAS):
            return None
        owner = hf.owner
        var = owner.find_var(hf.name) if owner is not None else None
        if var is None:
            raise _Refused()
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
                    raise _Refused()
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
            raise _Refused()
        for item in items:
            if item == "stacktrace":
                hf = self.create(None, FL_KEY | FL_STACKTRACE, None)
            else:
                hf = self.parse_expr(item, FL_KEY, None, [0])
                if _has_vars(hf, 0):
                    raise self.fail(ERR_INVALID_REF_KEY, item)
            hf.size = -(-hf.size // 8) * 8
            hf.offset = d.key_size
            d.key_size += hf.size
            if d.key_size > HIST_KEY_SIZE_MAX:
                raise _Refused()
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
    def parse_actions(self) -> None:
        for text in self.data.action_strs:
            handler, _, rest = text.partition("(")
            if handler == "onmatch":
                target, closed, rest = rest.partition(")")
                if not closed:
                    raise self.fail(ERR_NO_CLOSING_PAREN, target)
                system, dot, event = target.partition(".")
                if not dot:
                    raise self.fail(ERR_SUBSYS_NOT_FOUND, system)
                if self.ctx.event_format(system, event) is None:
                    raise self.fail(ERR_INVALID_SUBSYS_EVENT, event)
                action = self.action_parse(rest, "onmatch")
                action.match_system, action.match_event = system, event
            else:
                var_str, closed, rest = rest.partition(")")
                if not closed:
                    raise _Refused()
                action = self.action_parse(rest, handler)
                action.var_str = var_str
            self.data.actions.append(action)

    def action_parse(self, text: str, handler: str) -> Action:
        _, dot, rest = text.partition(".")
        name, paren, rest = rest.partition("(")
        if not dot or not paren:
            raise self.fail(ERR_ACTION_NOT_FOUND)
        params_text, closed, _ = rest.partition(")")
        if name.startswith("save"):
            if handler == "onmatch":
                raise self.fail(ERR_ACTION_MISMATCH, name)
            return Action(handler, "save", name, self.params(params_text, False)[1])
        if name.startswith("snapshot"):
            if not closed:
                raise self.fail(ERR_NO_CLOSING_PAREN, params_text)
            if handler == "onmatch":
                raise self.fail(ERR_ACTION_MISMATCH, name)
            return Action(handler, "snapshot", name, [])
        keyword = name.startswith("trace")
        synth_name, params = self.params(params_text, keyword)
        return Action(handler, "trace", name, params, synth_name=synth_name)

    def params(self, text: str, keyword: bool) -> tuple[str | None, list[str]]:
        """``parse_action_params``: the comma-separated params (the first is the
        event's name in the ``trace(NAME,...)`` form)."""
        params: list[str] = []
        first: str | None = None
        for raw in text.split(","):
            if len(params) >= SYNTH_FIELDS_MAX:
                self.err(ERR_TOO_MANY_PARAMS)
                break
            param = raw.strip(SPACES)
            if len(param) < 2:
                raise self.fail(ERR_INVALID_PARAM, param)
            if keyword and first is None:
                first = param
                continue
            params.append(param)
        return first, params

    # create_actions
    def create_actions(self) -> None:
        for action in self.data.actions:
            if action.handler == "onmatch":
                self.action_create(action)
            else:
                self.track_data_create(action)

    def track_data_create(self, action: Action) -> None:
        d = self.data
        if not action.var_str.startswith("$"):
            raise self.fail(ERR_ONX_NOT_VAR, action.var_str)
        var = d.find_var(action.var_str[1:])
        if var is None:
            raise self.fail(ERR_ONX_VAR_NOT_FOUND, action.var_str[1:])
        action.track_ref = self.var_ref(var, None, None)
        track_name = "__max" if action.handler == "onmax" else "__change"
        action.track_var = HistField(FL_VAR, None, track_name, track_name, size=8, type="u64",
                                     var_idx=d.new_var_slot(), owner=d)
        self.action_create(action)

    def action_create(self, action: Action) -> None:
        if action.action == "trace":
            self.trace_action_create(action)
        elif action.action == "snapshot":
            # tracing_snapshot_cond_enable: this kernel has no CONFIG_TRACER_SNAPSHOT,
            # and its stub refuses, logging nothing.
            raise _Refused(errno.ENODEV)
        elif action.action == "save":
            d = self.data
            if d.save_vars:
                raise self.fail(ERR_TOO_MANY_SAVE_ACTIONS, err=errno.EEXIST)
            for param in action.params:
                made = self.field_var(param)
                if made is None:
                    raise self.fail(ERR_FIELD_VAR_CREATE_FAIL, param)
                d.save_vars.append(made)

    def field_var(self, name: str) -> tuple[HistField, HistField] | None:
        """``create_field_var``: a variable that saves a field of this event."""
        d = self.data
        if len(d.field_vars) >= SYNTH_FIELDS_MAX:
            self.err(ERR_TOO_MANY_FIELD_VARS, name)
            return None
        try:
            val = self.parse_atom(name, FL_VAR, None)
        except _Refused:
            self.err(ERR_FIELD_VAR_PARSE_FAIL, name)
            return None
        if self.ctx.var_defined(d, name):
            self.err(ERR_VAR_CREATE_FIND_FAIL, name)
            return None
        var = HistField(FL_VAR, None, name, name, size=val.size, type=val.type,
                        is_signed=val.is_signed, var_idx=d.new_var_slot(), owner=d)
        return var, val

    def trace_action_create(self, action: Action) -> None:
        synth_name = action.synth_name if action.synth_name is not None else action.action_name
        synth = self.ctx.synth_events.get(synth_name)
        if synth is None:
            raise self.fail(ERR_SYNTH_EVENT_NOT_FOUND, synth_name)
        for pos, param in enumerate(action.params):
            system, event, name = _qualified(param)
            if name is None:
                raise _Refused()
            if name.startswith("$"):
                var = self.action_find_var(action, system, event, name)
            else:
                var = self.action_field_var(action, system, event, name)
            if var is None:
                raise _Refused()
            if not _synth_field_ok(synth, var, pos):
                raise self.fail(ERR_SYNTH_TYPE_MISMATCH, name)
            action.arg_refs.append(self.var_ref(var, system, event))
        if len(action.params) != len(synth.fields):
            raise self.fail(ERR_SYNTH_COUNT_MISMATCH, synth.name)
        action.synth = synth

    def action_find_var(self, action: Action, system: str | None, event: str | None,
                        name: str) -> HistField | None:
        d = self.data
        var = None
        if not system or (system, event) == (d.system, d.event):
            var = d.find_var(name[1:])
        if var is None:
            if not system and action.handler == "onmatch":
                system, event = action.match_system, action.match_event
            var = self.ctx.find_event_var(self, system, event, name[1:])
        if var is None:
            self.err(ERR_PARAM_NOT_FOUND, name[1:])
        return var

    def action_field_var(self, action: Action, system: str | None, event: str | None,
                         name: str) -> HistField | None:
        """``trace_action_create_field_var``: a field of this event (a variable
        here saves it), else of the event named or, unqualified, of the
        ``onmatch`` event (a histogram made there saves it)."""
        d = self.data
        if not system or (system, event) == (d.system, d.event):
            made = self.field_var(name)
            if made is not None:
                d.field_vars.append(made)
                return made[0]
        if not system and action.handler == "onmatch":
            system, event = action.match_system, action.match_event
        if not system or not event:
            return None
        return self.ctx.field_var_hist(self, system, event, name)


def _qualified(param: str) -> tuple[str | None, str | None, str | None]:
    """``SYSTEM.EVENT.NAME`` or ``NAME`` (None as the name: malformed)."""
    system, dot, rest = param.partition(".")
    if not dot:
        return None, None, param
    event, dot, name = rest.partition(".")
    return (system, event, name) if dot else (system, event, None)


def _compatible_keys(target: HistTriggerData, data: HistTriggerData) -> bool:
    """``compatible_keys``: as many keys, of the same types, sizes and signs."""
    return len(data.keys) == len(target.keys) and all(
        (a.type, a.size, a.is_signed) == (b.type, b.size, b.is_signed)
        for a, b in zip(target.keys, data.keys, strict=True))


def _synth_field_ok(synth: SynthEvent, var: HistField, pos: int) -> bool:
    """``check_synth_field``."""
    if pos >= len(synth.fields):
        return False
    f = synth.fields[pos]
    if "char[" in var.type and f.is_string and f.is_dynamic:
        return True
    if f.type != var.type:
        return f.size == var.size and (f.is_string or f.is_signed == var.is_signed)
    return True


def _contains_operator(text: str) -> tuple[str, int]:
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


def _has_vars(hf: HistField, level: int) -> bool:
    """``field_has_hist_vars``."""
    if level > 3:
        return False
    if hf.flags & (FL_VAR | FL_VAR_REF):
        return True
    return any(_has_vars(op, level + 1) for op in hf.operands)


def _arith(op: str, a: int, b: int, divisor: HistField) -> int:
    """``hist_field_plus`` and the rest, in u64."""
    if op == "+":
        return (a + b) & _U64
    if op == "-":
        return (a - b) & _U64
    if op == "*":
        return (a * b) & _U64
    if not b:
        return _U64
    if divisor.flags & FL_CONST and divisor.div_multiplier and a < 1 << HIST_DIV_SHIFT:
        # div_by_mult_and_shift: the kernel's approximation, rounded up
        return (a * divisor.div_multiplier + (1 << HIST_DIV_SHIFT) - 1) >> HIST_DIV_SHIFT
    return a // b


def _ilog2_roundup(val: int) -> int:
    """``ilog2(roundup_pow_of_two(val))`` on a 64-bit kernel."""
    return ((val - 1) & _U64).bit_length() & 63


# -- the map and its entries --------------------------------------------------


@dataclass(eq=False, slots=True)
class _Elt:
    """``tracing_map_elt``: a key's sums, variables and the comm that made it."""

    key: bytes
    sums: list[int]
    vars: list[Value | None]
    comm: str
    seq: int


@dataclass(slots=True)
class TracingMap:
    """``tracing_map``: at most ``1 << bits`` entries; a new key when full is a drop."""

    bits: int
    elts: dict[bytes, _Elt] = field(default_factory=dict)
    hits: int = 0
    drops: int = 0
    inserted: int = 0

    def insert(self, key: bytes, n_vals: int, n_vars: int, comm: str) -> _Elt | None:
        elt = self.elts.get(key)
        if elt is None:
            if len(self.elts) >= 1 << self.bits:
                self.drops += 1
                return None
            elt = _Elt(key, [0] * n_vals, [None] * n_vars, comm, self.inserted)
            self.inserted += 1
            self.elts[key] = elt
        self.hits += 1
        return elt

    def clear(self) -> None:
        self.elts.clear()
        self.hits = self.drops = self.inserted = 0


@dataclass(frozen=True, slots=True)
class Firing:
    """What a hist trigger sees of an event firing."""

    record: bytes
    cpu: int
    pid: int
    comm: str
    ts: int  # the trace clock's stamp
    stack: tuple[int, ...] = ()
    #: ``trace_clock_in_ns``: whether ``ts`` counts nanoseconds (``.usecs`` divides only then).
    ts_in_ns: bool = True


@dataclass(frozen=True, slots=True)
class SynthFiring:
    """A synthetic event to fire: its name and field values, in field order."""

    event: str
    values: dict[str, int | bytes]


_INT = {(1, False): "<B", (1, True): "<b", (2, False): "<H", (2, True): "<h",
        (4, False): "<I", (4, True): "<i", (8, False): "<Q", (8, True): "<q"}


def _read_string(fld: Field, record: bytes) -> bytes:
    kind = fld.filter_type
    if kind == "static_string":
        raw = record[fld.offset:fld.offset + fld.size]
    else:
        item = struct.unpack_from("<I", record, fld.offset)[0]
        start = item & 0xFFFF
        if kind == "rdyn_string":
            start += fld.offset + 4
        raw = record[start:start + (item >> 16)]
    return raw.split(b"\0", 1)[0]


def _saved_comm(pid: int, comm: str) -> str:
    """``save_comm``."""
    return "<idle>" if not pid else comm


@dataclass(slots=True)
class _Eval:
    data: HistTriggerData
    firing: Firing
    elt: _Elt | None
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
            return _ilog2_roundup(n) if f & FL_LOG2 else n // hf.buckets * hf.buckets
        if hf.operator == "neg":
            neg = self.value(hf.operands[0])
            return -(neg if isinstance(neg, int) else 0) & _U64
        if hf.operator:
            a, b = (self.value(op) for op in hf.operands)
            return _arith(hf.operator, a if isinstance(a, int) else 0,
                          b if isinstance(b, int) else 0, hf.operands[1])
        if f & FL_TIMESTAMP:
            ts = self.firing.ts
            return (ts + 500) // 1000 if self.data.ts_in_usecs and self.firing.ts_in_ns else ts
        if f & FL_CPU:
            return self.firing.cpu
        if f & FL_EXECNAME and f & FL_STRING:
            return (self.elt.comm if self.elt else "(no comm)").encode()
        fld = hf.field
        if fld is None:
            return 0
        if f & FL_STRING:
            return _read_string(fld, self.firing.record)
        n = struct.unpack_from(_INT[fld.size, fld.signed], self.firing.record, fld.offset)[0]
        return int(n) & _U64


def _key_bytes(data: HistTriggerData, ev: _Eval) -> bytes:
    """The key as ``event_hist_trigger`` builds it: 8-byte numbers, strings cut
    to their room, stack entries; laid out at the key fields' offsets."""
    key = bytearray(data.key_size)
    for hf in data.keys:
        if hf.flags & FL_STACKTRACE:
            stack = ev.firing.stack[:HIST_STACKTRACE_DEPTH]
            raw = b"".join((a & _U64).to_bytes(8, "little") for a in stack)
        else:
            val = ev.value(hf)
            if isinstance(val, bytes):
                raw = val[:hf.size - 1]
            else:
                raw = (val & _U64).to_bytes(8, "little")
        key[hf.offset:hf.offset + len(raw)] = raw
    return bytes(key)


# -- rendering ----------------------------------------------------------------


def _key_u64(key: bytes, hf: HistField) -> int:
    return int.from_bytes(key[hf.offset:hf.offset + 8], "little")


def _unknown(number: int) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Resolvers:
    """What the ``hist`` file needs from outside: ``%ps`` and ``%pS`` of an
    address, the name of a syscall number. None: unknown."""

    sym: Resolver = _unknown
    sym_offset: Resolver = _unknown
    syscall: Resolver = _unknown


def _print_key(data: HistTriggerData, elt: _Elt, res: Resolvers) -> str:
    """``hist_trigger_print_key``."""
    key = elt.key
    parts = []
    multiline = False
    for hf in data.keys:
        name = hf.display_name
        f = hf.flags
        if f & FL_HEX:
            parts.append(f"{name}: {_key_u64(key, hf):x}")
        elif f & (FL_SYM | FL_SYM_OFFSET):
            addr = _key_u64(key, hf)
            text = (res.sym if f & FL_SYM else res.sym_offset)(addr) or f"0x{addr:x}"
            width = 45 if f & FL_SYM else 55
            parts.append(f"{name}: [{addr:x}] {text:<{width}}")
        elif f & FL_EXECNAME:
            parts.append(f"{name}: {elt.comm:<16}[{_key_u64(key, hf):>10}]")
        elif f & FL_SYSCALL:
            nr = _key_u64(key, hf)
            parts.append(f"{name}: {res.syscall(nr) or 'unknown_syscall':<30}[{nr:>3}]")
        elif f & FL_STACKTRACE:
            head = f"{hf.name}.stacktrace" if hf.field is not None else "common_stacktrace:\n"
            lines = ""
            for i in range(HIST_STACKTRACE_DEPTH):
                addr = int.from_bytes(key[hf.offset + 8 * i:hf.offset + 8 * i + 8], "little")
                if not addr:
                    break
                lines += " " * 9 + (res.sym_offset(addr) or f"0x{addr:x}") + "\n"
            parts.append(head + lines)
            multiline = True
        elif f & FL_LOG2:
            parts.append(f"{name}: ~ 2^{_key_u64(key, hf):<2}")
        elif f & FL_BUCKET:
            low = _key_u64(key, hf)
            parts.append(f"{name}: ~ {low}-{(low + hf.buckets - 1) & _U64}")
        elif f & FL_STRING:
            raw = key[hf.offset:hf.offset + hf.size].split(b"\0", 1)[0]
            parts.append(f"{name}: {raw.decode('latin-1'):<50}")
        else:
            parts.append(f"{name}: {_key_u64(key, hf):>10}")
    return "{ " + ", ".join(parts) + ("" if multiline else " ") + "}"


def _percentage(val: int, total: int) -> int | None:
    """``__get_percentage``: hundredths of a percent, None for the error case."""
    if total:
        if val < _U64 // 10000:
            return val * 10000 // total
        total //= 10000
        if total:
            return val // total
    return None if val else 0


def _bar(val: int, top: int) -> str:
    """``__fill_bar_str`` of 20 characters."""
    pc = _percentage(val, top)
    if pc is None:
        return "[ERROR]"
    n = (pc * 20 // 10000) & 0xFFFFFFFF
    return ("#" * min(n, 20)).ljust(20)


def _print_val(name: str, hf: HistField | None, val: int, total: int, top: int) -> str:
    """``hist_trigger_print_val``."""
    f = hf.flags if hf is not None else 0
    if f & FL_PERCENT:
        pc = _percentage(val, total)
        if pc is None or pc > 0xFFFFFFFF:
            return f" {name} (%):[ERROR]"
        return f" {name} (%): {pc // 100:>3}.{pc % 100:02}"
    if f & FL_GRAPH:
        return f" {name}: {_bar(val, top):>20}"
    if f & FL_HEX:
        return f" {name}: {val:>10x}"
    return f" {name}: {val:>10}"


def _cmp_key(hf: HistField, key: bytes) -> int | bytes:
    """What ``tracing_map``'s compare function of a key field compares."""
    if hf.flags & FL_STACKTRACE:
        return 0
    if hf.flags & FL_STRING:
        return key[hf.offset:hf.offset + hf.size].split(b"\0", 1)[0]
    fld = hf.field
    size, signed = (fld.size, fld.signed) if fld is not None and not hf.flags & FL_CPU else (
        hf.size, hf.is_signed)
    raw = key[hf.offset:hf.offset + min(size, 8)]
    return int.from_bytes(raw, "little", signed=signed)


def _sorted(data: HistTriggerData, elts: Iterable[_Elt]) -> list[_Elt]:
    """``tracing_map_sort_entries``: by the first sort key, entries equal on it by
    the second. The kernel's order among equal entries is its hash table's;
    here it is the order the keys came in."""
    out = sorted(elts, key=attrgetter("seq"))
    for hf, descending in reversed(data.sort_keys):
        out.sort(key=_sort_key(data, hf), reverse=descending)
    return out


def _sort_key(data: HistTriggerData, hf: HistField) -> Callable[[_Elt], Any]:
    if hf.flags & FL_KEY:
        return lambda e: _cmp_key(hf, e.key)
    idx = data.vals.index(hf)
    return lambda e: e.sums[idx]


@dataclass(eq=False, slots=True)
class HistTrigger:
    """``event_trigger_data`` of a hist command: the histogram (shared by named
    triggers), its filter and whether it is paused."""

    data: HistTriggerData
    filter: str | None = None
    paused: bool = False
    test: Predicate | None = field(default=None, repr=False)

    @property
    def name(self) -> str | None:
        return self.data.name

    def render(self) -> str:
        """The trigger's line in the ``trigger`` file (and the ``hist`` file's header)."""
        return self.data.spec(self.data.name, self.filter, self.paused)

    def show(self, res: Resolvers) -> str:
        """``hist_trigger_show`` without the separator: header, entries, totals."""
        d = self.data
        out = ["# event histogram\n#\n# trigger info: ", self.render(), "#\n\n"]
        elts = _sorted(d, d.map.elts.values())
        stats: dict[int, tuple[int, int]] = {}
        for i, hf in enumerate(d.vals):
            if hf.flags & (FL_PERCENT | FL_GRAPH):
                sums = [e.sums[i] for e in elts]
                stats[i] = (sum(sums), max(sums, default=0))
        for elt in elts:
            line = _print_key(d, elt, res)
            if not d.no_hitcount:
                line += _print_val("hitcount", None, elt.sums[0], 0, 0)
            for i, hf in enumerate(d.vals[1:], 1):
                if hf.flags & (FL_VAR | FL_EXPR):
                    continue
                total, top = stats.get(i, (0, 0))
                line += " " + _print_val(hf.display_name, hf, elt.sums[i], total, top)
            line += "".join(_track_print(d, a, elt) for a in d.actions
                            if a.handler != "onmatch")
            out.append(line + "\n")
        out.append(f"\nTotals:\n    Hits: {d.map.hits}\n    Entries: {len(elts)}\n"
                   f"    Dropped: {d.map.drops}\n")
        return "".join(out)


def _track_print(d: HistTriggerData, action: Action, elt: _Elt) -> str:
    """``track_data_print``."""
    assert action.track_var is not None
    track = elt.vars[action.track_var.var_idx]
    label = "max" if action.handler == "onmax" else "changed"
    out = f"\n\t{label}: {track if isinstance(track, int) else 0:>10}"
    for var, val in d.save_vars:
        saved = elt.vars[var.var_idx]
        if val.flags & FL_STRING:
            text = saved.decode("latin-1") if isinstance(saved, bytes) else ""
            out += f"  {var.var_name}: {text:<32}"
        else:
            out += f"  {var.var_name}: {saved if isinstance(saved, int) else 0:>10}"
    return out


def hist_trigger_match(a: HistTrigger, b: HistTrigger, named: HistTrigger | None,
                       ignore_filter: bool) -> bool:
    """``hist_trigger_match``: whether ``a`` (as written) is the existing ``b``."""
    if named is not None and named.data is not b.data:
        return False
    if named is None and b.name is not None:
        return False
    da, db = a.data, b.data
    fa, fb = da.vals + da.keys, db.vals + db.keys
    if (len(da.vals) != len(db.vals) or len(fa) != len(fb)
            or len(da.sort_keys) != len(db.sort_keys)):
        return False
    if not ignore_filter and (a.filter is None) != (b.filter is None):
        return False
    for x, y in zip(fa, fb, strict=True):
        if x.flags != y.flags or x.offset != y.offset or x.size != y.size:
            return False
        if x.is_signed != y.is_signed or x.var_name != y.var_name:
            return False
        if (x.field is None) != (y.field is None) or (x.field is not None and (
                x.name, x.field.type, x.field.size, x.field.signed) != (
                y.name, y.field.type if y.field else "", y.field.size if y.field else 0,
                y.field.signed if y.field else False)):
            return False
    for (ka, da_desc), (kb, db_desc) in zip(da.sort_keys, db.sort_keys, strict=True):
        if _field_idx(da, ka) != _field_idx(db, kb) or da_desc != db_desc:
            return False
    if not ignore_filter and a.filter is not None and a.filter != b.filter:
        return False
    return _actions_match(da.actions, db.actions)


def _field_idx(d: HistTriggerData, hf: HistField) -> int:
    plain = [f for f in d.vals + d.keys if not f.flags & FL_VAR]
    return plain.index(hf)


def _actions_match(xs: list[Action], ys: list[Action]) -> bool:
    if len(xs) != len(ys):
        return False
    for x, y in zip(xs, ys, strict=True):
        if (x.handler, x.action, x.params) != (y.handler, y.action, y.params):
            return False
        if (x.synth_name or x.action_name) != (y.synth_name or y.action_name):
            return False
        if x.handler == "onmatch":
            if (x.match_system, x.match_event) != (y.match_system, y.match_event):
                return False
        elif x.var_str != y.var_str:
            return False
    return True


# -- a trace instance's hist triggers ----------------------------------------


class HistContext:
    """A trace instance's hist triggers, over every event (``tr->hist_vars``).

    ``event_format(system, event)`` gives an event's ``format`` text (None if
    there is no such event); ``synth_events`` maps the synthetic events
    defined to their definitions; ``ncpus`` is for the filters' ``CPUS{}``.
    """

    def __init__(self, event_format: Callable[[str, str], str | None],
                 synth_events: dict[str, SynthEvent] | None = None, ncpus: int = 1) -> None:
        self.event_format = event_format
        self.synth_events = synth_events if synth_events is not None else {}
        self.ncpus = ncpus
        self.hists: dict[tuple[str, str], list[HistTrigger]] = {}

    def triggers(self, system: str, event: str) -> list[HistTrigger]:
        """The event's hist triggers, in the order they came (the ``trigger`` file's)."""
        return list(self.hists.get((system, event), ()))

    def triggered(self, system: str, event: str) -> bool:
        """Whether the event has hist triggers (the firing path's quick question)."""
        return (system, event) in self.hists

    def _named(self, name: str) -> HistTrigger | None:
        return next((t for ts in self.hists.values() for t in ts if t.name == name), None)

    def var_defined(self, data: HistTriggerData, name: str) -> bool:
        """``find_var``: a variable of that name on this trigger or another of its event."""
        if data.find_var(name) is not None:
            return True
        return any(t.data.find_var(name) is not None
                   for t in self.hists.get((data.system, data.event), ()))

    def find_event_var(self, parser: _Parser, system: str | None, event: str | None,
                       name: str) -> HistField | None:
        """``find_event_var``: a variable of another histogram, by event or unique."""
        if not system or not event:
            found: HistField | None = None
            for action in parser.data.actions:
                if action.handler != "onmatch":
                    continue
                var = self._file_var(action.match_system, action.match_event, name)
                if var is not None:
                    if found is not None:
                        parser.err(ERR_VAR_NOT_UNIQUE, name)
                        return None
                    found = var
            if found is not None:
                return found
            files = {key for key, ts in self.hists.items()
                     if any(t.data.find_var(name) for t in ts)}
            if len(files) > 1:
                parser.err(ERR_VAR_NOT_UNIQUE, name)
                return None
            if not files:
                return None
            system, event = files.pop()
        return self._file_var(system, event, name)

    def field_var_hist(self, parser: _Parser, system: str, event: str,
                       name: str) -> HistField | None:
        """``create_field_var_hist``: a variable ``synthetic_NAME`` saving the field
        ``name`` of that event, on a histogram of its own there (made once, keyed
        and filtered as the first there with keys like the trigger's), which
        shows in that event's ``trigger`` and ``hist`` files."""
        target = parser.data
        if len(target.field_var_hists) >= SYNTH_FIELDS_MAX:
            parser.err(ERR_TOO_MANY_FIELD_VARS, name)
            return None
        fmt = self.event_format(system, event)
        if fmt is None:
            parser.err(ERR_EVENT_FILE_NOT_FOUND, name)
            return None
        compatible = next((t for t in self.hists.get((system, event), ())
                           if _compatible_keys(target, t.data)), None)
        if compatible is None:
            parser.err(ERR_HIST_NOT_FOUND, name)
            return None
        var_name = "synthetic_" + name
        var = self._file_var(system, event, var_name)
        if var is not None:
            return var
        cmd = ("keys=" + ",".join(k.display_name for k in compatible.data.keys)
               + f":{var_name}={name}")
        if compatible.filter is not None:
            cmd += " if " + compatible.filter
        # Parsed as written there, its errors logged against the command written here.
        made = _Parser(self, HistTriggerData(system, event, fmt), parser.command)
        made.log = parser.log
        try:
            trigger = self._parse(made, cmd, fmt)
            self._register(made, trigger)
        except _Refused:
            parser.err(ERR_HIST_CREATE_FAIL, name)
            return None
        target.field_var_hists.append(trigger)
        return trigger.data.find_var(var_name)

    def _file_var(self, system: str, event: str, name: str) -> HistField | None:
        for t in self.hists.get((system, event), ()):
            var = t.data.find_var(name)
            if var is not None:
                return var
        return None

    def command(self, system: str, event: str, line: str) -> None:
        """A write of ``[!]hist:...`` to the event's ``trigger`` file (``line``
        without its newline): adds, removes, pauses, continues or clears.

        Raises ``HistError`` with the kernel's errno and error log entries.
        """
        fmt = self.event_format(system, event)
        if fmt is None:
            raise TpfsError(errno.ENODEV, f"no event {system}:{event}")
        text = line.strip(SPACES)
        glob, colon, param_and_filter = text.partition(":")
        remove = glob == "!hist"
        command = "hist:" + param_and_filter
        if glob not in ("hist", "!hist") or not colon or not param_and_filter.strip(SPACES):
            raise HistError(errno.EINVAL, [], command)
        data = HistTriggerData(system, event, fmt)
        parser = _Parser(self, data, command, remove)
        try:
            trigger = self._parse(parser, param_and_filter, fmt)
            if remove:
                self._remove(trigger)
                return
            if self._update_only(trigger):
                return
            self._register(parser, trigger)
        except _Refused as refused:
            raise HistError(refused.errno, parser.log, command) from None

    def _parse(self, parser: _Parser, text: str, fmt: str) -> HistTrigger:
        param, filter_text = _separate_filter(text)
        param = param.replace(".sym-offset", ".symXoffset")
        parser.attrs(param)
        data = parser.data
        parser.parse_actions()
        parser.fields()
        parser.sort_keys()
        data.map = TracingMap(data.map_bits)
        trigger = HistTrigger(data)
        if filter_text is not None:
            keyword, _, cond = filter_text.partition(" ")
            if keyword != "if" or not cond:
                raise _Refused()
            if check_filter(cond, filter_fields(fmt), self.ncpus) is not None:
                raise _Refused()
            trigger.filter = cond
            trigger.test = compile_filter(cond, fmt, self.ncpus)
        return trigger

    def _match(self, trigger: HistTrigger) -> HistTrigger | None:
        named = self._named(trigger.name) if trigger.name else None
        for test in self.hists.get((trigger.data.system, trigger.data.event), ()):
            if hist_trigger_match(trigger, test, named, False):
                return test
        return None

    def _remove(self, trigger: HistTrigger) -> bool:
        """``hist_unregister_trigger``: whether a trigger went."""
        found = self._match(trigger)
        if found is None:
            return False
        key = (found.data.system, found.data.event)
        if any(ref.owner is found.data for ts in self.hists.values() for t in ts
               if t.data is not found.data for ref in t.data.var_refs):
            raise _Refused(errno.EBUSY)
        self.hists[key].remove(found)
        if not self.hists[key]:
            del self.hists[key]
        self._free(found.data)
        return True

    def _free(self, data: HistTriggerData) -> set[tuple[str, str]]:
        """``event_hist_trigger_free``: its last trigger gone, the histograms made
        for its field variables go too (``unregister_field_var_hists``), all but
        those another trigger still reads. Returns the events that lost one."""
        if any(t.data is data for ts in self.hists.values() for t in ts):
            return set()
        gone = set()
        for made in data.field_var_hists:
            with suppress(_Refused):
                if self._remove(made):
                    gone.add((made.data.system, made.data.event))
        return gone

    def _update_only(self, trigger: HistTrigger) -> bool:
        """``existing_hist_update_only``: pause, cont or clear an existing trigger."""
        d = trigger.data
        if not (d.pause or d.cont or d.clear):
            return False
        named = None
        if d.name:
            named = self._named(d.name)
            if named is None or not hist_trigger_match(trigger, named, named, True):
                return False
        found = self._match(trigger)
        if found is None:
            return False
        if d.pause:
            found.paused = True
        elif d.cont:
            found.paused = False
        else:
            found.data.map.clear()
        return True

    def _register(self, parser: _Parser, trigger: HistTrigger) -> None:
        d = trigger.data
        named = self._named(d.name) if d.name else None
        if named is not None and not hist_trigger_match(trigger, named, named, True):
            raise parser.fail(ERR_NAMED_MISMATCH, d.name)
        if (named is not None or not d.name) and self._match(trigger) is not None:
            raise parser.fail(ERR_TRIGGER_EEXIST, err=errno.EEXIST)
        if d.cont or d.clear:
            raise parser.fail(ERR_TRIGGER_ENOENT_CLEAR, err=errno.ENOENT)
        trigger.paused = d.pause
        if named is not None:
            trigger.data = named.data
        else:
            parser.create_actions()
        self.hists.setdefault((d.system, d.event), []).append(trigger)

    def uses_synth(self, name: str) -> bool:
        """Whether an action of a trigger here fires the synthetic event ``name``."""
        return any(a.synth is not None and a.synth.name == name
                   for ts in self.hists.values() for t in ts for a in t.data.actions)

    def drop_event(self, system: str, event: str) -> set[tuple[str, str]]:
        """The event went: its triggers go, and with them those that match it
        (``onmatch``) or read variables of a trigger gone, and so on. Returns the
        events that lost triggers."""
        lost: set[HistTriggerData] = set()

        def stale(t: HistTrigger) -> bool:
            d = t.data
            return ((d.system, d.event) == (system, event)
                    or any(ref.owner in lost for ref in d.var_refs)
                    or any((a.match_system, a.match_event) == (system, event)
                           for a in d.actions if a.handler == "onmatch"))

        dropped: set[tuple[str, str]] = set()
        while True:
            more = False
            for key, ts in list(self.hists.items()):
                gone = [t for t in ts if stale(t)]
                if not gone:
                    continue
                more = True
                dropped.add(key)
                lost.update(t.data for t in gone)
                keep = [t for t in ts if t not in gone]
                if keep:
                    self.hists[key] = keep
                else:
                    del self.hists[key]
            if not more:
                for data in lost:
                    dropped |= self._free(data)
                return dropped

    def show(self, system: str, event: str, res: Resolvers | None = None) -> str:
        """The event's ``hist`` file."""
        return "\n\n".join(t.show(res or Resolvers()) for t in self.hists.get((system, event), ()))

    def fire(self, system: str, event: str, firing: Firing) -> list[SynthFiring]:
        """The event fired: every hist trigger on it whose filter passes and that is
        not paused aggregates it. Returns the synthetic events its actions fire."""
        out: list[SynthFiring] = []
        comm = task_comm(firing.comm)
        for trigger in self.hists.get((system, event), ()):
            if trigger.paused:
                continue
            if trigger.test is not None and not trigger.test(firing.record, firing.cpu, comm):
                continue
            out.extend(self._hit(trigger.data, firing))
        return out

    def _resolve(self, d: HistTriggerData, key: bytes, vals: list[Value], own: bool) -> bool:
        """``resolve_var_refs``: read the variables ``d`` refers to from the entries
        of their histograms with the same key."""
        for ref in d.var_refs:
            owner = ref.owner
            if owner is None:
                return False
            if (owner is d) != own:
                continue
            elt = owner.map.elts.get(key[:owner.key_size].ljust(owner.key_size, b"\0"))
            if elt is None or elt.vars[ref.var_idx] is None:
                return False
            value = elt.vars[ref.var_idx]
            assert value is not None
            if not own and ref.read_once:
                elt.vars[ref.var_idx] = None
            vals[ref.ref_idx] = value
        return True

    def _hit(self, d: HistTriggerData, firing: Firing) -> list[SynthFiring]:
        """``event_hist_trigger``."""
        vals: list[Value] = [0] * len(d.var_refs)
        ev = _Eval(d, firing, None, vals)
        key = _key_bytes(d, ev)
        if d.var_refs and not self._resolve(d, key, vals, False):
            return []
        elt = d.map.insert(key, len(d.vals), d.n_var_slots,
                           _saved_comm(firing.pid, firing.comm))
        if elt is None:
            return []
        ev.elt = elt
        for i, hf in enumerate(d.vals):
            value = ev.value(hf)
            if hf.flags & FL_VAR:
                elt.vars[hf.var_idx] = (value[:min(hf.size, STR_VAR_LEN_MAX) - 1]
                                        if isinstance(value, bytes) else value)
            elif isinstance(value, int):
                elt.sums[i] = (elt.sums[i] + value) & _U64
        self._save(ev, d.field_vars)
        if not self._resolve(d, key, vals, True):
            return []
        out: list[SynthFiring] = []
        for action in d.actions:
            if action.handler == "onmatch":
                out.extend(self._trace(action, vals))
                continue
            assert action.track_ref is not None and action.track_var is not None
            value = vals[action.track_ref.ref_idx]
            new = value if isinstance(value, int) else 0
            old = elt.vars[action.track_var.var_idx]
            track = old if isinstance(old, int) else 0
            if new > track if action.handler == "onmax" else new != track:
                elt.vars[action.track_var.var_idx] = new
                if action.action == "save":
                    self._save(ev, d.save_vars)
                elif action.action == "trace":
                    out.extend(self._trace(action, vals))
        return out

    @staticmethod
    def _save(ev: _Eval, pairs: list[tuple[HistField, HistField]]) -> None:
        """``__update_field_vars``."""
        assert ev.elt is not None
        for var, val in pairs:
            value = ev.value(val)
            if isinstance(value, bytes):
                value = value[:min(val.size, STR_VAR_LEN_MAX) - 1]
            ev.elt.vars[var.var_idx] = value

    @staticmethod
    def _trace(action: Action, vals: list[Value]) -> list[SynthFiring]:
        synth = action.synth
        if synth is None:
            return []
        args = [vals[ref.ref_idx] for ref in action.arg_refs]
        return [SynthFiring(synth.name, synth.values(args))]


def _separate_filter(text: str) -> tuple[str, str | None]:
    """The trigger and its ``if FILTER``: the first ``if`` with a blank each side."""
    at = 0
    while True:
        p = text.find("if", at)
        if p < 0:
            return text, None
        if p == 0:
            raise _Refused()
        if text[p - 1] not in " \t":
            at = p + 1
            continue
        if p >= len(text) - 3:
            raise _Refused()
        if text[p + 2] not in " \t":
            at = p + 1
            continue
        return text[:p - 1].strip(SPACES), text[p:].strip(SPACES)
