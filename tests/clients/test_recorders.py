"""trace-cmd and perf record through a tpfs mount what was fired, as on Linux.

Each tool runs through ``tpfs exec-as-tracefs``. trace-cmd records (``record``,
``record -B``, ``start`` + ``extract``, ``stream``) events fired through the
mount's ``fire`` file and ``trace_marker``, and ``trace-cmd report`` must list
exactly those events, with their field values, in order. ``list -o``, ``list
-B`` and ``show`` are compared with the same commands on the kernel's own
tracefs (structure, not values). perf records a real kernel event with the
mount as its tracefs, and ``perf script`` must read the file back.
``record`` of dynamic events (a kprobe, an eprobe and a synthetic event made
through the mount's definition files, fired through ``fire`` or by the events
they hang on) must report them with their field values too.

trace-cmd runs with ``-d`` (no function tracer): without it trace-cmd writes
/proc/sys/kernel/ftrace_enabled, which is the host's and which a locked-down
kernel refuses even to root (``exec-as-tracefs`` binds a writable copy, so the
record with trace-cmd's defaults runs without it). Without ``--nosplice`` its
readers splice the daemon's FIFOs that ``exec-as-tracefs`` binds over
``trace_pipe_raw`` (docs/recording.md). ``-e ftrace:print`` is refused by trace-cmd on
Linux too (ftrace events have no ``enable``); markers are recorded anyway.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tpfs.fuse.rawfifo import fifo_dir

TRACING = "/sys/kernel/tracing"
LINE = re.compile(r"^(?:(?P<buffer>\S+):)?\s*(?P<comm>\S.*?)-(?P<pid>\d+)\s+\[(?P<cpu>\d{3})\]\s+"
                  r"(?P<ts>\d+(?:\.\d+)?):\s+(?P<event>\w+):\s+(?P<info>.*)$")
KERNEL_SETUP = r"""
set -e
for m in $(awk '$3 == "tracefs" { print $2 }' /proc/mounts | sort -r); do umount -l "$m"; done
mount -t tracefs nodev /sys/kernel/tracing
exec "$@"
"""


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if os.geteuid() != 0:
        pytest.skip("exec-as-tracefs needs root")


def as_tracefs(mount, *cmd: str, cwd: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(mount.path), "--",
                           *cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, f"{res.args}: {res.returncode}\n{res.stderr}\n{res.stdout}"
    return res.stdout


def on_kernel(*cmd: str) -> str:
    """``cmd`` with the kernel's own tracefs at /sys/kernel/tracing, in a private
    mount namespace."""
    return ok(subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                              KERNEL_SETUP, "kernel", *cmd],
                             capture_output=True, text=True, timeout=300))


def kernel_tracefs() -> None:
    if not Path("/proc/filesystems").read_text().count("\ttracefs"):
        pytest.skip("this kernel has no tracefs")


def switch(cpu: int, prev: tuple[str, int, int], nxt: tuple[str, int, int],
           state: int) -> tuple[str, tuple[str, int, int, str, str]]:
    """A ``fire`` line and the report line (comm, pid, cpu, event, info) of its record,
    as trace-cmd's sched_switch plugin prints it."""
    (pcomm, ppid, pprio), (ncomm, npid, nprio) = prev, nxt
    fire = (f"sched:sched_switch @cpu={cpu} @pid={ppid} @comm={pcomm} prev_comm={pcomm} "
            f"prev_pid={ppid} prev_prio={pprio} prev_state={state} next_comm={ncomm} "
            f"next_pid={npid} next_prio={nprio}")
    info = f"{pcomm}:{ppid} [{pprio}] {'S' if state else 'R'} ==> {ncomm}:{npid} [{nprio}]"
    return fire, (pcomm, ppid, cpu, "sched_switch", info)


def last_cpu(mount) -> int:
    return len([p for p in (mount / "per_cpu").iterdir() if p.name.startswith("cpu")]) - 1


def mark_ip_name() -> str | None:
    """What the kernel's ``ftrace:print`` ip resolves to in trace-cmd's report:
    ``tracing_mark_write`` when /proc/kallsyms shows its address."""
    for line in Path("/proc/kallsyms").read_text().splitlines():
        addr, _, name = line.split()[:3]
        if name == "tracing_mark_write":
            return name if int(addr, 16) else None
    return None


class Scenario:
    """Two switches on different CPUs around a marker written from CPU 0."""

    def __init__(self, mount, tmp_path: Path, marker_file: str = "trace_marker") -> None:
        last = last_cpu(mount)
        self.fire1, self.rec1 = switch(last, ("alpha", 101, 120), ("beta", 202, 100), 1)
        self.fire2, self.rec2 = switch(0, ("beta", 202, 100), ("gamma", 303, 139), 0)
        self.pidfile = tmp_path / "marker.pid"
        self.text = "hello from tpfs"
        self.marker_file = marker_file

    def script(self, root: str = TRACING) -> list[str]:
        """The command that fires, pinned to CPU 0 (where its marker lands)."""
        return ["taskset", "-c", "0", "sh", "-c",
                f"echo $$ > {self.pidfile}; "
                f"echo '{self.fire1}' > {root}/fire; "
                f"echo '{self.text}' > {root}/{self.marker_file}; "
                f"echo '{self.fire2}' > {root}/fire"]

    def expected(self) -> list[tuple[str, int, int, str, str]]:
        pid = int(self.pidfile.read_text())
        return [self.rec1, ("sh", pid, 0, "print", self.text), self.rec2]


def check_report(out: str, expected: list[tuple[str, int, int, str, str]],
                 buffer: str | None = None, *, comms_saved: bool = True) -> None:
    """The report's event lines are exactly ``expected``, in time order. A marker's
    writer may show as ``<...>`` (no sched_switch saved its comm), and so may every
    task when the comms were read before the events (``comms_saved`` false:
    ``trace-cmd stream`` reads saved_cmdlines once, when it starts); a marker's
    ip must resolve as the kernel's does."""
    lines = [m for m in map(LINE.match, out.splitlines()) if m]
    assert len(lines) == len(expected), out
    stamps = [float(m["ts"]) for m in lines]
    assert stamps == sorted(stamps), out
    ip_name = mark_ip_name()
    for m, (comm, pid, cpu, event, info) in zip(lines, expected, strict=True):
        assert m["buffer"] == buffer, out
        assert (int(m["pid"]), int(m["cpu"]), m["event"]) == (pid, cpu, event), m[0]
        if event == "print":
            assert m["comm"] in (comm, "<...>"), m[0]
            assert m["info"].endswith(f": {info}"), m[0]
            if ip_name:
                assert m["info"] == f"{ip_name}: {info}", m[0]
        else:
            assert m["comm"] == comm or (not comms_saved and m["comm"] == "<...>"), m[0]
            assert m["info"].strip() == info, m[0]


def check_raw_fields(out: str) -> None:
    """``report -R``: every field of the two switches, as fired."""
    raw = [m["info"].strip() for m in map(LINE.match, out.splitlines())
           if m and m["event"] == "sched_switch"]
    assert raw == [
        "prev_comm=alpha prev_pid=101 prev_prio=120 prev_state=1 "
        "next_comm=beta next_pid=202 next_prio=100",
        "prev_comm=beta prev_pid=202 prev_prio=100 prev_state=0 "
        "next_comm=gamma next_pid=303 next_prio=139"], out


def report(dat: Path, *args: str) -> str:
    return ok(subprocess.run(["trace-cmd", "report", *args, "-i", str(dat)],
                             capture_output=True, text=True, timeout=300))


def test_record_report(tpfs, tmp_path) -> None:
    need("trace-cmd", "taskset")
    scene = Scenario(tpfs, tmp_path)
    dat = tmp_path / "trace.dat"
    ok(as_tracefs(tpfs, "trace-cmd", "record", "-d", "-o", str(dat), "-e", "sched:sched_switch",
                  "--", *scene.script(), cwd=tmp_path))
    check_report(report(dat), scene.expected())
    check_raw_fields(report(dat, "-R"))
    # trace-cmd puts back what it changed, and leaves no event enabled
    assert tpfs.read("events/sched/sched_switch/enable") == "0\n"
    assert tpfs.read("tracing_on") == "1\n"
    assert tpfs.read("options/function-trace") == "1\n"


def test_record_refuses_ftrace_print_as_on_linux(tpfs, tmp_path) -> None:
    need("trace-cmd")
    res = as_tracefs(tpfs, "trace-cmd", "record", "-d", "-o", str(tmp_path / "t.dat"),
                     "-e", "sched:sched_switch", "-e", "ftrace:print", "--", "true", cwd=tmp_path)
    assert res.returncode != 0 and "No events enabled with ftrace:print" in res.stderr, res.stderr


def test_record_instance(tpfs, tmp_path) -> None:
    """``-B NAME``: trace-cmd makes the instance, records its buffer alone, and
    removes it; the marker is the instance's."""
    need("trace-cmd", "taskset")
    scene = Scenario(tpfs, tmp_path, marker_file="instances/tpfs_rec/trace_marker")
    dat = tmp_path / "trace.dat"
    ok(as_tracefs(tpfs, "trace-cmd", "record", "-d", "-B", "tpfs_rec", "-o", str(dat),
                  "-e", "sched:sched_switch", "--", *scene.script(), cwd=tmp_path))
    check_report(report(dat), scene.expected(), buffer="tpfs_rec")
    check_raw_fields(report(dat, "-R"))
    assert list((tpfs / "instances").iterdir()) == []
    assert tpfs.read("events/sched/sched_switch/enable") == "0\n"


def test_start_extract(tpfs, tmp_path) -> None:
    need("trace-cmd", "taskset")
    scene = Scenario(tpfs, tmp_path)
    ok(as_tracefs(tpfs, "trace-cmd", "start", "-d", "-e", "sched:sched_switch", cwd=tmp_path))
    assert tpfs.read("events/sched/sched_switch/enable") == "1\n"
    assert tpfs.read("tracing_on") == "1\n"
    ok(subprocess.run(scene.script(str(tpfs.path)), capture_output=True, text=True, timeout=60))
    dat = tmp_path / "extract.dat"
    ok(as_tracefs(tpfs, "trace-cmd", "extract", "-o", str(dat), cwd=tmp_path))
    check_report(report(dat), scene.expected())
    check_raw_fields(report(dat, "-R"))


DYNAMIC = {
    "kprobe_events": "p:tpfs_read vfs_read $arg1 len=$arg3:u32\n",
    "dynamic_events": "e:eprobes/tpfs_switch sched.sched_switch prev=$prev_pid:u32 "
                      "comm=$next_comm\n",
    "synthetic_events": "wakeup_latency u64 lat; pid_t pid; int prio\n",
    "events/sched/sched_waking/trigger": 'hist:keys=pid:ts0=common_timestamp if comm=="rt"\n',
    "events/sched/sched_switch/trigger":
        "hist:keys=next_pid:lat=common_timestamp-$ts0:onmatch(sched.sched_waking)"
        ".trace(wakeup_latency,$lat,next_pid,next_prio)\n",
}


def test_record_report_dynamic_events(tpfs, tmp_path) -> None:
    """``-e`` of a kprobe, an eprobe and a synthetic event made through the mount:
    the kprobe fired through ``fire``, the eprobe by the sched_switch it hangs on,
    the synthetic event by that switch's hist trigger (matching the waking);
    ``-C counter`` makes the latency a count. Nothing else is recorded: the
    sched events are not enabled, only their triggers run (soft mode)."""
    need("trace-cmd")
    made = {"kprobes:tpfs_read", "eprobes:tpfs_switch", "synthetic:wakeup_latency"}
    assert not made & set(ok(as_tracefs(tpfs, "trace-cmd", "list", "-e")).split())
    for name, line in DYNAMIC.items():
        tpfs.write(name, line)
    assert made <= set(ok(as_tracefs(tpfs, "trace-cmd", "list", "-e")).split())
    last = last_cpu(tpfs)
    fires = [f"kprobes:tpfs_read @cpu={last} @pid=101 @comm=alpha "
             "__probe_ip=0xffffffff81234567 arg1=5 len=77",
             "sched:sched_waking @cpu=0 @pid=202 @comm=beta comm=rt pid=42 prio=120",
             "sched:sched_waking @cpu=0 @pid=202 @comm=beta comm=other pid=43 prio=120",
             "sched:sched_switch @cpu=0 @pid=202 @comm=beta prev_pid=202 next_comm=rt "
             "next_pid=42 next_prio=19",
             "sched:sched_switch @cpu=0 @pid=202 @comm=beta prev_pid=202 next_comm=other "
             "next_pid=43 next_prio=120"]
    dat = tmp_path / "trace.dat"
    ok(as_tracefs(tpfs, "trace-cmd", "record", "-d", "-C", "counter", "-o", str(dat),
                  "-e", "kprobes:tpfs_read", "-e", "eprobes:tpfs_switch",
                  "-e", "synthetic:wakeup_latency", "--", "sh", "-c",
                  "".join(f"echo '{line}' > {TRACING}/fire; " for line in fires), cwd=tmp_path))
    # one count a firing: the waking of 42 is the 2nd, its switch the 4th; the
    # switch to 43 matches no waking the trigger kept (its comm is not rt)
    check_report(report(dat), [
        ("alpha", 101, last, "tpfs_read", "(ffffffff81234567) arg1=0x5 len=77"),
        ("beta", 202, 0, "wakeup_latency", "lat=2, pid=42, prio=19"),
        ("beta", 202, 0, "tpfs_switch", 'prev=202 comm="rt"'),
        ("beta", 202, 0, "tpfs_switch", 'prev=202 comm="other"')])
    raw = [m["info"].strip() for m in map(LINE.match, report(dat, "-R").splitlines()) if m]
    assert raw == ["__probe_ip=ffffffff81234567 arg1=0x5 len=77", "lat=2 pid=42 prio=19",
                   "prev=202 comm=rt", "prev=202 comm=other"], raw
    # trace-cmd disabled what it enabled, so the definitions can go
    for event in ("kprobes/tpfs_read", "eprobes/tpfs_switch", "synthetic/wakeup_latency"):
        assert tpfs.read(f"events/{event}/enable") == "0\n"
    # the switch's trigger first: it uses the waking's $ts0
    for name, line in [*[(n, f"!{DYNAMIC[n]}") for n in reversed(DYNAMIC)
                         if n.endswith("trigger")],
                       ("dynamic_events", "-:eprobes/tpfs_switch\n"),
                       ("kprobe_events", "-:tpfs_read\n"),
                       ("synthetic_events", "!wakeup_latency\n")]:
        tpfs.write(name, line)
    assert tpfs.read("dynamic_events") == ""


Expected = list[tuple[str, int, int, str, str]]


def stream(tpfs, tmp_path, *options: str) -> tuple[subprocess.CompletedProcess[str], Expected]:
    """Run ``trace-cmd stream``, fire the scene, SIGINT it, fire a late burst, and
    wait for it to end; returns its result and the scene's expected lines.

    Its readers wait in select() until a CPU's buffer is ``buffer_percent`` full,
    and the parent flushes them with SIGUSR2 every half second; after SIGINT it
    waits for one more record from a reader before it stops them (SIGUSR1),
    drains them and exits 0. On a live machine that record comes once a buffer
    fills again: here a late burst fills 16 KiB buffers past half (the FIFOs
    that stand for them without ``--nosplice`` are readable at once). SIGINT
    goes to the whole process group, as Ctrl-C sends it; trace-cmd must be gone
    ``STOPS_WITHIN`` seconds after the burst."""
    need("trace-cmd", "taskset")
    scene = Scenario(tpfs, tmp_path)
    tpfs.write("buffer_size_kb", "16\n")
    tpfs.write("events/sched/sched_switch/enable", "0\n")
    proc = subprocess.Popen([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tpfs.path),
                             "--", "trace-cmd", "stream", *options, "-d",
                             "-e", "sched:sched_switch"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # ready once the event is enabled and tracing turned back on after it
        while not (tpfs.read("events/sched/sched_switch/enable") == "1\n"
                   and tpfs.read("tracing_on") == "1\n"):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        time.sleep(1)
        ok(subprocess.run(scene.script(str(tpfs.path)), capture_output=True, text=True,
                          timeout=60))
        time.sleep(2)  # flushed to the parent within half a second or so
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: its readers ignore it
        time.sleep(1)
        tpfs.write("fire", f"{LATE_FIRE} @count={LATE_BURST}\n")
        late = time.monotonic()
        out, err = proc.communicate(timeout=15)
        assert time.monotonic() - late < STOPS_WITHIN, "trace-cmd stream took long to stop"
    finally:
        if proc.poll() is None or subprocess.run(["pgrep", "-g", str(proc.pid)],
                                                 capture_output=True).returncode == 0:
            os.killpg(proc.pid, signal.SIGKILL)  # its readers too, left blocked if it died
            proc.communicate()
    assert tpfs.read("events/sched/sched_switch/enable") == "0\n"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), scene.expected()


LATE_FIRE, LATE = switch(0, ("gamma", 303, 139), ("alpha", 101, 120), 1)
LATE_BURST = 200  # 200 records of 68 bytes: over three of a CPU's five pages
STOPS_WITHIN = 8  # seconds from the late burst to trace-cmd's exit (about 1 here)


@pytest.mark.parametrize("options", [("--nosplice",), ()], ids=["nosplice", "splice"])
def test_stream_stops_cleanly(tpfs, tmp_path, options: tuple[str, ...]) -> None:
    """``trace-cmd stream`` prints what was fired, then stops on SIGINT, with
    ``--nosplice`` and without (its readers then splice() the daemon's FIFOs,
    which ``exec-as-tracefs`` binds over ``trace_pipe_raw``).

    It prints the scene, then the late records its readers delivered before
    the parent stopped draining them (trace-cmd stops at the first empty poll,
    on Linux too), at least the one it waited for."""
    res, expected = stream(tpfs, tmp_path, *options)
    assert res.returncode == 0, res.stderr
    # in time order per CPU: it prints whichever reader's record is oldest of
    # those that have arrived, and the readers deliver at different times
    shown = [m for m in map(LINE.match, res.stdout.splitlines()) if m]
    for cpu in {m["cpu"] for m in shown}:
        stamps = [float(m["ts"]) for m in shown if m["cpu"] == cpu]
        assert stamps == sorted(stamps), res.stdout
    lines = sorted(shown, key=lambda m: float(m["ts"]))
    late = len(lines) - len(expected)
    assert 1 <= late <= LATE_BURST, res.stdout
    check_report("\n".join(m[0] for m in lines), [*expected, *[LATE] * late],
                 comms_saved=False)


ROUNDS, BURST = 20, 100


def test_record_with_defaults_keeps_every_event(tpfs, tmp_path) -> None:
    """``trace-cmd record`` as a user runs it (no ``--nosplice``, no ``-d``: its
    readers splice() the daemon's FIFOs) of events fired on two CPUs while it
    records, four times what its 64 KiB buffers hold: the report has every one,
    in order on each CPU. Were the readers' splices to get nothing, only what
    the buffers hold at the end would be there."""
    need("trace-cmd")
    last = last_cpu(tpfs)
    dat = tmp_path / "trace.dat"
    fire = (f"sched:sched_switch prev_comm=a prev_pid=$i next_comm=b next_pid=2 "
            f"@count={BURST}")
    script = (f"i=1; while [ $i -le {ROUNDS} ]; do "
              f"echo '{fire} @cpu=0' > {TRACING}/fire; echo '{fire} @cpu={last}' > {TRACING}/fire; "
              "sleep 0.02; i=$((i+1)); done")
    ok(as_tracefs(tpfs, "trace-cmd", "record", "-b", "64", "-o", str(dat),
                  "-e", "sched:sched_switch", "--", "sh", "-c", script.replace("'", '"'),
                  cwd=tmp_path))
    lines = [m for m in map(LINE.match, report(dat).splitlines()) if m]
    assert len(lines) == 2 * ROUNDS * BURST, f"{len(lines)} of {2 * ROUNDS * BURST}"
    for cpu in (0, last):
        pids = [int(m["info"].split(":")[1].split()[0]) for m in lines if int(m["cpu"]) == cpu]
        assert pids == [i for i in range(1, ROUNDS + 1) for _ in range(BURST)], cpu


def test_record_splices_an_instance_made_beforehand(tpfs, tmp_path) -> None:
    """``record -B NAME`` (splicing) of an instance there before ``exec-as-tracefs``
    starts, whose FIFOs it binds over the instance's ``trace_pipe_raw``: events
    fired into it while trace-cmd records, four times what its 64 KiB buffers
    hold, are all in the report, in order on each CPU. Were the splices to get
    nothing, only what the buffers hold at the end would be there."""
    need("trace-cmd")
    last = last_cpu(tpfs)
    (tpfs.path / "instances" / "before").mkdir()
    dat = tmp_path / "trace.dat"
    fire = (f"sched:sched_switch prev_comm=a prev_pid=$i next_comm=b next_pid=2 "
            f"@count={BURST}")
    script = (f"i=1; while [ $i -le {ROUNDS} ]; do "
              f"echo '{fire} @cpu=0' > {TRACING}/fire; echo '{fire} @cpu={last}' > {TRACING}/fire; "
              "sleep 0.02; i=$((i+1)); done")
    ok(as_tracefs(tpfs, "trace-cmd", "record", "-d", "-B", "before", "-b", "64", "-o", str(dat),
                  "-e", "sched:sched_switch", "--", "sh", "-c", script.replace("'", '"'),
                  cwd=tmp_path))
    lines = [m for m in map(LINE.match, report(dat).splitlines()) if m]
    assert len(lines) == 2 * ROUNDS * BURST, f"{len(lines)} of {2 * ROUNDS * BURST}"
    assert {m["buffer"] for m in lines} == {"before"}
    for cpu in (0, last):
        pids = [int(m["info"].split(":")[1].split()[0]) for m in lines if int(m["cpu"]) == cpu]
        assert pids == [i for i in range(1, ROUNDS + 1) for _ in range(BURST)], cpu
    assert "sched_switch" not in tpfs.read("trace")  # nothing went to the top level
    # trace-cmd 3.1 removes the instance at the end: its FIFOs went with it
    if (tpfs.path / "instances" / "before").exists():
        (tpfs.path / "instances" / "before").rmdir()
    assert not (fifo_dir(os.stat(tpfs.path).st_dev) / "instances" / "before").exists()


def test_list_options_as_the_kernel(tpfs) -> None:
    need("trace-cmd", "unshare")
    kernel_tracefs()
    mine = ok(as_tracefs(tpfs, "trace-cmd", "list", "-o")).split()
    theirs = on_kernel("trace-cmd", "list", "-o").split()
    assert mine and theirs
    assert [n.removeprefix("no") for n in mine] == [n.removeprefix("no") for n in theirs]
    # each line is the option's file: its name, "no" first when it reads 0
    for line in mine:
        name = line.removeprefix("no")
        if not (tpfs / "options" / name).exists():
            name = line
        value = tpfs.read(f"options/{name}").strip()
        assert line == (name if value == "1" else "no" + name), (line, value)


def test_list_instances_as_the_kernel(tpfs) -> None:
    need("trace-cmd", "unshare")
    kernel_tracefs()
    assert ok(as_tracefs(tpfs, "trace-cmd", "list", "-B")) == on_kernel(
        "trace-cmd", "list", "-B")
    names = ("tpfs_zeta", "tpfs_alpha")
    for name in names:
        (tpfs / "instances" / name).mkdir()
    mine = ok(as_tracefs(tpfs, "trace-cmd", "list", "-B"))
    script = ("set -e; cd /sys/kernel/tracing/instances; mkdir " + " ".join(names)
              + "; trace-cmd list -B || true; rmdir " + " ".join(names))
    theirs = on_kernel("sh", "-c", script)
    assert mine == theirs and set(mine.split()) == set(names), (mine, theirs)
    for name in names:
        (tpfs / "instances" / name).rmdir()
    assert list((tpfs / "instances").iterdir()) == []


def header(text: str) -> list[str]:
    return [re.sub(r"\d+", "N", line) for line in text.splitlines() if line.startswith("#")]


def test_show_as_the_kernel(tpfs, tmp_path) -> None:
    need("trace-cmd", "unshare", "taskset")
    kernel_tracefs()
    theirs = on_kernel("trace-cmd", "show")
    empty = ok(as_tracefs(tpfs, "trace-cmd", "show"))
    assert header(empty) == header(theirs) and header(empty)
    assert [line for line in empty.splitlines() if not line.startswith("#")] == []
    tpfs.write("events/sched/sched_switch/enable", "1\n")
    scene = Scenario(tpfs, tmp_path)
    ok(subprocess.run(scene.script(str(tpfs.path)), capture_output=True, text=True, timeout=60))
    shown = ok(as_tracefs(tpfs, "trace-cmd", "show"))
    assert shown == tpfs.read("trace")
    assert header(shown) == header(theirs)
    body = [line for line in shown.splitlines() if not line.startswith("#")]
    pid = int(scene.pidfile.read_text())
    assert len(body) == 3, shown
    assert body[0].split()[:2] == [f"alpha-{101}", f"[{last_cpu(tpfs):03d}]"], body[0]
    assert body[0].endswith(" sched_switch: prev_comm=alpha prev_pid=101 prev_prio=120 "
                            "prev_state=S ==> next_comm=beta next_pid=202 next_prio=100"), body[0]
    assert f"-{pid} " in body[1] and body[1].endswith(f"tracing_mark_write: {scene.text}")
    assert body[2].split()[:2] == ["beta-202", "[000]"], body[2]


def test_perf_record_and_script(mount_factory, tmp_path) -> None:
    """perf records a real kernel event (perf_event_open is the kernel's) with the
    mount's formats; the file's tracing-data section needs events/ftrace."""
    need("perf")
    mount = mount_factory("--seed", "1", "--catalog", "host")
    data = tmp_path / "perf.data"
    res = ok(as_tracefs(mount, "perf", "record", "-o", str(data), "-e", "sched:sched_switch",
                        "-a", "--", "sleep", "0.1", cwd=tmp_path))
    assert data.stat().st_size > 0, res
    script = subprocess.run(["perf", "script", "-i", str(data)], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    out = ok(script)
    switches = [line for line in out.splitlines() if " sched:sched_switch: " in line]
    assert switches, out
    assert all("prev_comm=" in line and "==> next_comm=" in line for line in switches), out
    assert any("prev_comm=sleep " in line for line in switches), out
