"""Pid filtering without a mount: ``set_event_pid`` and ``set_event_notrace_pid`` as the
event's own probe asks them, the scheduler events' two tasks, and ``event-fork``."""

from __future__ import annotations

import pytest

from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.events.firing import Firing
from tpfs.tracefs.events.pid_filter import follow_fork, pid_allowed, scheduled_tasks
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import TraceArray

FORK_FORMAT = (
    f"name: sched_process_fork\nID: 300\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:pid_t parent_pid;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:pid_t child_pid;\toffset:12;\tsize:4;\tsigned:1;\n"
    '\nprint fmt: "parent=%d child=%d", REC->parent_pid, REC->child_pid\n'
)
FORK = "sched:sched_process_fork"


def tracing(listed: set[int], notrace: set[int] = frozenset()) -> Tracing:
    t = Tracing(ncpus=1)
    t.event_pids.update(listed)
    t.notrace_pids.update(notrace)
    return t


@pytest.mark.parametrize("listed, notrace, pid, tasks, allowed", [
    ((), (), 1, (), True),  # nothing listed: everything records
    ((5,), (), 1, (), False),
    ((5,), (), 5, (), True),
    ((), (5,), 5, (), False),
    # a wakeup: kept when the current task or the woken one is traced
    ((5,), (), 6, (5,), True),
    ((5,), (), 5, (6,), True),
    ((5,), (), 6, (6,), False),
    ((), (5,), 5, (5,), False),
    # a switch: its two tasks, whoever is current
    ((5,), (), 9, (5, 2), True),
    ((5,), (), 9, (1, 2), False),
    ((), (5,), 9, (5, 2), True),
    ((), (5,), 9, (5, 5), False),
])
def test_who_an_event_is_about_decides_whether_it_records(
        listed: tuple[int, ...], notrace: tuple[int, ...], pid: int, tasks: tuple[int, ...],
        allowed: bool) -> None:
    assert pid_allowed(tracing(set(listed), set(notrace)), pid, tasks) is allowed


def test_the_tasks_are_read_from_the_scheduler_events_record() -> None:
    record = layout(FORK_FORMAT).encode({"parent_pid": 4, "child_pid": 40}, pid=4)
    assert scheduled_tasks("sched:sched_switch", FORK_FORMAT, record) == ()  # no prev_pid
    assert scheduled_tasks("irq:other", FORK_FORMAT, record) == ()


def test_event_fork_adds_a_listed_parents_child() -> None:
    record = layout(FORK_FORMAT).encode({"parent_pid": 4, "child_pid": 40}, pid=4)
    followed, kept = TraceArray(tracing({4})), TraceArray(tracing({4}))
    followed.options.set("event-fork", True)
    follow_fork(Firing(FORK, 0, 4, None, 1, record), FORK_FORMAT,
                {1: (None, followed), 2: (None, kept)})  # type: ignore[dict-item]
    assert followed.tracing.event_pids == {4, 40}
    assert kept.tracing.event_pids == {4}
