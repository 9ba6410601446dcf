"""Markers land on the CPU their writer runs on, on tpfs and on the kernel's tracefs.

A process pinned to one CPU with ``sched_setaffinity`` writes ``trace_marker``
and ``trace_marker_raw``; its records are in that CPU's buffer and no other.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from compat.kernel import write

#: Pins itself to CPU argv[2], then writes two markers and a raw one under argv[1].
WRITER = """
import os, sys
os.sched_setaffinity(0, {int(sys.argv[2])})
for name, data in (("trace_marker", b"pinned one"), ("trace_marker", b"pinned two"),
                   ("trace_marker_raw", b"\\x07\\0\\0\\0rawdata!")):
    fd = os.open(os.path.join(sys.argv[1], name), os.O_WRONLY)
    os.write(fd, data)
    os.close(fd)
"""


def write_pinned(tracefs: Path, cpu: int) -> None:
    subprocess.run([sys.executable, "-c", WRITER, str(tracefs), str(cpu)], check=True,
                   timeout=30)


@pytest.mark.parametrize("cpu", [1, 0])
def test_markers_land_on_the_writers_cpu(tracefs: Path, cpu: int) -> None:
    ncpus = len(list((tracefs / "per_cpu").iterdir()))
    if ncpus < 2 or not {0, 1} <= os.sched_getaffinity(0):
        pytest.skip("needs CPUs 0 and 1")
    write(tracefs / "trace", "")
    try:
        write_pinned(tracefs, cpu)
        per_cpu = {n: (tracefs / f"per_cpu/cpu{n}/trace").read_text() for n in range(ncpus)}
        mine = per_cpu.pop(cpu)
        assert "pinned one" in mine and "pinned two" in mine, mine
        # The raw marker's id 7 shows as its bytes, after the pid column.
        assert mine.count(f"[{cpu:03d}]") == 3, mine
        for other in per_cpu.values():
            assert not [line for line in other.splitlines() if not line.startswith("#")], other
    finally:
        write(tracefs / "trace", "")
