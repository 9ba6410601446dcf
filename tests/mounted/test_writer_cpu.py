"""A ``fire`` line without ``@cpu`` fires on the CPU its writer runs on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: Pins itself to CPU argv[2], then fires two sched_process_hang lines under argv[1].
FIRER = """
import os, sys
os.sched_setaffinity(0, {int(sys.argv[2])})
fd = os.open(os.path.join(sys.argv[1], "fire"), os.O_WRONLY)
os.write(fd, b"sched:sched_process_hang pid=41\\nsched:sched_process_hang pid=42 @cpu=0\\n")
os.close(fd)
"""


def test_fire_lands_on_the_writers_cpu(tpfs) -> None:
    if not {0, 1} <= os.sched_getaffinity(0):
        pytest.skip("needs CPUs 0 and 1")
    mnt = tpfs.path
    (mnt / "events/sched/sched_process_hang/enable").write_text("1")
    subprocess.run([sys.executable, "-c", FIRER, str(mnt), "1"], check=True, timeout=30)
    cpu0 = (mnt / "per_cpu/cpu0/trace").read_text()
    cpu1 = (mnt / "per_cpu/cpu1/trace").read_text()
    assert "pid=41" in cpu1 and "pid=41" not in cpu0, (cpu0, cpu1)
    assert "pid=42" in cpu0 and "pid=42" not in cpu1, (cpu0, cpu1)
