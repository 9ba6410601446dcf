"""Dynamic events through a mount: kprobes, eprobes and synthetic events (which
this kernel lacks) are made, fired, read back and removed as the kernel's
documentation says; uprobes are compared with the kernel in
tests/compat/test_dynamic_events_compat.py."""

from __future__ import annotations

import errno
import os

import pytest
from compat.kernel import errno_of, write

from tpfs.tools.mounting import Mount

APPEND = os.O_WRONLY | os.O_APPEND
KPROBE = "p:myprobe vfs_read $arg1 len=$arg3:u32\n"


def events_of(text: str) -> list[str]:
    return [line.split("] ", 1)[1].split(": ", 1)[1] for line in text.splitlines()
            if not line.startswith("#")]


def test_a_kprobe_event_is_made_in_every_instance_fires_and_goes(tpfs: Mount) -> None:
    (tpfs / "instances/before").mkdir()
    tpfs.write("kprobe_events", KPROBE)
    (tpfs / "instances/after").mkdir()
    shown = "p:kprobes/myprobe vfs_read arg1=$arg1 len=$arg3:u32\n"
    assert tpfs.read("kprobe_events") == tpfs.read("dynamic_events") == shown
    assert tpfs.read("uprobe_events") == tpfs.read("synthetic_events") == ""
    ident = int(tpfs.read("events/kprobes/myprobe/id"))
    for where in ("", "instances/before/", "instances/after/"):
        assert sorted(os.listdir(tpfs / f"{where}events/kprobes/myprobe")) == [
            "enable", "filter", "format", "hist", "id", "trigger"]
        assert int(tpfs.read(f"{where}events/kprobes/myprobe/id")) == ident
    assert "kprobes:myprobe\n" in tpfs.read("available_events")
    assert ident > max(int((tpfs / "events/sched/sched_switch/id").read_text()), 60000)
    assert os.listdir(tpfs / "modules") == ["load", "unload"]  # no provider shows there
    tpfs.write("events/kprobes/myprobe/enable", "1")
    tpfs.write("instances/after/events/kprobes/enable", "1")
    tpfs.write("fire", "kprobes:myprobe __probe_ip=0xffffffff81234567 arg1=5 len=77\n")
    line = "myprobe: (ffffffff81234567) arg1=0x5 len=77"
    assert events_of(tpfs.read("trace")) == [line]
    assert events_of(tpfs.read("instances/after/trace")) == [line]
    assert events_of(tpfs.read("instances/before/trace")) == []
    # enabled somewhere: neither a removal nor O_TRUNC takes it
    tpfs.write("events/kprobes/myprobe/enable", "0")
    assert errno_of(write, tpfs / "kprobe_events", "-:myprobe\n", APPEND) == errno.EBUSY
    assert errno_of(write, tpfs / "dynamic_events", "", os.O_WRONLY | os.O_TRUNC) == errno.EBUSY
    assert tpfs.read("kprobe_events") == shown
    tpfs.write("instances/after/events/kprobes/myprobe/enable", "0")
    write(tpfs / "kprobe_events", "-:kprobes/myprobe\n", APPEND)
    assert tpfs.read("dynamic_events") == ""
    for where in ("", "instances/before/", "instances/after/"):
        assert not (tpfs / f"{where}events/kprobes").exists()
    # the instance that recorded it is emptied: no record outlives its format
    assert events_of(tpfs.read("instances/after/trace")) == []
    assert errno_of(write, tpfs / "kprobe_events", "-:myprobe\n", APPEND) == errno.ENOENT


def test_a_name_made_again_gets_its_new_format(tpfs: Mount) -> None:
    tpfs.write("kprobe_events", "p:again vfs_read x=%di:u8\n")
    tpfs.write("events/kprobes/again/enable", "1")
    tpfs.write("fire", "kprobes:again x=7\n")
    tpfs.write("events/kprobes/again/enable", "0")
    write(tpfs / "kprobe_events", "", os.O_WRONLY | os.O_TRUNC)  # every kprobe goes
    assert tpfs.read("trace").count("again:") == 0
    tpfs.write("kprobe_events", "p:again vfs_read y=%si:s32\n")
    tpfs.write("events/kprobes/again/enable", "1")
    tpfs.write("fire", "kprobes:again y=-2\n")
    assert events_of(tpfs.read("trace")) == ["again: (0) y=-2"]


def test_bad_definitions_change_nothing_and_are_logged(tpfs: Mount) -> None:
    tpfs.write("kprobe_events", "p:ok vfs_read\n")
    assert errno_of(write, tpfs / "kprobe_events", "p:bad vfs_read $retval\n",
                    APPEND) == errno.EINVAL
    assert tpfs.read("error_log").split("] ", 1)[1] == (
        "trace_kprobe: error: $retval is not available on probe\n"
        "  Command: p:bad vfs_read $retval\n"
        "                          ^\n")
    # the same name at another place is another place of that event; the same place is not
    write(tpfs / "kprobe_events", "p:ok vfs_write\n", APPEND)
    assert errno_of(write, tpfs / "kprobe_events", "p:ok vfs_read\n", APPEND) == errno.EEXIST
    assert "There is already the exact same probe event" in tpfs.read("error_log")
    assert errno_of(write, tpfs / "kprobe_events", "p:sched/sched_switch vfs_write\n",
                    APPEND) == errno.EEXIST
    assert "already used by another event" in tpfs.read("error_log")
    # each file takes its own kinds
    assert errno_of(write, tpfs / "uprobe_events", "p:k2 vfs_read\n", APPEND) == errno.EINVAL
    assert errno_of(write, tpfs / "kprobe_events", "s:lat u64 x\n", APPEND) == errno.EINVAL
    assert tpfs.read("dynamic_events") == "p:kprobes/ok vfs_read\np:kprobes/ok vfs_write\n"


def host_names() -> dict[str, int]:
    """How many symbols of each name the host's kallsyms lists."""
    counts: dict[str, int] = {}
    with open("/proc/kallsyms") as kallsyms:
        for line in kallsyms:
            name = line.split()[2]
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_a_kprobes_symbol_is_checked_against_the_hosts_kallsyms(tpfs: Mount) -> None:
    """``validate_probe_symbol``: no symbol of the name, or several, is EINVAL."""
    counts = host_names()
    shared = next(name for name, n in counts.items() if n > 1 and name.isidentifier())
    assert "tpfs_no_such_function" not in counts and counts["vfs_read"] == 1
    for line, message in (("p:gone tpfs_no_such_function", "Invalid probed address or symbol"),
                          (f"p:twice {shared}", "The symbol is not unique")):
        assert errno_of(write, tpfs / "kprobe_events", line + "\n", APPEND) == errno.EINVAL
        caret = " " * len("  Command: " + line.split()[0] + " ") + "^"
        assert tpfs.read("error_log").endswith(
            f"trace_kprobe: error: {message}\n  Command: {line}\n{caret}\n")
    assert tpfs.read("kprobe_events") == ""
    tpfs.write("kprobe_events", "p:there vfs_read+4\n")
    assert tpfs.read("kprobe_events") == "p:kprobes/there vfs_read+4\n"


def test_kprobe_profile_counts_each_events_hits_while_enabled(tpfs: Mount) -> None:
    """``kprobe_profile``: every kprobe place with its event's hits (on its first
    place) and misses (none), in creation order; uprobes are in ``uprobe_profile``."""
    tpfs.write("kprobe_events", "p:one vfs_read\nr:two vfs_write\n")
    write(tpfs / "kprobe_events", "p:one vfs_write+4\n", APPEND)
    write(tpfs / "uprobe_events", "p:up /bin/true:0x10\n", APPEND)

    def line(name: str, hits: int) -> str:
        return f"  {name:<44} {hits:15d} {0:15d}\n"

    assert tpfs.read("kprobe_profile") == line("one", 0) + line("two", 0) + line("one", 0)
    tpfs.write("fire", "kprobes:one\n")  # disabled: the probe is not there to be hit
    tpfs.write("events/kprobes/one/enable", "1")
    tpfs.write("fire", "kprobes:one @count=3\nkprobes:two\n")
    tpfs.write("events/kprobes/one/enable", "0")
    tpfs.write("fire", "kprobes:one\n")
    assert tpfs.read("kprobe_profile") == line("one", 3) + line("two", 0) + line("one", 0)
    assert tpfs.read("uprobe_profile") == f"  /bin/true {'up':<44} {0:15d}\n"
    write(tpfs / "kprobe_events", "-:kprobes/two\n", APPEND)
    write(tpfs / "kprobe_events", "-:kprobes/one\n", APPEND)
    write(tpfs / "kprobe_events", "p:one vfs_read\n", APPEND)  # a new event counts afresh
    assert tpfs.read("kprobe_profile") == line("one", 0)


def test_dynamic_events_takes_bang_removals_and_slash_targets(tpfs: Mount) -> None:
    """``!`` removes in ``dynamic_events`` as ``-:`` does (not in ``kprobe_events``),
    and an eprobe attaches to ``SYSTEM/EVENT`` as to ``SYSTEM.EVENT``."""
    tpfs.write("dynamic_events", "p:one vfs_read\ns:lat u64 v\n")
    write(tpfs / "dynamic_events", "e:ep/sw sched/sched_switch p=$prev_pid\n", APPEND)
    assert errno_of(write, tpfs / "kprobe_events", "!p:one vfs_read\n", APPEND) == errno.EINVAL
    write(tpfs / "dynamic_events", "!p:one vfs_read\n", APPEND)
    write(tpfs / "dynamic_events", "!s:lat u64 v\n", APPEND)
    assert tpfs.read("dynamic_events") == "e:ep/sw sched/sched_switch p=$prev_pid\n"
    write(tpfs / "dynamic_events", "!e:ep/sw\n", APPEND)
    assert tpfs.read("dynamic_events") == ""
    assert errno_of(write, tpfs / "dynamic_events", "!e:ep/sw\n", APPEND) == errno.ENOENT


def test_a_filtered_eprobe_fires_only_on_matching_records(tpfs: Mount) -> None:
    """The filter after ``if`` is checked on the attached event's record, as an
    event trigger's filter is; a bad one is logged as a filter error."""
    tpfs.write("dynamic_events", "e:ep/f sched/sched_switch p=$prev_pid if prev_pid == 42\n")
    assert tpfs.read("dynamic_events") == (
        "e:ep/f sched/sched_switch p=$prev_pid if prev_pid == 42\n")
    tpfs.write("events/ep/f/enable", "1")
    tpfs.write("fire", "sched:sched_switch prev_pid=7\nsched:sched_switch prev_pid=42\n")
    assert events_of(tpfs.read("trace")) == ["f:  p=42"]
    tpfs.write("events/ep/f/enable", "0")
    assert errno_of(write, tpfs / "dynamic_events",
                    "e:ep/g sched/sched_switch if nosuch == 1\n", APPEND) == errno.EINVAL
    logged = tpfs.read("error_log").split("] ", 1)[1]
    assert logged.startswith("event filter parse error: error: Field not found\n"
                             "  Command: nosuch == 1\n")
    assert errno_of(write, tpfs / "events/sched/sched_switch/filter", "nosuch == 1") == \
        errno.EINVAL  # the same filter on the event itself: the same entry
    assert tpfs.read("error_log").rsplit("] ", 1)[1] == logged


def test_an_eprobe_fires_with_its_events_fields(tpfs: Mount) -> None:
    tpfs.write("dynamic_events", "e:sched/switched sched.sched_switch prev=$prev_pid:u32 "
                                 "comm=$next_comm\n")
    assert tpfs.read("dynamic_events") == (
        "e:sched/switched sched.sched_switch prev=$prev_pid:u32 comm=$next_comm\n")
    tpfs.write("events/sched/switched/enable", "1")
    tpfs.write("fire", "sched:sched_switch prev_pid=42 next_comm=hello @count=2\n")
    assert events_of(tpfs.read("trace")) == ['switched:  prev=42 comm="hello"'] * 2
    tpfs.write("events/sched/switched/enable", "0")
    # find_and_get_event skips probe events: no eprobe on an eprobe
    assert errno_of(write, tpfs / "dynamic_events", "e:on/top sched.switched p=$prev\n",
                    APPEND) == errno.ENODEV
    write(tpfs / "dynamic_events", "", os.O_WRONLY | os.O_TRUNC)
    assert tpfs.read("dynamic_events") == ""
    assert not (tpfs / "events/sched/switched").exists()


def test_synthetic_events_are_defined_listed_fired_and_removed(tpfs: Mount) -> None:
    tpfs.write("synthetic_events", "wakeup_latency u64 lat; pid_t pid; char comm[16]\n")
    write(tpfs / "dynamic_events", "s:other int x\n", APPEND)
    assert tpfs.read("synthetic_events") == (
        "wakeup_latency\tu64 lat; pid_t pid; char[16] comm\nother\tint x\n")
    assert tpfs.read("dynamic_events") == (
        "s:synthetic/wakeup_latency\tu64 lat; pid_t pid; char[16] comm\n"
        "s:synthetic/other\tint x\n")
    tpfs.write("events/synthetic/wakeup_latency/enable", "1")
    tpfs.write("fire", "synthetic:wakeup_latency lat=1500 pid=7 comm=cyclictest\n")
    # as print_synth_event prints it: spaces between the fields, the string whole
    assert events_of(tpfs.read("trace")) == ["wakeup_latency: lat=1500 pid=7 comm=cyclictest"]
    assert errno_of(write, tpfs / "synthetic_events", "!wakeup_latency\n",
                    APPEND) == errno.EBUSY
    tpfs.write("events/synthetic/wakeup_latency/enable", "0")
    write(tpfs / "synthetic_events", "!wakeup_latency\n", APPEND)
    assert tpfs.read("synthetic_events") == "other\tint x\n"
    assert errno_of(write, tpfs / "synthetic_events", "other int y\n", APPEND) == errno.EEXIST
    assert errno_of(write, tpfs / "synthetic_events", "9bad int y\n", APPEND) == errno.EINVAL
    assert "synthetic_events: error: Illegal name" in tpfs.read("error_log")


@pytest.mark.parametrize("file", ["kprobe_events", "uprobe_events", "dynamic_events",
                                  "synthetic_events"])
def test_files_are_top_level_only(tpfs: Mount, file: str) -> None:
    (tpfs / "instances/one").mkdir()
    assert (tpfs / file).exists()
    assert not (tpfs / "instances/one" / file).exists()


def test_an_instance_filters_a_dynamic_event_by_its_fields(tpfs: Mount) -> None:
    (tpfs / "instances/one").mkdir()
    tpfs.write("kprobe_events", "p:myprobe vfs_read len=$arg3:u32\n")
    where = "instances/one/events/kprobes/myprobe/"
    tpfs.write(where + "filter", "len > 10")
    assert tpfs.read(where + "filter") == "len > 10\n"
    tpfs.write(where + "enable", "1")
    tpfs.write("fire", "kprobes:myprobe len=5\nkprobes:myprobe len=50\n")
    assert events_of(tpfs.read("instances/one/trace")) == ["myprobe: (0) len=50"]
