"""libtracefs reads back what was fired through a tpfs mount, exactly and in order.

``tracefs_reader.c`` is built against Debian's libtracefs-dev and run through
``tpfs exec-as-tracefs``: it enables events (in an instance or at the top),
fires them through the mount's ``fire`` file, writes ``trace_marker``, and
reads the records back with ``tracefs_iterate_raw_events`` (all CPUs, by time),
and with ``tracefs_cpu_open``/``tracefs_cpu_read`` one CPU after another and
over every CPU merged by time. Skipped without a compiler or the library
(``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).with_name("tracefs_reader.c")
MODES = ("iterate", "cpu", "all")


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("exec-as-tracefs needs root")
    for tool in ("cc", "pkg-config", "taskset"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libtracefs", "libtraceevent"],
                           capture_output=True, text=True)
    if flags.returncode:
        pytest.skip(f"libtracefs-dev is not installed: {flags.stderr.strip()}")
    binary = tmp_path_factory.mktemp("reader") / "tracefs_reader"
    built = subprocess.run(["cc", "-Wall", "-Werror", "-O2", "-o", str(binary), str(SOURCE),
                            *flags.stdout.split()], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return binary


def last_cpu(mount) -> int:
    return len([p for p in (mount / "per_cpu").iterdir() if p.name.startswith("cpu")]) - 1


def switch(cpu: int, prev: tuple[str, int, int], nxt: tuple[str, int, int],
           state: int) -> tuple[str, str]:
    """A ``fire`` line and the line the reader prints for its record."""
    (pcomm, ppid, pprio), (ncomm, npid, nprio) = prev, nxt
    fields = (f"prev_comm={pcomm} prev_pid={ppid} prev_prio={pprio} prev_state={state} "
              f"next_comm={ncomm} next_pid={npid} next_prio={nprio}")
    return (f"sched:sched_switch @cpu={cpu} @pid={ppid} @comm={pcomm} {fields}",
            f"cpu={cpu} sched:sched_switch common_pid={ppid} {fields}")


def run_reader(mount, reader: Path, *args: str) -> tuple[int, dict[str, list[str]]]:
    """Run the reader pinned to CPU 0 (where its markers land); returns its pid and
    the lines of each read-back section, with the marker's ip shown as ``*``."""
    res = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(mount.path), "--",
                          "taskset", "-c", "0", str(reader), *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{res.stderr}\n{res.stdout}"
    lines = res.stdout.splitlines()
    assert lines and lines[0].startswith("pid="), res.stdout
    sections: dict[str, list[str]] = {}
    for line in lines[1:]:
        if line.startswith("== "):
            sections[line[3:]] = []
        else:
            sections[list(sections)[-1]].append(re.sub(r" ip=[1-9]\d*", " ip=*", line))
    return int(lines[0][4:]), sections


def scenario(mount) -> tuple[list[str], list[tuple[int, str]]]:
    """Reader arguments firing a switch on the last CPU, a marker (CPU 0), a switch
    on CPU 0; and the expected records as (cpu, line) in time order (the marker's
    line has ``PID`` for the reader's pid)."""
    last = last_cpu(mount)
    fire1, rec1 = switch(last, ("alpha", 101, 120), ("beta", 202, 100), 1)
    fire2, rec2 = switch(0, ("beta", 202, 100), ("gamma", 303, 139), 0)
    marker = "cpu=0 ftrace:print common_pid=PID ip=* buf=hello tpfs\\n"
    return (["-e", "sched:sched_switch", "-f", fire1, "-m", "hello tpfs", "-f", fire2],
            [(last, rec1), (0, marker), (0, rec2)])


def check_sections(sections: dict[str, list[str]], pid: int,
                   expected: list[tuple[int, str]]) -> None:
    in_time = [line.replace("PID", str(pid)) for _, line in expected]
    by_cpu = [line.replace("PID", str(pid)) for _, line in sorted(expected, key=lambda e: e[0])]
    assert list(sections) == list(MODES)
    assert sections["iterate"] == in_time
    assert sections["all"] == in_time
    assert sections["cpu"] == by_cpu


def test_top_level(tpfs, reader) -> None:
    args, expected = scenario(tpfs)
    pid, sections = run_reader(tpfs, reader, *args, *[a for m in MODES for a in ("-r", m)])
    check_sections(sections, pid, expected)
    assert (tpfs / "events/sched/sched_switch/enable").read_text() == "1\n"


def test_instance(tpfs, reader) -> None:
    """Firing records into every buffer where the event is enabled: the instance's
    and, here, the top level's too; markers go to the instance's trace_marker only."""
    (tpfs / "events/sched/sched_switch/enable").write_text("1\n")
    args, expected = scenario(tpfs)
    pid, sections = run_reader(tpfs, reader, "-i", "tpfs_reader", *args,
                               *[a for m in MODES for a in ("-r", m)])
    check_sections(sections, pid, expected)
    assert list((tpfs / "instances").iterdir()) == []
    top = [line for line in tpfs.read("trace").splitlines() if not line.startswith("#")]
    assert len(top) == 2 * len(MODES), top
    assert all(" sched_switch: prev_comm=" in line for line in top), top


def test_instance_sees_only_its_events(tpfs, reader) -> None:
    """Events enabled only at the top level do not record into the instance."""
    (tpfs / "events/sched/sched_switch/enable").write_text("1\n")
    fire, _ = switch(0, ("alpha", 101, 120), ("beta", 202, 100), 1)
    pid, sections = run_reader(tpfs, reader, "-i", "tpfs_alone", "-f", fire, "-r", "iterate")
    assert sections == {"iterate": []}
    top = [line for line in tpfs.read("trace").splitlines() if not line.startswith("#")]
    assert len(top) == 1 and "prev_comm=alpha prev_pid=101" in top[0], top
