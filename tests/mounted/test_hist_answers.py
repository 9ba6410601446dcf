"""Where a hist action's synthetic event lands: on the CPU of the event that
caused it (``trace_synth`` runs in the matching event's context), not CPU 0."""

from __future__ import annotations

import os
import re

import pytest

from tpfs.tools.mounting import Mount

WAKING = "events/sched/sched_waking/"
SWITCH = "events/sched/sched_switch/"
CPU = re.compile(r"\[(\d{3})\]")


@pytest.mark.parametrize("action", [
    "onmatch(sched.sched_waking).trace(latency,$lat,next_pid)",
    "onmatch(sched.sched_waking).latency($lat,next_pid)",
    "onmax($lat).trace(latency,$lat,next_pid)",
])
def test_a_synthetic_event_fires_on_the_matching_events_cpu(tpfs: Mount, action: str) -> None:
    assert (os.cpu_count() or 1) >= 2, "needs a second CPU to tell CPUs apart"
    tpfs.write("synthetic_events", "latency u64 lat; pid_t pid\n")
    tpfs.write(WAKING + "trigger", "hist:keys=pid:ts0=common_timestamp")
    tpfs.write(SWITCH + "trigger", f"hist:keys=next_pid:lat=common_timestamp-$ts0:{action}")
    tpfs.write("events/synthetic/latency/enable", "1")
    for cpu, pid in ((1, 42), (0, 43), (1, 44)):
        tpfs.write("fire", f"sched:sched_waking pid={pid} @cpu={cpu}\n"
                           f"sched:sched_switch next_pid={pid} @cpu={cpu}\n")
    lines = [x for x in tpfs.read("trace").splitlines() if "latency:" in x]
    cpus = {int(m.group(1)): int(CPU.search(x)[1])  # type: ignore[index]
            for x in lines if (m := re.search(r"pid=(\d+)", x))}
    assert cpus == {42: 1, 43: 0, 44: 1}, lines
    assert "latency:" in tpfs.read("per_cpu/cpu1/trace")
