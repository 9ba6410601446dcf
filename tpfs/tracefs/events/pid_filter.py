"""Pid filtering of events, as ``set_event_pid`` and ``set_event_notrace_pid`` do it.

``pid_allowed`` is ``trace_ignore_this_task`` with the scheduler events'
exceptions (``event_filter_pid_sched_*_probe_pre``): a switch or a wakeup is
about two tasks, and records when either is traced. ``follow_fork`` is
``options/event-fork``: a fork adds its child to the lists that hold its
parent, a task's free takes it out.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..trace.record import layout
from ..trace.settings import Tracing
from ..trace.trace import TraceArray
from .events import EventLayer
from .firing import Firing

#: The scheduler events whose pid filtering looks at the tasks they are about
#: (``event_filter_pid_sched_*_probe_pre``), and the fields that name them.
_SCHED_TASKS = {"sched:sched_switch": ("prev_pid", "next_pid"),
                "sched:sched_wakeup": ("pid",), "sched:sched_wakeup_new": ("pid",),
                "sched:sched_waking": ("pid",)}


#: ``options/event-fork`` (``trace_event_follow_fork``): a fork adds the child to
#: each pid list that holds its parent, the task's free removes it.
FOLLOW_FORK = {"sched:sched_process_fork": ("parent_pid", "child_pid"),
               "sched:sched_process_free": ("pid",)}


def scheduled_tasks(name: str, fmt: str, record: bytes,
                    table: Mapping[str, tuple[str, ...]] = _SCHED_TASKS) -> tuple[int, ...]:
    """The pids a scheduler event is about (by ``table``): a switch's prev and
    next, the task a wakeup wakes; none for any other event."""
    fields = table.get(name)
    if fields is None:
        return ()
    by_name = layout(fmt).by_name
    pids = []
    for field_name in fields:
        fld = by_name.get(field_name)
        if fld is None:
            return ()
        pids.append(int.from_bytes(record[fld.offset:fld.offset + fld.size], "little",
                                   signed=fld.signed))
    return tuple(pids)


def pid_allowed(tracing: Tracing, pid: int, tasks: tuple[int, ...]) -> bool:
    """Whether the instance's pid filters let the event record. A switch is left
    out only when both of its tasks are ignored (both named notrace, or neither
    in ``set_event_pid``); a wakeup records when the current task or the woken
    one is traced; any other event when the current task is."""
    if len(tasks) == 2:
        prev, nxt = tasks
        both_notrace = prev in tracing.notrace_pids and nxt in tracing.notrace_pids
        neither_listed = bool(tracing.event_pids) and not (
            prev in tracing.event_pids or nxt in tracing.event_pids)
        return not (both_notrace or neither_listed)
    if len(tasks) == 1:
        return not tracing.ignores(pid) or not tracing.ignores(tasks[0])
    return not tracing.ignores(pid)


def follow_fork(firing: Firing, fmt: str,
                targets: Mapping[int, tuple[EventLayer, TraceArray]]) -> None:
    """``event_filter_pid_sched_process_fork`` and ``_exit``, in each instance
    with ``event-fork`` set: after the event, as their lowest priority runs."""
    pids = scheduled_tasks(firing.name, fmt, firing.record, FOLLOW_FORK)
    for _, trace in targets.values():
        if not trace.options.values["event-fork"]:
            continue
        for listed in (trace.tracing.event_pids, trace.tracing.notrace_pids):
            if len(pids) == 2:
                if pids[0] in listed:  # trace_filter_add_remove_task
                    listed.add(pids[1])
            elif pids:
                listed.discard(pids[0])
