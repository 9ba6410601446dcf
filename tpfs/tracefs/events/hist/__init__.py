"""Hist triggers (``hist:keys=...``), parsed, aggregated and shown as
``trace_events_hist.c`` does, over a map kept apart as ``tracing_map.c`` is.

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

The rooms, from the bottom: ``errors`` (error texts and limits),
``tracing_map`` (entries, sums, drops, sorting), ``fields`` (hist fields and
their names), ``histogram`` (the trigger's data, the handler and action
kinds), ``evaluate`` (a hit's values and key), ``parser`` (the syntax),
``actions`` (handlers and actions: parse, create, run), ``printing`` (the
``hist`` file as a seq_file) and ``context`` (an instance's histograms).
Fields are looked up with ``filter_fields`` (the kernel's
``trace_find_event_field``): the hist code chooses how to read a field by
its ``filter_type``, which that computes.
"""

from __future__ import annotations

from .actions import SynthFiring
from .context import HistContext
from .errors import HIST_ERRORS, HistError
from .evaluate import HistHit
from .histogram import ActionKind, Handler, HistTrigger, HistTriggerData
from .printing import HistCursor, HistListing, Resolver, Resolvers
from .sort_budget import SortBudget

__all__ = [
    "HIST_ERRORS", "ActionKind", "Handler", "HistContext", "HistCursor", "HistError", "HistHit",
    "HistListing", "HistTrigger", "HistTriggerData", "Resolver", "Resolvers", "SortBudget",
    "SynthFiring",
]
