"""Where a task runs: the CPU the kernel would record its writes on.

A write to ``trace_marker`` (or a ``fire`` line without ``@cpu``) is recorded
on the CPU its task runs on, as the kernel records it on ``smp_processor_id()``.
A task pinned to one CPU runs there; any other task is taken to be on the CPU
it last ran on, the ``processor`` field of ``/proc/PID/stat`` (the task is
blocked in its write, so that is the CPU it wrote from).
"""

from __future__ import annotations

import os

#: ``processor`` is field 39 of ``/proc/PID/stat``; fields after the ``comm``'s
#: closing parenthesis start at field 3.
_PROCESSOR = 39 - 3


def task_cpu(pid: int) -> int | None:
    """The CPU task ``pid`` runs on; None when it is gone or cannot be read."""
    try:
        allowed = os.sched_getaffinity(pid)
    except OSError:
        return None
    if len(allowed) == 1:
        return next(iter(allowed))
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        return int(fields[_PROCESSOR])
    except (OSError, IndexError, ValueError):
        return None
