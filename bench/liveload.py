"""The ``live`` benchmark's workload and its reader of the kernel's own pages.

    python bench/liveload.py spin RATE T0 T1      # getppid() RATE times a second in [T0, T1]
    python bench/liveload.py pingpong RATE T0 T1  # RATE round trips a second over two pipes
    python bench/liveload.py raw DIR T0 T1        # count DIR's records from its raw pages

T0 and T1 are times of CLOCK_MONOTONIC (``time.monotonic()``), the clock
that the kernel's ``mono`` trace clock and tpfs's live records share. RATE 0
is flat out. ``spin`` and ``pingpong`` pace their work in 1 ms ticks (a late
tick is made up at once) and print, as JSON, the calls (round trips) made.

``raw`` is the baseline: it reads a kernel instance's
``per_cpu/cpuN/trace_pipe_raw`` (non-blocking, when they poll readable)
while the workload runs, decodes each page and counts ``sched_switch``
records stamped within [T0, T1] and ``sys_enter_getppid`` records by pid
(whatever their time: the spinners' are all of theirs), until
every CPU is drained past T1. It prints the counts and the pages' lost
events as JSON. It runs as its own process, at the lowest priority (nice
19), so that its decoding takes little from tpfs and the bench's reader of
tpfs's ``trace_pipe`` on a small machine: its instance's buffer is sized to
hold what it has not read yet.
"""

from __future__ import annotations

import json
import os
import select
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tpfs.kernel.page_decode import decode_page
from tpfs.tools.ready import ready_reads

TICK = 0.001
_COMMON = struct.Struct("<HBBi")  # common_type, flags, preempt_count, pid
#: How long past T1 the reader waits for a CPU's pages to show a later record.
SETTLE = 2.0


def paced(rate: int, start: float, end: float, step: Callable[[], object]) -> int:
    """Call ``step`` ``rate`` times a second (flat out for 0) from ``start`` until ``end``:
    the calls made."""
    done = 0
    time.sleep(max(start - time.monotonic(), 0))
    while True:
        now = time.monotonic()
        if now >= end:
            return done
        due = int((now - start) * rate) + 1 if rate else done + 1000
        while done < due:
            step()
            done += 1
        if rate:
            time.sleep(TICK)


def spin(rate: int, start: float, end: float) -> dict[str, int]:
    return {"pid": os.getpid(), "calls": paced(rate, start, end, os.getppid)}


def pingpong(rate: int, start: float, end: float) -> dict[str, int]:
    ping_r, ping_w = os.pipe()
    pong_r, pong_w = os.pipe()
    child = os.fork()
    if child == 0:  # the echo: each byte back until the pipe closes
        os.close(ping_w)
        os.close(pong_r)
        while os.read(ping_r, 1):
            os.write(pong_w, b"x")
        os._exit(0)
    os.close(ping_r)
    os.close(pong_w)

    def trip() -> None:
        os.write(ping_w, b"x")
        os.read(pong_r, 1)

    trips = paced(rate, start, end, trip)
    os.close(ping_w)
    os.waitpid(child, 0)
    return {"pid": os.getpid(), "echo": child, "round trips": trips}


def event_id(root: Path, name: str) -> int:
    subsys, _, event = name.partition(":")
    return int((root / "events" / subsys / event / "id").read_text())


def raw(root: Path, t0: float, t1: float) -> dict[str, object]:
    switch = event_id(root, "sched:sched_switch")
    getppid = event_id(root, "syscalls:sys_enter_getppid")
    lo, hi = int(t0 * 1e9), int(t1 * 1e9)
    os.nice(19)
    cpus = sorted(int(p.name[3:]) for p in (root / "per_cpu").glob("cpu*"))
    fds = {os.open(root / f"per_cpu/cpu{c}/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK): c
           for c in cpus}
    past: set[int] = set()  # CPUs that showed a record after T1
    switches = 0
    getppids: dict[int, int] = {}
    lost_pages = 0
    try:
        while True:
            now = time.monotonic()
            if now > t1 + SETTLE or (now > t1 and len(past) == len(cpus)):
                break
            readable, _, _ = select.select(list(fds), [], [], 0.05)
            for fd in readable if now <= t1 else list(fds):
                for page in ready_reads(fd):
                    decoded = decode_page(page)
                    lost_pages += bool(decoded.lost)
                    for ts, payload in decoded.events:
                        if len(payload) < _COMMON.size:
                            continue
                        ident, _, _, pid = _COMMON.unpack_from(payload)
                        if ts > hi:
                            past.add(fds[fd])
                        if ident == switch and lo <= ts <= hi:
                            switches += 1
                        elif ident == getppid:
                            getppids[pid] = getppids.get(pid, 0) + 1
            if now > t1:
                time.sleep(0.05)
    finally:
        for fd in fds:
            os.close(fd)
    return {"sched_switch": switches, "sys_enter_getppid": getppids,
            "pages with lost events": lost_pages}


def main(argv: list[str]) -> int:
    what, *args = argv
    if what == "spin":
        result: dict[str, object] = dict(spin(int(args[0]), float(args[1]), float(args[2])))
    elif what == "pingpong":
        result = dict(pingpong(int(args[0]), float(args[1]), float(args[2])))
    else:
        result = raw(Path(args[0]), float(args[1]), float(args[2]))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
