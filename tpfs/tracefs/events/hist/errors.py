"""What a hist command may ask, and how one is refused: ``trace_events_hist.c``'s
``err_text[]`` and the limits of ``tracing_map.h`` and ``trace_events_hist.c``.

``HistError`` is what leaves the hist room: the errno and the ``error_log``
entries the kernel would add. ``Refused`` unwinds a parse inside it.
"""

from __future__ import annotations

import errno

from ....kernel.errors import TpfsError
from ...kstr import MAX_FILTER_STR_VAL

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
U64 = (1 << 64) - 1


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


class Refused(Exception):
    """Unwinds a parse; ``HistContext`` turns it into a ``HistError``."""

    def __init__(self, err: int = errno.EINVAL) -> None:
        super().__init__(err)
        self.errno = err

