"""``trace`` and ``trace_pipe`` through a mount, their lines made natively: the
options that change a line reach them, both files show the same lines, and
reads end where the kernel's would. (Byte-for-byte comparisons with the Python
lines over every option are in tests/tracefs/test_trace_pipe_lines.py.)"""

from __future__ import annotations

import os
import re

from tpfs.tools.mounting import Mount
from tpfs.tools.ready import ready_reads

#: A line with ``irq-info`` off and ``record-tgid`` on, the ``counter`` clock.
LINE = re.compile(r" {11}task(\d)-(10\d) {5}\( {4}(10\d)\) \[00([01])\] {2,}(\d+): "
                  r"sched_switch: prev_comm=a prev_pid=(\d+) prev_prio=0 prev_state=R ==> "
                  r"next_comm=b next_pid=2 next_prio=0$")


def drain(path: str) -> list[bytes]:
    """Every read of a non-blocking ``trace_pipe`` until it is empty."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return list(ready_reads(fd, 131072))
    finally:
        os.close(fd)


def test_trace_and_trace_pipe_show_the_same_lines_with_the_options_set(tpfs: Mount) -> None:
    tpfs.write("events/sched/sched_switch/enable", "1")
    tpfs.write("trace_clock", "counter")
    tpfs.write("options/irq-info", "0")
    tpfs.write("options/record-tgid", "1")
    count = 600
    tpfs.write("fire", "".join(
        f"sched:sched_switch prev_comm=a prev_pid={i} next_comm=b next_pid=2 "
        f"@cpu={i % 2} @pid={100 + i % 3} @comm=task{i % 3}\n" for i in range(count)))
    listed = [ln for ln in tpfs.read("trace").splitlines() if not ln.startswith("#")]
    reads = drain(str(tpfs / "trace_pipe"))
    assert b"".join(reads).decode().splitlines() == listed
    assert all(len(chunk) <= 8191 and chunk.endswith(b"\n") for chunk in reads)
    assert len(reads) > 1  # the lines are more than one read holds
    stamps = []
    for i, line in enumerate(listed):
        m = LINE.fullmatch(line)
        assert m, line
        comm, pid, tgid, cpu, stamp, prev_pid = m.groups()
        assert int(prev_pid) == i  # in firing order: the counter clock
        assert int(comm) == int(pid) - 100 == int(tgid) - 100 == i % 3
        assert int(cpu) == i % 2
        stamps.append(int(stamp))
    assert len(stamps) == count and stamps == sorted(stamps)
    assert not drain(str(tpfs / "trace_pipe"))
