"""Real tracing clients pointed at a tpfs mount list exactly the mount's events.

trace-cmd, perf, bpftrace and tplist run through ``tpfs exec-as-tracefs``
(a private mount namespace with the mount as /sys/kernel/tracing); bcc's
Python API takes the directory in ``bcc.TRACEFS``. Each client must print
the events: empty output is a failure. A client that is not installed is
skipped (``.ci/run`` installs them all).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

MODULE = "clientmod clientsub:ev_a clientsub:ev_b sched:sched_switch\n"
DEBIAN_PYTHON = "/usr/bin/python3"


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    if os.geteuid() != 0:
        pytest.skip("exec-as-tracefs needs root")


def run_as_tracefs(mount, *cmd: str) -> str:
    res = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(mount.path), "--",
                          *cmd], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip(), f"{cmd[0]} printed nothing: {res.stderr}"
    return res.stdout


def events(mount) -> list[str]:
    return (mount / "available_events").read_text().splitlines()


def walked(mount, with_id: bool = False) -> set[str]:
    """What a tool walking events/ finds: available_events and the kernel's
    internal events in events/ftrace (perf takes only those with an id, as it
    does on the kernel: ftrace:function and ftrace:print)."""
    internal = {f"ftrace:{d.name}" for d in (mount / "events/ftrace").iterdir()
                if not with_id or (d / "id").exists()}
    return set(events(mount)) | internal


@pytest.fixture
def loaded(tpfs):
    (tpfs / "modules/load").write_text(MODULE)
    return tpfs


def unload(mount) -> None:
    (mount / "modules/unload").write_text("clientmod\n")
    assert "clientsub:ev_a" not in events(mount)


def test_trace_cmd_list(loaded) -> None:
    need("trace-cmd")
    assert run_as_tracefs(loaded, "trace-cmd", "list", "-e").splitlines() == events(loaded)
    fmt = run_as_tracefs(loaded, "trace-cmd", "list", "-e", "clientsub", "-F")
    assert "system: clientsub\nname: ev_a\n" in fmt and "name: ev_b\n" in fmt
    assert "field:int common_pid;" in fmt
    # With a pattern trace-cmd walks events/: systems, then events, in the kernel's
    # (registration) order, as available_events first lists them.
    grouped: dict[str, dict[str, None]] = {}
    for name in events(loaded):  # a name defined twice is listed twice
        grouped.setdefault(name.split(":")[0], {})[name] = None
    expected = [n for names in grouped.values() for n in names if re.search("sched", n)]
    assert run_as_tracefs(loaded, "trace-cmd", "list", "-e", "sched").splitlines() == expected
    unload(loaded)
    assert "clientsub" not in run_as_tracefs(loaded, "trace-cmd", "list", "-e")


def test_trace_cmd_stat(loaded) -> None:
    need("trace-cmd")
    (loaded / "set_event").write_text("clientsub:ev_a\n")
    out = run_as_tracefs(loaded, "trace-cmd", "stat")
    assert "Events:" in out and "clientsub" in out and "ev_a" in out, out
    (loaded / "tracing_on").write_text("0\n")
    assert "Tracing is disabled" in run_as_tracefs(loaded, "trace-cmd", "stat")


def test_perf_list(loaded) -> None:
    need("perf")
    out = run_as_tracefs(loaded, "perf", "list", "--no-desc", "tracepoint")
    listed = {line.split()[0] for line in out.splitlines() if "[Tracepoint event]" in line}
    assert listed == walked(loaded, with_id=True)
    assert {"ftrace:function", "ftrace:print"} <= listed
    unload(loaded)
    out = run_as_tracefs(loaded, "perf", "list", "--no-desc", "tracepoint")
    assert "clientsub:" not in out and "sched:sched_switch" in out


def test_perf_stat_refuses_a_tpfs_only_event(loaded) -> None:
    """Its id is no host event's: perf_event_open fails instead of counting a host event."""
    need("perf")
    assert int((loaded / "events/clientsub/ev_a/id").read_text()) > 60000
    res = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(loaded.path), "--",
                          "perf", "stat", "-x,", "-e", "clientsub:ev_a", "--", "true"],
                         capture_output=True, text=True, timeout=300)
    counts = [line for line in res.stderr.splitlines() if "clientsub:ev_a" in line]
    assert len(counts) == 1 and counts[0].startswith("<not supported>"), res.stderr


def test_exec_as_tracefs_holds_no_other_tpfs_mount(mount_factory) -> None:
    """Another tpfs mount is not in the command's namespace: a copy there would
    keep that daemon serving after it is unmounted outside, for as long as the
    command runs (two test workers each running clients did just that)."""
    need("sleep")
    ours, other = mount_factory(name="ours"), mount_factory(name="other")
    inside = run_as_tracefs(ours, "cat", "/proc/mounts")
    assert str(ours.path) in inside and str(other.path) not in inside
    held = subprocess.Popen([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(ours.path),
                             "--", "sh", "-c", "echo ready; exec sleep 60"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert held.stdout is not None and held.stdout.readline() == "ready\n"
        start = time.monotonic()
        assert other.stop(timeout=5) == 0  # the daemon ends by itself, not killed
        assert time.monotonic() - start < 5
    finally:
        held.kill()
        held.wait()


def test_bpftrace(loaded) -> None:
    need("bpftrace")
    out = run_as_tracefs(loaded, "bpftrace", "-l", "tracepoint:*")
    assert set(out.splitlines()) == {f"tracepoint:{e}" for e in events(loaded)}
    detail = run_as_tracefs(loaded, "bpftrace", "-lv", "tracepoint:sched:sched_switch")
    assert "char prev_comm[16]" in detail and "pid_t next_pid" in detail
    assert run_as_tracefs(loaded, "bpftrace", "-lv", "tracepoint:clientsub:ev_a").startswith(
        "tracepoint:clientsub:ev_a")
    unload(loaded)
    assert "clientsub" not in run_as_tracefs(loaded, "bpftrace", "-l", "tracepoint:*")


def test_tplist(loaded) -> None:
    need("tplist-bpfcc")
    out = run_as_tracefs(loaded, "tplist-bpfcc")
    assert set(out.split()) == walked(loaded)
    unload(loaded)
    assert "clientsub" not in run_as_tracefs(loaded, "tplist-bpfcc")


def test_bcc_python_api(loaded) -> None:
    if not Path(DEBIAN_PYTHON).exists() or subprocess.run(
            [DEBIAN_PYTHON, "-c", "import bcc"], capture_output=True).returncode:
        pytest.skip("bcc's Python module is not installed")
    code = ("import sys, bcc; bcc.TRACEFS = sys.argv[1]; from bcc import BPF; "
            "print('\\n'.join(BPF.get_tracepoints(b'.*')))")

    def listed() -> set[str]:
        res = subprocess.run([DEBIAN_PYTHON, "-c", code, str(loaded.path)],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and res.stdout.strip(), res.stderr
        return set(res.stdout.split())

    assert listed() == walked(loaded)
    unload(loaded)
    assert not any(e.startswith("clientsub:") for e in listed())
