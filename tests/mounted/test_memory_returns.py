"""Memory a request frees goes back to the system: the daemon's RSS after a full
buffer is shrunk, and after an instance holding one is removed, through a real mount."""

from __future__ import annotations

import re
import time
from pathlib import Path

from mounted.test_robustness import vm_rss_kib

from tpfs.tools.mounting import Mount

SIZE_KB = 16384
SWITCH = "sched:sched_switch prev_comm=a prev_pid=1 next_comm=b next_pid=2"


def fill(mount: Mount, tracefs: Path) -> None:
    """Fire on each CPU until its buffer in ``tracefs`` overwrites."""
    for cpu_dir in sorted((tracefs / "per_cpu").glob("cpu*")):
        cpu = cpu_dir.name[3:]
        for _ in range(100):
            if re.search(r"^overrun: [1-9]", (cpu_dir / "stats").read_text(), re.M):
                break
            mount.write("fire", f"{SWITCH} @cpu={cpu} @count=50000\n")
        else:
            raise AssertionError(f"{cpu_dir} does not fill")


def rss_falls_to(mount: Mount, limit_kib: int, timeout: float = 15) -> int:
    """The daemon's RSS once it is at most ``limit_kib``, or its last value at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        rss = vm_rss_kib(mount.proc.pid)
        if rss <= limit_kib or time.monotonic() > deadline:
            return rss
        time.sleep(0.2)


def test_a_shrunk_buffer_and_a_removed_instance_give_their_memory_back(tpfs: Mount) -> None:
    ncpus = len(list((tpfs.path / "per_cpu").glob("cpu*")))
    buffers_kib = SIZE_KB * ncpus
    tpfs.write("events/sched/sched_switch/enable", "1\n")
    before = vm_rss_kib(tpfs.proc.pid)
    tpfs.write("buffer_size_kb", f"{SIZE_KB}\n")
    fill(tpfs, tpfs.path)
    assert vm_rss_kib(tpfs.proc.pid) - before > buffers_kib * 0.9  # the pages are held
    tpfs.write("buffer_size_kb", "64\n")
    assert rss_falls_to(tpfs, before + buffers_kib // 4) <= before + buffers_kib // 4

    tpfs.write("events/sched/sched_switch/enable", "0\n")
    inst = tpfs.path / "instances" / "held"
    inst.mkdir()
    (inst / "buffer_size_kb").write_text(f"{SIZE_KB}\n")
    (inst / "events/sched/sched_switch/enable").write_text("1\n")
    fill(tpfs, inst)
    assert vm_rss_kib(tpfs.proc.pid) - before > buffers_kib * 0.9
    inst.rmdir()
    assert rss_falls_to(tpfs, before + buffers_kib // 4) <= before + buffers_kib // 4
