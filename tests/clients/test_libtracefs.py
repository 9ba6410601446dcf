"""libtracefs reads back what was fired through a tpfs mount, exactly and in order,
and makes, lists, fires and removes dynamic events and histograms with its own calls.

``tracefs_reader.c`` is built against Debian's libtracefs-dev and run through
``tpfs exec-as-tracefs``: it enables events (in an instance or at the top),
fires them through the mount's ``fire`` file, writes ``trace_marker``, and
reads the records back with ``tracefs_iterate_raw_events`` (all CPUs, by time),
and with ``tracefs_cpu_open``/``tracefs_cpu_read`` one CPU after another and
over every CPU merged by time.

``tracefs_dynevents.c``, built and run the same way, makes a kprobe and an
eprobe (``tracefs_kprobe_alloc``, ``tracefs_eprobe_alloc``,
``tracefs_dynevent_create``), two synthetic events with their hist triggers
(``tracefs_synth_alloc``, and ``tracefs_sql``: libtracefs's sqlhist syntax)
and a histogram (``tracefs_hist_alloc``); lists them as libtracefs parses the
mount's files, fires them, reads the records and the ``hist`` file back, and
removes everything (``tracefs_dynevent_destroy``, ``tracefs_synth_destroy``,
``tracefs_hist_destroy``). Skipped without a compiler or the library
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
DYNEVENTS = Path(__file__).with_name("tracefs_dynevents.c")
MODES = ("iterate", "cpu", "all")


def build(tmp_path_factory, source: Path) -> Path:
    """``source`` compiled against libtracefs and libtraceevent."""
    if os.geteuid() != 0:
        pytest.skip("exec-as-tracefs needs root")
    for tool in ("cc", "pkg-config", "taskset"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libtracefs", "libtraceevent"],
                           capture_output=True, text=True)
    if flags.returncode:
        pytest.skip(f"libtracefs-dev is not installed: {flags.stderr.strip()}")
    binary = tmp_path_factory.mktemp(source.stem) / source.stem
    built = subprocess.run(["cc", "-Wall", "-Werror", "-O2", "-o", str(binary), str(source),
                            *flags.stdout.split()], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return binary


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> Path:
    return build(tmp_path_factory, SOURCE)


@pytest.fixture(scope="module")
def dynevents(tmp_path_factory) -> Path:
    return build(tmp_path_factory, DYNEVENTS)


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


#: What ``tracefs_dynevents`` fires: the kprobe three times, a waking that
#: ``tpfs_lat``'s start filter takes and one it does not, and a switch to each
#: (``tpfs_sql``'s WHERE drops the second); the eprobe fires on both switches.
DYN_FIRES = (
    "kprobes:tpfs_read __probe_ip=0xffffffff81234567 arg1=5 len=77",
    "kprobes:tpfs_read __probe_ip=0xffffffff81234567 arg1=6 len=4096 @count=2",
    "sched:sched_waking @pid=9 comm=cyclictest pid=42 prio=120",
    "sched:sched_waking @pid=9 comm=other pid=43 prio=110",
    "sched:sched_switch @pid=7 prev_pid=7 next_comm=cyclictest next_pid=42 next_prio=19",
    "sched:sched_switch @pid=7 prev_pid=7 next_comm=other next_pid=43 next_prio=120",
)
KPROBE_SHOWN = "p:kprobes/tpfs_read vfs_read arg1=$arg1 len=$arg3:u32"
EPROBE_SHOWN = "e:eprobes/tpfs_switch sched.sched_switch prev=$prev_pid:u32 next=$next_comm"
LAT_FIELDS = "pid_t pid; u64 delta; s32 wake_prio; char[16] comm"
SQL_FIELDS = "s32 pid; s32 prio; u64 lat"
#: The hist triggers libtracefs writes for the two synthetic events, as tpfs
#: shows them back; libtracefs names its variables ``__NAME_RANDOM_N``, and
#: each RANDOM is shown here as A (tpfs_lat's) or B (tpfs_sql's).
WAKING_TRIGGERS = [
    "hist:keys=pid:vals=hitcount:__arg_A_1=common_timestamp,__arg_A_4=prio:sort=hitcount:"
    'size=2048:clock=global if comm == "cyclictest" [active]',
    "hist:keys=pid:vals=hitcount:__arg_B_3=common_timestamp:sort=hitcount:size=2048:"
    "clock=global [active]",
]
SWITCH_TRIGGERS = [
    "hist:keys=next_pid:vals=hitcount:pid=next_pid,__delta_A_2=common_timestamp-$__arg_A_1,"
    "__wake_prio_A_3=$__arg_A_4,__comm_A_5=next_comm:sort=hitcount:size=2048:clock=global:"
    "onmatch(sched.sched_waking).tpfs_lat($pid,$__delta_A_2,$__wake_prio_A_3,$__comm_A_5)"
    " [active]",
    "hist:keys=next_pid:vals=hitcount:__pid_B_1=common_pid,__prio_B_2=next_prio,"
    "__lat_B_4=common_timestamp-$__arg_B_3:sort=hitcount:size=2048:clock=global:"
    "onmatch(sched.sched_waking).tpfs_sql($__pid_B_1,$__prio_B_2,$__lat_B_4)"
    " if next_prio < 100 [active]",
]
KPROBE_HIST = "hist:keys=len:vals=hitcount,arg1:sort=len:size=2048 [active]"


def libtracefs_variables(lines: list[str]) -> list[str]:
    """``lines`` with each random number in libtracefs's variable names shown as
    A, B, ... in the order they first appear."""
    seen: dict[str, str] = {}

    def letter(m: re.Match[str]) -> str:
        return f"__{m[1]}_{seen.setdefault(m[2], chr(ord('A') + len(seen)))}_{m[3]}"

    return [re.sub(r"__([a-z_]+?)_(\d+)_(\d+)\b", letter, line) for line in lines]


def test_dynamic_events_made_fired_read_and_removed(tpfs, dynevents) -> None:
    """Every call succeeds; what it lists, records and reads is exactly what was
    made and fired (time stamps are counts: the program sets ``trace_clock``
    ``counter`` once its hist triggers are made); and the mount is back as it
    was."""
    # On CPU 0: its fire lines give no @cpu, so they land on the writer's CPU.
    res = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tpfs.path), "--",
                          "taskset", "-c", "0", str(dynevents), "-c", "counter",
                          *[a for line in DYN_FIRES for a in ("-f", line)]],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{res.stderr}\n{res.stdout}"
    sections: dict[str, list[str]] = {}
    for line in res.stdout.splitlines():
        if line.startswith("== "):
            sections[line[3:]] = []
        else:
            sections[list(sections)[-1]].append(line)
    assert list(sections) == ["list", "records", "hist", "remove"], res.stdout
    assert libtracefs_variables(sections["list"]) == [
        "kprobe system=kprobes event=tpfs_read prefix=p addr=vfs_read "
        "format=arg1=$arg1 len=$arg3:u32",
        "fields kprobes:tpfs_read __probe_ip:8:8 arg1:16:8 len:24:4",
        "eprobe system=eprobes event=tpfs_switch prefix=e addr=sched.sched_switch "
        "format=prev=$prev_pid:u32 next=$next_comm",
        "fields eprobes:tpfs_switch prev:8:4 next:12:4",
        f"synth system=synthetic event=tpfs_lat prefix=s addr=(null) format={LAT_FIELDS}",
        f"synth system=synthetic event=tpfs_sql prefix=s addr=(null) format={SQL_FIELDS}",
        "fields synthetic:tpfs_lat pid:8:4 delta:16:8 wake_prio:24:4 comm:32:16",
        "fields synthetic:tpfs_sql pid:8:4 prio:16:4 lat:24:8",
        f"dynamic_events: {KPROBE_SHOWN}",
        f"dynamic_events: {EPROBE_SHOWN}",
        f"dynamic_events: s:synthetic/tpfs_lat\t{LAT_FIELDS}",
        f"dynamic_events: s:synthetic/tpfs_sql\t{SQL_FIELDS}",
        f"kprobe_events: {KPROBE_SHOWN}",
        f"synthetic_events: tpfs_lat\t{LAT_FIELDS}",
        f"synthetic_events: tpfs_sql\t{SQL_FIELDS}",
        *[f"sched/sched_waking/trigger: {t}" for t in WAKING_TRIGGERS],
        *[f"sched/sched_switch/trigger: {t}" for t in SWITCH_TRIGGERS],
        f"kprobes/tpfs_read/trigger: {KPROBE_HIST}",
    ]
    # the switch to 42 comes two counts after its waking; tpfs_sql's pid is
    # the switch's common_pid, 7
    assert sections["records"] == [
        "cpu=0 kprobes:tpfs_read __probe_ip=18446744071581156711 arg1=5 len=77",
        *["cpu=0 kprobes:tpfs_read __probe_ip=18446744071581156711 arg1=6 len=4096"] * 2,
        "cpu=0 synthetic:tpfs_lat pid=42 delta=2 wake_prio=120 comm=cyclictest",
        "cpu=0 synthetic:tpfs_sql pid=7 prio=19 lat=2",
        "cpu=0 eprobes:tpfs_switch prev=7 next=cyclictest",
        "cpu=0 eprobes:tpfs_switch prev=7 next=other",
    ]
    hist = [line.removeprefix("kprobes/tpfs_read/hist: ") for line in sections["hist"]]
    assert hist == [
        "# event histogram", "#", f"# trigger info: {KPROBE_HIST}", "#", "",
        "{ len:         77 } hitcount:          1  arg1:          5",
        "{ len:       4096 } hitcount:          2  arg1:         12",
        "", "Totals:", "    Hits: 3", "    Entries: 2", "    Dropped: 0"]
    assert sections["remove"] == [
        "left: 0", *[f"{f}: (empty)" for f in ("dynamic_events", "kprobe_events",
                                              "synthetic_events", "sched/sched_waking/trigger",
                                              "sched/sched_switch/trigger")],
        "kprobes: gone"]
    for system in ("kprobes", "eprobes", "synthetic"):
        assert not (tpfs / "events" / system).exists()
    for event in ("sched_waking", "sched_switch"):  # out of soft mode with their triggers
        assert tpfs.read(f"events/sched/{event}/enable") == "0\n"
    assert tpfs.read("error_log") == ""
