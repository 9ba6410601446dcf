"""Hist handlers and their actions, as ``trace_events_hist.c``'s ``action_data``:
how ``onmatch(S.E)``, ``onmax($v)`` and ``onchange($v)`` with ``.trace()``,
``.save()`` and ``.snapshot()`` are parsed, created and run, and the
synthetic events an action fires (``SynthFiring``, carried out by the caller).

Each handler and action kind is chosen through a table keyed by
``Handler`` and ``ActionKind`` (``histogram.py``), not by its word.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from ...kstr import SPACES
from ..synth import STR_VAR_LEN_MAX, SynthEvent
from .errors import (
    ERR_ACTION_MISMATCH,
    ERR_ACTION_NOT_FOUND,
    ERR_FIELD_VAR_CREATE_FAIL,
    ERR_INVALID_PARAM,
    ERR_INVALID_SUBSYS_EVENT,
    ERR_NO_CLOSING_PAREN,
    ERR_ONX_NOT_VAR,
    ERR_ONX_VAR_NOT_FOUND,
    ERR_PARAM_NOT_FOUND,
    ERR_SUBSYS_NOT_FOUND,
    ERR_SYNTH_COUNT_MISMATCH,
    ERR_SYNTH_EVENT_NOT_FOUND,
    ERR_SYNTH_TYPE_MISMATCH,
    ERR_TOO_MANY_PARAMS,
    ERR_TOO_MANY_SAVE_ACTIONS,
    SYNTH_FIELDS_MAX,
    Refused,
)
from .evaluate import Evaluation
from .fields import FL_STRING, FL_VAR, HistField
from .histogram import HANDLERS, Action, ActionKind, Handler, HistTriggerData
from .parser import Parser, qualified
from .tracing_map import MapElt, Value


@dataclass(frozen=True, slots=True)
class SynthFiring:
    """A synthetic event to fire: its name and field values, in field order."""

    event: str
    values: dict[str, int | bytes]


# -- parsing: parse_actions ---------------------------------------------------


def parse_actions(parser: Parser) -> None:
    """``parse_actions``: each ``HANDLER(...).ACTION(...)`` the attributes collected."""
    for text in parser.data.action_strs:
        word, _, rest = text.partition("(")
        handler = HANDLERS[word]
        action = _PARSE_HANDLER[handler](parser, handler, rest)
        parser.data.actions.append(action)


def _parse_onmatch(parser: Parser, handler: Handler, rest: str) -> Action:
    target, closed, rest = rest.partition(")")
    if not closed:
        raise parser.fail(ERR_NO_CLOSING_PAREN, target)
    system, dot, event = target.partition(".")
    if not dot:
        raise parser.fail(ERR_SUBSYS_NOT_FOUND, system)
    if parser.ctx.event_format(system, event) is None:
        raise parser.fail(ERR_INVALID_SUBSYS_EVENT, event)
    action = action_parse(parser, rest, handler)
    action.match_system, action.match_event = system, event
    return action


def _parse_track(parser: Parser, handler: Handler, rest: str) -> Action:
    var_str, closed, rest = rest.partition(")")
    if not closed:
        raise Refused()
    action = action_parse(parser, rest, handler)
    action.var_str = var_str
    return action


#: How each handler's parentheses are read.
_PARSE_HANDLER: dict[Handler, Callable[[Parser, Handler, str], Action]] = {
    Handler.ONMATCH: _parse_onmatch, Handler.ONMAX: _parse_track, Handler.ONCHANGE: _parse_track}


#: ``action_parse``: the actions named by their prefix; any other name is a
#: synthetic event's, to ``trace``.
_PREFIXED = (ActionKind.SAVE, ActionKind.SNAPSHOT)


def action_parse(parser: Parser, text: str, handler: Handler) -> Action:
    _, dot, rest = text.partition(".")
    name, paren, rest = rest.partition("(")
    if not dot or not paren:
        raise parser.fail(ERR_ACTION_NOT_FOUND)
    params_text, closed, _ = rest.partition(")")
    kind = next((k for k in _PREFIXED if name.startswith(k.word)), ActionKind.TRACE)
    if kind is ActionKind.SNAPSHOT and not closed:
        raise parser.fail(ERR_NO_CLOSING_PAREN, params_text)
    if handler is Handler.ONMATCH and not kind.value.with_onmatch:
        raise parser.fail(ERR_ACTION_MISMATCH, name)
    if kind is ActionKind.SAVE:
        return Action(handler, kind, name, params(parser, params_text, False)[1])
    if kind is ActionKind.SNAPSHOT:
        return Action(handler, kind, name, [])
    keyword = name.startswith(ActionKind.TRACE.word)
    synth_name, names = params(parser, params_text, keyword)
    return Action(handler, kind, name, names, synth_name=synth_name)


def params(parser: Parser, text: str, keyword: bool) -> tuple[str | None, list[str]]:
    """``parse_action_params``: the comma-separated params (the first is the
    event's name in the ``trace(NAME,...)`` form)."""
    out: list[str] = []
    first: str | None = None
    for raw in text.split(","):
        if len(out) >= SYNTH_FIELDS_MAX:
            parser.err(ERR_TOO_MANY_PARAMS)
            break
        param = raw.strip(SPACES)
        if len(param) < 2:
            raise parser.fail(ERR_INVALID_PARAM, param)
        if keyword and first is None:
            first = param
            continue
        out.append(param)
    return first, out


# -- creating: create_actions -------------------------------------------------


def create_actions(parser: Parser) -> None:
    """``create_actions``: a tracking handler first makes its variable."""
    for action in parser.data.actions:
        if action.handler.tracks:
            track_data_create(parser, action)
        _CREATE[action.action](parser, action)


def track_data_create(parser: Parser, action: Action) -> None:
    d = parser.data
    if not action.var_str.startswith("$"):
        raise parser.fail(ERR_ONX_NOT_VAR, action.var_str)
    var = d.find_var(action.var_str[1:])
    if var is None:
        raise parser.fail(ERR_ONX_VAR_NOT_FOUND, action.var_str[1:])
    action.track_ref = parser.var_ref(var, None, None)
    track_name = action.handler.value.track_var
    action.track_var = HistField(FL_VAR, None, track_name, track_name, size=8, type="u64",
                                 var_idx=d.new_var_slot(), owner=d)


def _snapshot_create(parser: Parser, action: Action) -> None:
    # tracing_snapshot_cond_enable: this kernel has no CONFIG_TRACER_SNAPSHOT,
    # and its stub refuses, logging nothing.
    raise Refused(errno.ENODEV)


def _save_create(parser: Parser, action: Action) -> None:
    d = parser.data
    if d.save_vars:
        raise parser.fail(ERR_TOO_MANY_SAVE_ACTIONS, err=errno.EEXIST)
    for param in action.params:
        made = parser.field_var(param)
        if made is None:
            raise parser.fail(ERR_FIELD_VAR_CREATE_FAIL, param)
        d.save_vars.append(made)


def trace_action_create(parser: Parser, action: Action) -> None:
    synth_name = action.synth_name if action.synth_name is not None else action.action_name
    synth = parser.ctx.synth_events.get(synth_name)
    if synth is None:
        raise parser.fail(ERR_SYNTH_EVENT_NOT_FOUND, synth_name)
    for pos, param in enumerate(action.params):
        system, event, name = qualified(param)
        if name is None:
            raise Refused()
        if name.startswith("$"):
            var = action_find_var(parser, action, system, event, name)
        else:
            var = action_field_var(parser, action, system, event, name)
        if var is None:
            raise Refused()
        if not _synth_field_ok(synth, var, pos):
            raise parser.fail(ERR_SYNTH_TYPE_MISMATCH, name)
        action.arg_refs.append(parser.var_ref(var, system, event))
    if len(action.params) != len(synth.fields):
        raise parser.fail(ERR_SYNTH_COUNT_MISMATCH, synth.name)
    action.synth = synth


#: ``action_create`` of each action kind.
_CREATE: dict[ActionKind, Callable[[Parser, Action], None]] = {
    ActionKind.TRACE: trace_action_create, ActionKind.SNAPSHOT: _snapshot_create,
    ActionKind.SAVE: _save_create}


def _unqualified_target(action: Action, system: str | None,
                        event: str | None) -> tuple[str | None, str | None]:
    """An unqualified param of an ``onmatch`` action names the matched event's."""
    if not system and action.handler is Handler.ONMATCH:
        return action.match_system, action.match_event
    return system, event


def action_find_var(parser: Parser, action: Action, system: str | None, event: str | None,
                    name: str) -> HistField | None:
    d = parser.data
    var = None
    if not system or (system, event) == (d.system, d.event):
        var = d.find_var(name[1:])
    if var is None:
        system, event = _unqualified_target(action, system, event)
        var = parser.ctx.find_event_var(parser, system, event, name[1:])
    if var is None:
        parser.err(ERR_PARAM_NOT_FOUND, name[1:])
    return var


def action_field_var(parser: Parser, action: Action, system: str | None, event: str | None,
                     name: str) -> HistField | None:
    """``trace_action_create_field_var``: a field of this event (a variable
    here saves it), else of the event named or, unqualified, of the
    ``onmatch`` event (a histogram made there saves it)."""
    d = parser.data
    if not system or (system, event) == (d.system, d.event):
        made = parser.field_var(name)
        if made is not None:
            d.field_vars.append(made)
            return made[0]
    system, event = _unqualified_target(action, system, event)
    if not system or not event:
        return None
    return parser.ctx.field_var_hist(parser, system, event, name)


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


# -- running: the handlers' and actions' fns on a hit -------------------------


def run_actions(d: HistTriggerData, ev: Evaluation, elt: MapElt,
                vals: list[Value]) -> list[SynthFiring]:
    """Each action of the histogram on a hit of ``elt``: ``onmatch`` runs its
    action every time, a tracking handler when its check takes the new value."""
    out: list[SynthFiring] = []
    for action in d.actions:
        check = action.handler.value.check
        if check is not None:
            assert action.track_ref is not None and action.track_var is not None
            value = vals[action.track_ref.ref_idx]
            new = value if isinstance(value, int) else 0
            old = elt.vars[action.track_var.var_idx]
            if not check(new, old if isinstance(old, int) else 0):
                continue
            elt.vars[action.track_var.var_idx] = new
        out.extend(_RUN[action.action](d, action, ev, vals))
    return out


def save_vars(ev: Evaluation, pairs: list[tuple[HistField, HistField]]) -> None:
    """``__update_field_vars``."""
    assert ev.elt is not None
    for var, val in pairs:
        value = ev.value(val)
        if isinstance(value, bytes):
            value = value[:min(val.size, STR_VAR_LEN_MAX) - 1]
        ev.elt.vars[var.var_idx] = value


def _save_run(d: HistTriggerData, action: Action, ev: Evaluation,
              vals: list[Value]) -> list[SynthFiring]:
    save_vars(ev, d.save_vars)
    return []


def _trace_run(d: HistTriggerData, action: Action, ev: Evaluation,
               vals: list[Value]) -> list[SynthFiring]:
    synth = action.synth
    if synth is None:
        return []
    args = [vals[ref.ref_idx] for ref in action.arg_refs]
    return [SynthFiring(synth.name, synth.values(args))]


def _snapshot_run(d: HistTriggerData, action: Action, ev: Evaluation,
                  vals: list[Value]) -> list[SynthFiring]:
    return []  # never created on this kernel (no CONFIG_TRACER_SNAPSHOT)


#: Each action kind's ``fn``.
_RUN: dict[ActionKind, Callable[[HistTriggerData, Action, Evaluation, list[Value]],
                                list[SynthFiring]]] = {
    ActionKind.SAVE: _save_run, ActionKind.TRACE: _trace_run,
    ActionKind.SNAPSHOT: _snapshot_run}


def track_print(d: HistTriggerData, action: Action, elt: MapElt) -> str:
    """``track_data_print``: a tracking handler's value and the saved variables."""
    assert action.track_var is not None
    track = elt.vars[action.track_var.var_idx]
    out = f"\n\t{action.handler.value.label}: {track if isinstance(track, int) else 0:>10}"
    for var, val in d.save_vars:
        saved = elt.vars[var.var_idx]
        if val.flags & FL_STRING:
            text = saved.decode("latin-1") if isinstance(saved, bytes) else ""
            out += f"  {var.var_name}: {text:<32}"
        else:
            out += f"  {var.var_name}: {saved if isinstance(saved, int) else 0:>10}"
    return out
