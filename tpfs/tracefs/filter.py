"""Event filters (``events/S/E/filter``), as ``trace_events_filter.c`` checks them.

A filter is predicates ``FIELD OP VALUE`` joined by ``&&``/``||``, with
``!`` and parentheses, over the fields the event's ``format`` declares.
Filters are checked here, not evaluated: nothing fires events yet.
"""

from __future__ import annotations

import re

SUBSYSTEM_FILTER_HELP = (
    "### global filter ###\n"
    "# Use this to set filters for multiple events.\n"
    "# Only events with the given fields will be affected.\n"
    "# If no events are modified, an error message will be displayed here\n"
)

_TOKEN_RE = re.compile(r"\s*(&&|\|\||==|!=|<=|>=|[<>&~!()]|\"[^\"]*\"|'[^']*'|[\w.\-+/*]+)")
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "&", "~"})
_PUNCTUATION = _COMPARISONS | {"&&", "||", "(", ")", "!"}
_FIELD_RE = re.compile(r"field:[^;]*?(\w+)(?:\[[^\]]*\])?;")


def filter_fields(fmt: str) -> set[str]:
    """The field names an event's ``format`` text declares."""
    return set(_FIELD_RE.findall(fmt))


def check_filter(expr: str, fields: set[str]) -> str | None:
    """Why ``expr`` is not a valid filter over ``fields``, or None if it is."""
    tokens: list[str] = []
    pos = 0
    while pos < len(expr.rstrip()):
        m = _TOKEN_RE.match(expr, pos)
        if m is None:
            return "Illegal token"
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        return "No filter"
    i = 0
    depth = 0
    expect_pred = True
    while i < len(tokens):
        tok = tokens[i]
        if expect_pred:
            if tok in ("(", "!"):
                depth += tok == "("
                i += 1
                continue
            if tok not in fields:
                return "Field not found"
            if i + 1 >= len(tokens) or tokens[i + 1] not in _COMPARISONS:
                return "Missing operator"
            if i + 2 >= len(tokens) or tokens[i + 2] in _PUNCTUATION:
                return "Missing operand"
            i += 3
            expect_pred = False
        elif tok == ")":
            depth -= 1
            if depth < 0:
                return "Unbalanced parens"
            i += 1
        elif tok in ("&&", "||"):
            expect_pred = True
            i += 1
        else:
            return "Invalid operator"
    if expect_pred:
        return "Missing operand"
    if depth:
        return "Unbalanced parens"
    return None
