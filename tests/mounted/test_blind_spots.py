"""Behaviour that bugs planted on purpose once slipped past: rewinds of a
listing, set_event's order, a duplicate trigger, and the entry points."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from tpfs.tools.mounting import Mount

from conftest import ROOT


def test_a_listing_rewinds_after_reading_forward_and_after_eof(small: Mount) -> None:
    small.write("modules/load", "".join(f"m{i} m{i}:a m{i}:b\n" for i in range(10)))
    whole = (small / "available_events").read_bytes()
    fd = os.open(small / "available_events", os.O_RDONLY)
    try:
        assert os.read(fd, 100) == whole[:100]
        assert os.pread(fd, 30, 0) == whole[:30]  # back to 0 after reading forward
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 777):
            data += chunk
        assert data == whole and os.read(fd, 10) == b""
        os.lseek(fd, 0, os.SEEK_SET)  # any rewind after EOF
        assert os.read(fd, 50) == whole[:50]
        assert os.pread(fd, 100, len(whole) - 20) == whole[-20:]
    finally:
        os.close(fd)


def test_set_event_follows_available_events_across_modules(small: Mount) -> None:
    small.write("modules/load", "".join(f"m{i} m{i}:ev\n" for i in range(12)))
    order = [n for n in small.read("available_events").split() if n.startswith("m")]
    assert order != sorted(order, key=lambda n: int(n[1:].split(":")[0])), \
        "the slab should hand out addresses out of load order"
    for name in reversed(order):
        small.write("set_event", name)
    small.write("events/initcall/initcall_finish/enable", "1")
    enabled = small.read("set_event").split()
    assert enabled == ["initcall:initcall_finish", *order]


def test_a_duplicate_trigger_is_eexist_and_changes_nothing(small: Mount) -> None:
    trigger = "events/initcall/initcall_finish/trigger"
    small.write(trigger, "traceoff")
    before = small.read(trigger)
    with pytest.raises(OSError) as exc:
        small.write(trigger, "traceoff")
    assert exc.value.errno == errno.EEXIST
    assert small.read(trigger) == before


@pytest.mark.parametrize("line, code", [("sched:sched_switch p 1\nsched:sched_switch p 1",
                                         errno.EEXIST),
                                        ("sched:sched_switch p 2", errno.ENOENT)])
def test_the_registrys_own_errors_reach_the_writer(small: Mount, line: str, code: int) -> None:
    small.write("probes/register", "sched:sched_switch p 1\n")
    target = "probes/register" if code == errno.EEXIST else "probes/unregister"
    with pytest.raises(OSError) as exc:
        small.write(target, line + "\n")
    assert exc.value.errno == code
    assert small.read("probes/sched:sched_switch") == "p 0x1 0\n"


@pytest.mark.parametrize("module, command", [("tpfs", []), ("tpfs.churn", ["churn"]),
                                             ("tpfs.check", ["check"])])
def test_python_dash_m_runs_the_same_command(module: str, command: list[str]) -> None:
    tpfs = os.path.join(os.path.dirname(sys.executable), "tpfs")
    via_m = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                           text=True, cwd=ROOT, check=True).stdout
    via_cmd = subprocess.run([tpfs, *command, "--help"], capture_output=True, text=True,
                             check=True).stdout
    assert via_m.split("\n", 1)[1] == via_cmd.split("\n", 1)[1]  # all but the prog name
    assert "mountpoint" in via_m


def test_copy_paths_of_a_listing(small: Mount, tmp_path) -> None:
    """cat, cp and read() copy what the listing shows. sendfile and splice
    from a size-0 FUSE file go through the page cache, bounded by the size, and
    return 0 without asking the daemon (the kernel's tracefs refuses them with
    EINVAL instead); the daemon cannot refuse them without giving up
    pread/lseek, which seq_file listings keep. The test pins that, so that a
    kernel that starts asking the daemon is noticed."""
    src = small / "available_events"
    whole = src.read_bytes()
    subprocess.run(["cp", str(src), str(tmp_path / "cp")], check=True)
    assert (tmp_path / "cp").read_bytes() == whole
    fd = os.open(src, os.O_RDONLY)
    out = os.open(tmp_path / "sendfile", os.O_WRONLY | os.O_CREAT)
    rd, wr = os.pipe()
    try:
        assert os.sendfile(out, fd, 0, len(whole)) == 0
        assert os.splice(fd, wr, len(whole)) == 0
        assert os.pread(fd, 64, 0) == whole[:64]  # while read() still works
    finally:
        for f in (fd, out, rd, wr):
            os.close(f)
