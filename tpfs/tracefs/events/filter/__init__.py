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

The parts, as the kernel's ``trace_events_filter.c`` has them: ``parse``
(the check and the fields a filter names), ``program`` (the flat program of
jumps), ``evaluate`` (compiled predicates and the loop that runs them),
``regex`` (string matching), ``cpulist`` (``CPUS{...}``) and ``errors``
(``err_text[]`` and the error a write shows).
"""

from __future__ import annotations

from .cpulist import cpulist_parse, cpulist_valid
from .errors import BAD_SUBSYS_FILTER, ERRORS, FilterError
from .evaluate import TASK_COMM_LEN, Predicate, compile_filter, task_comm
from .parse import GENERIC_FIELDS, MAX_WRITE, Field, check_filter, filter_fields

SUBSYSTEM_FILTER_HELP = (
    "### global filter ###\n"
    "# Use this to set filters for multiple events.\n"
    "# Only events with the given fields will be affected.\n"
    "# If no events are modified, an error message will be displayed here\n"
)

__all__ = [
    "BAD_SUBSYS_FILTER", "ERRORS", "GENERIC_FIELDS", "MAX_WRITE", "SUBSYSTEM_FILTER_HELP",
    "TASK_COMM_LEN", "Field", "FilterError", "Predicate", "check_filter", "compile_filter",
    "cpulist_parse", "cpulist_valid", "filter_fields", "task_comm",
]
