"""The machine's real activity, on a ``--live`` tpfs and on the kernel's tracefs.

Each test enables a syscall event, runs a child that makes the calls (pinned
to one CPU with ``taskset``), and reads back what the tracefs shows: the same
shape on both sides, the kernel being the oracle. The child's calls are
picked out by its pid, as other tasks on the machine make calls too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from compat.kernel import write

from tpfs.tools.ready import ready_reads

GETPPID = "events/syscalls/sys_enter_getppid/"
GETPRIORITY = "events/syscalls/sys_enter_getpriority/"
#: A line of ``trace``; a syscall's reads ``sys_NAME(ARGS)`` (``print_syscall_enter``).
LINE = re.compile(r" *(.+)-(\d+) +\[(\d{3})\] \S{5} +(\d+\.\d{6}): (\w+)\((.*)\)$")
#: Prints its pid, then calls getppid() argv[1] times, and
#: getpriority(PRIO_PROCESS, WHO) argv[3] times for each WHO,COUNT pair of argv[2].
CALLER = """
import os, sys
print(os.getpid(), flush=True)
for _ in range(int(sys.argv[1])):
    os.getppid()
for pair in sys.argv[2].split():
    who, count = map(int, pair.split(","))
    for _ in range(count):
        try:
            os.getpriority(os.PRIO_PROCESS, who)
        except OSError:
            pass
"""
#: Pids no task has (pid_max is at most 2**22): getpriority of them is ESRCH.
NOBODY, NO_ONE = 4_194_310, 4_194_311


def call(cpu: int, getppid: int, getpriority: str = "") -> int:
    """Run the calls in a child pinned to ``cpu``; its pid."""
    done = subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-c", CALLER,
                           str(getppid), getpriority],
                          capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout.split()[0])


def lines(text: str, pid: int) -> list[tuple[str, int, str, str]]:
    """(comm, cpu, event, fields) of each event line of ``pid`` in ``text``."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m is not None and int(m[2]) == pid:
            out.append((m[1].strip(), int(m[3]), m[5], m[6]))
    return out


def read_pipe(path: Path) -> str:
    """What a ``trace_pipe`` holds now, consumed, without waiting for more."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return b"".join(ready_reads(fd, 65536)).decode(errors="replace")
    finally:
        os.close(fd)


def test_a_pinned_childs_calls_show_in_trace_on_its_cpu(live_tracefs: Path) -> None:
    cpu = os.cpu_count() - 1 if os.cpu_count() else 0
    write(live_tracefs / GETPPID / "enable", "1")
    pid = call(cpu, 30)
    write(live_tracefs / GETPPID / "enable", "0")
    mine = lines((live_tracefs / "trace").read_text(), pid)
    assert len(mine) == 30
    assert {(comm, c, event) for comm, c, event, _ in mine} == {
        (Path(sys.executable).name[:15], cpu, "sys_getppid")}
    assert {fields for *_, fields in mine} == {""}  # getppid has no argument
    # The per-CPU trace shows them, and the other CPUs' do not.
    for other in range(os.cpu_count() or 1):
        shown = lines((live_tracefs / f"per_cpu/cpu{other}/trace").read_text(), pid)
        assert len(shown) == (30 if other == cpu else 0)


def test_trace_pipe_consumes_a_childs_calls_and_stats_count_them(live_tracefs: Path) -> None:
    write(live_tracefs / GETPPID / "enable", "1")
    pid = call(0, 25)
    write(live_tracefs / GETPPID / "enable", "0")
    stats = (live_tracefs / "per_cpu/cpu0/stats").read_text()
    entries = int(re.search(r"^entries: (\d+)$", stats, re.M)[1])  # type: ignore[index]
    assert entries >= 25
    assert len(lines(read_pipe(live_tracefs / "per_cpu/cpu0/trace_pipe"), pid)) == 25
    assert lines((live_tracefs / "trace").read_text(), pid) == []  # consumed
    stats = (live_tracefs / "per_cpu/cpu0/stats").read_text()
    assert re.search(r"^entries: 0$", stats, re.M), stats


@pytest.mark.parametrize(("nots", "kept"), [(0, NOBODY), (300, NOBODY), (301, NO_ONE)])
def test_a_deep_filter_acts_on_real_calls(live_tracefs: Path, nots: int, kept: int) -> None:
    """A filter nested far deeper than a recursive parser allows picks the child's
    calls by their argument."""
    expr = "!(" * nots + f"who == {NOBODY}" + ")" * nots
    write(live_tracefs / GETPRIORITY / "filter", expr)
    try:
        write(live_tracefs / GETPRIORITY / "enable", "1")
        pid = call(0, 0, f"{NOBODY},5 {NO_ONE},3")
        write(live_tracefs / GETPRIORITY / "enable", "0")
        mine = lines((live_tracefs / "trace").read_text(), pid)
    finally:
        write(live_tracefs / GETPRIORITY / "filter", "0")
    assert [fields for *_, fields in mine] == [
        f"which: 0, who: {kept:#x}"] * (5 if kept == NOBODY else 3), mine
