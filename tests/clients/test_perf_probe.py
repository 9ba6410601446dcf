"""``perf probe`` makes, lists and removes kprobe events on a tpfs mount.

perf runs through ``tpfs exec-as-tracefs``. Without the kernel's debuginfo it
places a probe from /proc/kallsyms alone, writing ``p:probe/SYM _text+OFFSET``
to ``kprobe_events``, and lists (``-l``) the events it reads back from that
file with their places resolved again through kallsyms (this machine's kernel
has no ``kprobe_events``, so perf probe has nowhere to put a kprobe on it). A
probe made by perf is an event of the mount like any other, enabled and fired
through ``fire``; its removal while enabled is refused, as on Linux.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def perf(tpfs):
    if os.geteuid() != 0:
        pytest.skip("exec-as-tracefs needs root")
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed")

    def run(*args: str, fails: bool = False) -> str:
        """What perf printed (perf probe reports on standard error); it must have
        succeeded, or failed when ``fails``."""
        res = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tpfs.path),
                              "--", "perf", "probe", *args],
                             capture_output=True, text=True, timeout=120)
        assert (res.returncode != 0) == fails, f"{res.args}: {res.returncode}\n{res.stderr}"
        return res.stdout + res.stderr

    return run


def text_offset(symbol: str) -> int:
    """Where ``symbol`` is from ``_text``, as perf probe places it."""
    addresses = {}
    for line in Path("/proc/kallsyms").read_text().splitlines():
        addr, _, name = line.split()[:3]
        if name in ("_text", symbol) and name not in addresses:
            addresses[name] = int(addr, 16)
    assert addresses.get("_text"), "/proc/kallsyms hides its addresses"
    return addresses[symbol] - addresses["_text"]


def test_perf_probe_adds_lists_and_removes(tpfs, perf) -> None:
    read, write = text_offset("vfs_read"), text_offset("vfs_write")
    out = perf("-a", "vfs_read")
    assert "Added new event:\n  probe:vfs_read       (on vfs_read)\n" in out, out
    perf("-a", "tpfs_ret=vfs_read%return $retval")
    perf("-a", "vfs_write %di len=%dx:u32")
    # a name in use: perf reads kprobe_events and refuses, or (-f) takes the next name
    assert 'event "vfs_read" already exists' in perf("-a", "vfs_read", fails=True)
    perf("-f", "-a", "vfs_read")
    assert tpfs.read("kprobe_events") == (
        f"p:probe/vfs_read _text+{read}\n"
        "r:probe/tpfs_ret__return vfs_read arg1=$retval\n"
        f"p:probe/vfs_write _text+{write} arg1=%di len=%dx:u32\n"
        f"p:probe/vfs_read_1 _text+{read}\n")
    assert perf("-l").splitlines() == [  # perf sorts the file's lines
        "  probe:vfs_read       (on vfs_read)",
        "  probe:vfs_read_1     (on vfs_read)",
        "  probe:vfs_write      (on vfs_write with arg1 len)",
        "  probe:tpfs_ret__return (on vfs_read%return with arg1)"]
    # -D prints the definition (names in use not looked at), -n goes through the
    # motions: neither writes anything
    assert perf("-D", "vfs_write").splitlines() == [f"p:probe/vfs_write _text+{write}"]
    assert "probe:vfs_write_1" in perf("-n", "-f", "-a", "vfs_write")
    assert tpfs.read("kprobe_events").count("\n") == 4

    tpfs.write("events/probe/vfs_write/enable", "1")
    tpfs.write("fire", "probe:vfs_write __probe_ip=0xffffffff81234567 arg1=3 len=4\n")
    [line] = [x for x in tpfs.read("trace").splitlines() if not x.startswith("#")]
    assert line.endswith(" vfs_write: (ffffffff81234567) arg1=0x3 len=4"), line
    # an enabled event cannot go, as on Linux; perf says so and removes nothing
    assert "Device or resource busy" in perf("-d", "probe:vfs_write", fails=True)
    tpfs.write("events/probe/vfs_write/enable", "0")
    out = perf("-d", "probe:*")
    assert sorted(line for line in out.splitlines() if line.startswith("Removed event:")) == [
        "Removed event: probe:tpfs_ret__return", "Removed event: probe:vfs_read",
        "Removed event: probe:vfs_read_1", "Removed event: probe:vfs_write"], out
    assert tpfs.read("kprobe_events") == ""
    assert not (tpfs / "events/probe").exists()
