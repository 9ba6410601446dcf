"""Real tracing tools against a ``--live`` mount: they record the machine's own events.

``trace-cmd record -e syscalls:sys_enter_getppid CMD`` through
``exec-as-tracefs`` reports every getppid() call CMD makes, with its pid, as
it would on the kernel's own tracefs, whether it reads the raw pages with
read() (``--nosplice``) or splices them (from the FIFOs that stand for
``trace_pipe_raw``). ``tracefs_live.c``, a libtracefs program, enables the
event in an instance of its own, pins itself to CPU 0, calls getppid() N
times and reads N records with its pid from ``tracefs_cpu_read`` of CPU 0,
and the same from the top-level buffer through ``tracefs_cpu_pipe``, and from
an instance made before ``exec-as-tracefs`` starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Prints its pid, then calls getppid() argv[1] times.
CALLER = """
import os, sys
print(os.getpid(), flush=True)
for _ in range(int(sys.argv[1])):
    os.getppid()
"""


@pytest.fixture(scope="module")
def live_reader(tmp_path_factory) -> Path:
    from test_libtracefs import build

    return build(tmp_path_factory, Path(__file__).with_name("tracefs_live.c"))


@pytest.fixture
def live(mount_factory):
    if os.geteuid() != 0:
        pytest.skip("--live needs root")
    return mount_factory("--live")


@pytest.mark.parametrize("splice", [["--nosplice"], []], ids=["read", "splice"])
def test_trace_cmd_record_reports_the_commands_calls(live, tmp_path: Path,
                                                      splice: list[str]) -> None:
    if shutil.which("trace-cmd") is None:
        pytest.skip("trace-cmd is not installed")
    dat = tmp_path / "live.dat"
    done = subprocess.run(
        [sys.executable, "-m", "tpfs", "exec-as-tracefs", str(live.path), "--", "trace-cmd",
         "record", *splice, "-o", str(dat), "-e", "syscalls:sys_enter_getppid",
         sys.executable, "-c", CALLER, "300"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[0])
    report = subprocess.run(["trace-cmd", "report", "-i", str(dat)], capture_output=True,
                            text=True, timeout=300, check=True).stdout
    calls = [line for line in report.splitlines()
             if f"-{pid} " in line and "sys_enter_getppid" in line]
    assert len(calls) == 300, report[-3000:]
    # trace-cmd put back what it changed: no event is enabled, in tpfs or for tpfs.
    assert live.read("events/syscalls/sys_enter_getppid/enable") == "0\n"


@pytest.mark.parametrize("calls", [1, 127])  # one record; half a page of 16-byte records
def test_libtracefs_reads_a_pinned_programs_calls_from_its_cpu(live, live_reader: Path,
                                                                calls: int) -> None:
    done = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(live.path),
                           "--", str(live_reader), str(calls)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pid, records, piped = (int(w.partition("=")[2]) for w in done.stdout.split())
    assert records == calls, done.stdout
    assert pid > 0 and piped == 0 and list((live.path / "instances").iterdir()) == []


@pytest.mark.parametrize("calls", [1, 127, 600])  # one record; half a page; two pages and more
def test_libtracefs_pipes_a_pinned_programs_calls_from_its_cpu(live, live_reader: Path,
                                                                calls: int) -> None:
    done = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(live.path),
                           "--", str(live_reader), str(calls), "pipe"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pid, records, piped = (int(w.partition("=")[2]) for w in done.stdout.split())
    assert records == calls, done.stdout
    # tpfs's FIFO holds the page being written too, so tracefs_cpu_pipe carries them all
    # (the kernel splices whole pages only: 0 of 1 and of 127, most of 600).
    assert pid > 0 and piped == calls, done.stdout
    assert live.read("events/syscalls/sys_enter_getppid/enable") == "0\n"


@pytest.mark.parametrize("calls", [1, 127])  # one record; half a page of 16-byte records
def test_libtracefs_pipes_calls_from_an_instance_made_beforehand(live, live_reader: Path,
                                                                  calls: int) -> None:
    """An instance there before exec-as-tracefs starts has its trace_pipe_raw spliceable."""
    (live.path / "instances" / "before").mkdir()
    done = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(live.path),
                           "--", str(live_reader), str(calls), "pipe", "before"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pid, records, piped = (int(w.partition("=")[2]) for w in done.stdout.split())
    assert pid > 0 and records == calls and piped == calls, done.stdout
    assert live.read("instances/before/events/syscalls/sys_enter_getppid/enable") == "0\n"
    # the top level's buffer was not where the records went
    assert live.read("events/syscalls/sys_enter_getppid/enable") == "0\n"
    (live.path / "instances" / "before").rmdir()
