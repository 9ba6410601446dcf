"""A histogram as ``trace_events_hist.c`` declares it: ``struct hist_trigger_data``
(the parsed trigger and its map), ``struct action_data`` with the handler and
action kinds as enums, the trigger (``event_trigger_data``) and when two
triggers are the same (``hist_trigger_match``).

The handlers (``onmatch``, ``onmax``, ``onchange``) and the actions
(``save``, ``trace``, ``snapshot``) are tables here: each kind says how it
is written and what it checks; what each does is ``actions.py``'s.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from ..filter import Field, Predicate, filter_fields
from ..synth import SynthEvent
from .errors import TRACING_MAP_BITS_DEFAULT
from .fields import FL_STACKTRACE, FL_VAR, HistField, hist_field_print
from .tracing_map import TracingMap


@dataclass(frozen=True, slots=True)
class HandlerKind:
    """What a handler is: its word, and for ``onmax``/``onchange`` (which track a
    variable's value per entry) the tracking variable, its label in the ``hist``
    file and ``check_track_val``: whether a new value replaces the tracked one."""

    word: str
    track_var: str = ""
    label: str = ""
    check: Callable[[int, int], bool] | None = None


class Handler(Enum):
    """``enum handler_id``: when an action runs."""

    ONMATCH = HandlerKind("onmatch")
    ONMAX = HandlerKind("onmax", "__max", "max", operator.gt)
    ONCHANGE = HandlerKind("onchange", "__change", "changed", operator.ne)

    @property
    def word(self) -> str:
        return self.value.word

    @property
    def tracks(self) -> bool:
        """Whether it keeps a tracked value (``onmax``, ``onchange``)."""
        return self.value.check is not None


#: A handler by the word that starts it.
HANDLERS = {handler.word: handler for handler in Handler}


@dataclass(frozen=True, slots=True)
class ActionKindOps:
    """What an action is: its word, and whether ``onmatch`` may have it."""

    word: str
    with_onmatch: bool


class ActionKind(Enum):
    """``enum action_id``: what a handler does."""

    SAVE = ActionKindOps("save", False)
    TRACE = ActionKindOps("trace", True)
    SNAPSHOT = ActionKindOps("snapshot", False)

    @property
    def word(self) -> str:
        return self.value.word


@dataclass(slots=True)
class Action:
    """``struct action_data``: a handler and its action."""

    handler: Handler
    action: ActionKind
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

    @property
    def target(self) -> str:
        """What the handler's parentheses hold: ``S.E`` for onmatch, else ``$var``."""
        if self.handler is Handler.ONMATCH:
            return f"{self.match_system}.{self.match_event}"
        return self.var_str

    def spec(self, save_vars: list[tuple[HistField, HistField]]) -> str:
        """``print_onmatch_spec`` / ``print_track_data_spec``."""
        args = _SPEC_ARGS[self.action](self, save_vars)
        return f":{self.handler.word}({self.target}).{self.action_name}({args})"


def _save_args(action: Action, save_vars: list[tuple[HistField, HistField]]) -> str:
    return ",".join(var.var_name or "" for var, _ in save_vars)


def _trace_args(action: Action, save_vars: list[tuple[HistField, HistField]]) -> str:
    names = ([action.synth_name] if action.synth_name is not None else []) + action.params
    return ",".join(names)


def _no_args(action: Action, save_vars: list[tuple[HistField, HistField]]) -> str:
    return ""


#: What each action shows in its parentheses.
_SPEC_ARGS: dict[ActionKind, Callable[[Action, list[tuple[HistField, HistField]]], str]] = {
    ActionKind.SAVE: _save_args, ActionKind.TRACE: _trace_args, ActionKind.SNAPSHOT: _no_args}


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


@dataclass(eq=False, slots=True)
class HistTrigger:
    """``event_trigger_data`` of a hist command: the histogram (shared by named
    triggers), its filter and whether it is paused."""

    data: HistTriggerData
    filter: str | None = None
    paused: bool = False
    test: Predicate | None = field(default=None, repr=False)
    #: Tells triggers apart in a reader's cursor without holding them.
    serial: int = field(default_factory=itertools.count().__next__)

    @property
    def name(self) -> str | None:
        return self.data.name

    def render(self) -> str:
        """The trigger's line in the ``trigger`` file (and the ``hist`` file's header)."""
        return self.data.spec(self.data.name, self.filter, self.paused)



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
        if x.target != y.target:
            return False
    return True



def compatible_keys(target: HistTriggerData, data: HistTriggerData) -> bool:
    """``compatible_keys``: as many keys, of the same types, sizes and signs."""
    return len(data.keys) == len(target.keys) and all(
        (a.type, a.size, a.is_signed) == (b.type, b.size, b.is_signed)
        for a, b in zip(target.keys, data.keys, strict=True))


