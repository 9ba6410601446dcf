"""Hostile input, load, faults, limits and permissions, through real mounts."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tpfs.tools.mounting import Mount, fuse_unmount, is_mounted

from conftest import ROOT

CONTROL = ["modules/load", "modules/unload", "probes/register", "probes/unregister",
           "probes/register_noupdate", "probes/unregister_noupdate", "probes/update"]
SETTINGS = ["set_event", "tracing_on", "current_tracer", "trace_clock", "buffer_size_kb",
            "tracing_cpumask", "set_event_pid", "set_event_notrace_pid", "uprobe_events",
            "trace", "events/enable", "events/initcall/enable", "events/initcall/filter",
            "events/initcall/initcall_finish/enable", "events/initcall/initcall_finish/filter",
            "events/initcall/initcall_finish/trigger", "kprobe_events", "dynamic_events",
            "synthetic_events"]
#: Files that run a write's lines one at a time, as the kernel does: a refused
#: line leaves the definitions of the lines before it.
LINE_AT_A_TIME = {"uprobe_events", "kprobe_events", "dynamic_events", "synthetic_events"}
CONTROL_NAMES = {path.split("/")[1] for path in CONTROL}
CONTROL_ERRNOS = {errno.EINVAL, errno.EEXIST, errno.ENOENT, errno.ENOSPC}
# ENOSPC: enabling past the limit. The rest are the kernel's own answers: its
# filter parser leaks -EPERM, -ENOENT and -ESRCH, a count past 64 bits is
# ERANGE, a CPU the machine lacks EOVERFLOW, a pid of 2^30 or more EPERM, removing
# an enabled dynamic event EBUSY, an eprobe on no trace event ENODEV.
SETTING_ERRNOS = {errno.EINVAL, errno.EEXIST, errno.ENOSPC, errno.EPERM, errno.ENOENT,
                  errno.ESRCH, errno.ERANGE, errno.EOVERFLOW, errno.EBUSY, errno.ENODEV}

#: Files whose writes expand the top-level buffer (``tracing_update_buffers``)
#: before they are parsed, so a refused write expands it too: ``ftrace_event_write``,
#: ``event_pid_write`` and ``tracing_set_tracer``.
EXPAND_ON_ANY_WRITE = {"set_event", "set_event_pid", "set_event_notrace_pid", "current_tracer"}
#: ``system_enable_write`` expands once the value is a number, before its 0/1 check.
SUBSYSTEM_ENABLES = {"events/enable", "events/initcall/enable"}


def enable_number(data: bytes) -> int | None:
    """An ``enable`` write's number as tpfs parses it (digits, one newline), or None."""
    digits = data[:-1] if data.endswith(b"\n") else data
    return int(digits) if digits.isdigit() else None


def expands(target: str, data: bytes) -> bool:
    """Whether a write expands the buffer whether it is taken or refused; an
    event's ``enable`` (``event_enable_write``) does for 0 and 1 alone."""
    if target in EXPAND_ON_ANY_WRITE:
        return bool(data)
    if target.endswith("/enable"):
        number = enable_number(data)
        return number is not None and (target in SUBSYSTEM_ENABLES or number in (0, 1))
    return False


def unexpanded(size: bytes) -> bool:
    """``buffer_size_kb`` still shows the boot size (``7 (expanded: 1408)``)."""
    return b"(expanded:" in size


VALID = [
    b"fz1 fz:a fz:b\n", b"fz2 taint=O fz:c\n", b"fz1\n", b"fz:a p 0x10\n", b"fz:a p\n",
    b"initcall:initcall_finish q 7\n", b"initcall:initcall_finish\n", b"initcall\n",
    b"!initcall:initcall_finish\n", b"1\n", b"0\n", b"prev_pid == 1\n", b"func == 3\n",
    b"traceoff:5\n", b"enable_event:initcall:initcall_start\n", b"global\n", b"3\n", b"123\n",
    b"p:myprobe /bin/sh:0x10\n", b"p:kp vfs_read $arg1 s=+0(%di):string\n", b"-:kp\n",
    b"e:ep initcall.initcall_finish r=$ret\n", b"s:sy u64 a; char b[8]\n", b"!sy\n",
    b"hist:keys=func:vals=ret\n", b"hist:keys=common_pid.execname:t=common_timestamp\n",
    b"!hist:keys=func:vals=ret\n", b"kprobes:kp arg1=3\n",
]
SPECIAL = [b"", b"\n", b"\0", b"fz1\0 fz:a\n", b"fz1 fz:a\r\n", b"fz1\tfz:a\n", b"\xff\xfe\n",
           b"x" * 56 + b"\n", b"fz3 " + b"fz:e " * 20000, b"a" * (1 << 20),
           b"fz:a p 99999999999999999999999\n", b"fz:a p -1\n", b"fz:a p 0x\n"]


def mutate(base: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    data = bytearray(base)
    for kind, pos, byte in edits:
        pos %= len(data) + 1
        if kind == 0:
            data.insert(pos, byte)
        elif kind == 1 and data:
            del data[pos % len(data)]
        elif data:
            data[pos % len(data)] = byte
    return bytes(data)


near_miss = st.builds(mutate, st.sampled_from(VALID),
                      st.lists(st.tuples(st.integers(0, 2), st.integers(0, 200),
                                         st.sampled_from(b" :\n\t\r\0x_!=0Zz9\xff")),
                               min_size=1, max_size=4))
inputs = st.one_of(near_miss, st.sampled_from(VALID), st.sampled_from(SPECIAL),
                   st.binary(max_size=120))


def observable(mount: Mount) -> dict[str, object]:
    """Everything a user could see change (error_log aside: refusals are logged there)."""
    state: dict[str, object] = {}
    for name in ("available_events", "tracepoints", "set_event", "events/enable",
                 *SETTINGS[1:10]):
        state[name] = (mount / name).read_bytes()
    state["events"] = os.listdir(mount / "events")  # enable states: set_event has them
    for directory in ("modules", "probes"):
        names = os.listdir(mount / directory)
        state[directory] = names
        for n in names:
            if n not in CONTROL_NAMES:
                state[f"{directory}/{n}"] = (mount / directory / n).read_bytes()
    for leaf in ("filter", "trigger", "hist"):
        state[leaf] = (mount / f"events/initcall/initcall_finish/{leaf}").read_bytes()
    for name in ("dynamic_events", "synthetic_events"):
        state[name] = (mount / name).read_bytes()
    return state


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def fuzzed(mount_factory, small_catalog) -> Mount:
    """150 events but at most 64 probes: enabling every event (``set_event``
    ``:``, ``events/enable`` 1) is ENOSPC here, where the kernel takes it."""
    return mount_factory("--catalog", str(small_catalog), "--max-modules", "64",
                         "--max-probes", "64")


@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=st.sampled_from(CONTROL + SETTINGS), data=inputs)
def test_fuzzed_writes_succeed_or_fail_cleanly(fuzzed: Mount, target: str, data: bytes) -> None:
    before = observable(fuzzed)
    fd = os.open(fuzzed / target, os.O_WRONLY)
    try:
        written = os.write(fd, data)
    except OSError as exc:
        allowed = CONTROL_ERRNOS if target in CONTROL else SETTING_ERRNOS
        assert exc.errno in allowed, (target, data, exc)
        after = observable(fuzzed)
        size = "buffer_size_kb"
        if unexpanded(before[size]):  # examples share the mount: only the first can expand
            assert unexpanded(after[size]) != expands(target, data), (target, data, after[size])
            before[size] = after[size]
        if target.endswith("/filter"):
            # As the kernel: a refused filter shows its error in its place.
            for name, shown in after.items():
                if name.endswith("filter") and shown != before[name]:
                    assert b"^\n" in shown or b"Error: (0)" in shown, (target, data, shown)
                    before[name] = shown
        if target in LINE_AT_A_TIME and len(data.split(b"\n")) > 1:
            assert_consistent(fuzzed)  # the lines before the refused one stay
        else:
            assert after == before, (target, data)
    else:
        # A write that succeeds took a whole batch (set_event: one token) and left
        # the listings, modules/ and probes/ agreeing with each other once any
        # _noupdate batch is applied.
        assert 0 < written <= len(data) or not data, (target, data, written)
        assert written == len(data) or target == "set_event", (target, data, written)
        if expands(target, data):
            assert not unexpanded((fuzzed / "buffer_size_kb").read_bytes()), (target, data)
        fuzzed.write("probes/update", "\n")
        assert_consistent(fuzzed)
    finally:
        os.close(fd)
    assert fuzzed.proc.poll() is None


#: (file, data, the errno of its refusal or 0): writes that expand the buffer or not.
EXPANSIONS = [
    ("set_event", b"nosuch:event\n", errno.EINVAL), ("set_event", b"  \n", 0),
    ("set_event_pid", b"x\n", errno.EINVAL), ("set_event_notrace_pid", b"\n", 0),
    ("current_tracer", b"nosuch\n", errno.EINVAL), ("events/enable", b"2\n", errno.EINVAL),
    ("events/initcall/enable", b"0\n", 0),
    ("events/initcall/initcall_finish/enable", b"0\n", 0),
    ("events/initcall/initcall_finish/enable", b"2\n", errno.EINVAL),
    ("events/enable", b"x\n", errno.EINVAL), ("tracing_on", b"1\n", 0),
]


@pytest.mark.parametrize(("target", "data", "err"), EXPANSIONS,
                         ids=[f"{t}={d!r}" for t, d, _ in EXPANSIONS])
def test_writes_expand_the_buffer_as_the_kernel_does(mount_factory, small_catalog,
                                                     target: str, data: bytes,
                                                     err: int) -> None:
    """``tracing_update_buffers`` runs before these writes are parsed, so a
    refused one leaves the buffer expanded as a taken one does."""
    mount = mount_factory("--catalog", str(small_catalog))
    assert unexpanded((mount / "buffer_size_kb").read_bytes())
    fd = os.open(mount / target, os.O_WRONLY)
    try:
        assert os.write(fd, data) == len(data) and not err
    except OSError as exc:
        assert exc.errno == err
    finally:
        os.close(fd)
    size = (mount / "buffer_size_kb").read_bytes()
    assert unexpanded(size) != expands(target, data), size
    assert (mount / "set_event").read_bytes() == b""


def test_rejected_input_does_not_grow_memory(fuzzed: Mount) -> None:
    rng = random.Random(5)
    bad = [b"bad-name a:b\n", b"\xff" * 100, b"m a:b a:b\n", b"x" * 70000, b"\0" * 50]

    def hammer(n: int) -> None:
        for _ in range(n):
            fd = os.open(fuzzed / rng.choice(CONTROL[:4]), os.O_WRONLY)
            try:
                os.write(fd, rng.choice(bad) + str(rng.random()).encode())
            except OSError as exc:
                assert exc.errno == errno.EINVAL
            finally:
                os.close(fd)

    hammer(500)  # warm up allocator pools and caches
    before = vm_rss_kib(fuzzed.proc.pid)
    hammer(3000)
    grown = vm_rss_kib(fuzzed.proc.pid) - before
    assert grown < 2048, f"RSS grew by {grown} KiB over 3000 rejected writes"


def test_limits_are_enospc_and_configurable(mount_factory, small_catalog) -> None:
    mount = mount_factory("--catalog", str(small_catalog), "--max-modules", "3",
                          "--max-probes", "2", "--max-module-tracepoints", "4")
    mount.write("modules/load", "a\nb\n")
    with pytest.raises(OSError) as exc:
        mount.write("modules/load", "c\nd\n")
    assert exc.value.errno == errno.ENOSPC and "c" not in os.listdir(mount / "modules")
    with pytest.raises(OSError) as exc:
        mount.write("modules/load", "c c:e1 c:e2 c:e3 c:e4 c:e5\n")
    assert exc.value.errno == errno.ENOSPC
    mount.write("modules/load", "c c:e1 c:e2 c:e3 c:e4\n")
    mount.write("probes/register", "c:e1 p\n")
    with pytest.raises(OSError) as exc:
        mount.write("probes/register", "c:e2 p\nc:e3 p\n")
    assert exc.value.errno == errno.ENOSPC and not (mount / "probes/c:e2").exists()
    with pytest.raises(OSError) as exc:  # all four or none
        mount.write("events/c/enable", "1")
    assert exc.value.errno == errno.ENOSPC and mount.read("set_event") == ""
    mount.write("events/c/e4/enable", "1")
    assert mount.read("set_event") == "c:e4\n"
    assert "--max-modules" in subprocess.run([sys.executable, "-m", "tpfs", "--help"],
                                             capture_output=True, text=True).stdout


def test_total_module_tracepoints_are_capped(mount_factory, small_catalog) -> None:
    mount = mount_factory("--catalog", str(small_catalog), "--max-instances", "5")
    mount.write("modules/load", "a taint=O a:x a:y\n")  # tainted ones count too
    with pytest.raises(OSError) as exc:
        mount.write("modules/load", "b b:x b:y\nc c:x c:y\n")
    assert exc.value.errno == errno.ENOSPC and sorted(os.listdir(mount / "modules")) == [
        "a", "load", "unload"]
    mount.write("modules/load", "b b:x b:y b:z\n")
    assert "b:z" in mount.read("available_events")


# -- the suite's own guard --------------------------------------------------------------

HANGING_TEST = """
import os
from tpfs.tools.mounting import start_tpfs

def test_reads_a_pipe_nobody_writes(tmp_path):
    mount = start_tpfs(tmp_path / "mnt", tmp_path / "log")
    try:
        fd = os.open(mount.path / "trace_pipe", os.O_RDONLY)
        try:
            os.read(fd, 4096)  # nothing is ever traced: this waits until a signal
        finally:
            os.close(fd)
    finally:
        mount.stop()
"""


def test_a_blocked_read_fails_its_test_instead_of_hanging_the_run(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """pytest-timeout is on for every test (pyproject.toml), and a test blocked
    in a read of a mount is failed by it: here with a 3 s limit, in a pytest of
    its own, which must end well before its own 120 s."""
    assert 0 < float(request.config.getini("timeout")) <= 300
    (tmp_path / "test_hangs.py").write_text(HANGING_TEST)
    inner = tmp_path / "inner"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "timeout",
         "-o", "timeout=3", "-q", "--rootdir", str(tmp_path), "--basetemp", str(inner),
         str(tmp_path / "test_hangs.py")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # it hung: end it and its daemon, and their mount
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        left = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                if line.split()[1].startswith(f"{inner}/")]
        for mnt in left:
            fuse_unmount(Path(mnt))
    assert proc.returncode == 1 and "1 failed" in out and "Timeout" in out, out
    assert time.monotonic() - started < 60 and not left


# -- load -----------------------------------------------------------------------------

WRITER = r"""
import errno, json, os, random, sys, time
mnt, seed, seconds, log = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
ok = {errno.EEXIST, errno.ENOENT}
counts = {"ok": 0, "expected": 0}
with open(log, "w") as out:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        k = rng.randrange(12)
        name = f"ld{k}"
        events = [f"ld{k}:e{j}" for j in range(k % 4 + 1)]
        op = rng.choice(["load", "unload", "register", "unregister"])
        control, text = {
            "load": ("modules/load", f"{name} {' '.join(events)}\n"),
            "unload": ("modules/unload", f"{name}\n"),
            "register": ("probes/register", f"ld{k}:e0 w{seed}\n"),
            "unregister": ("probes/unregister", f"ld{k}:e0 w{seed}\n"),
        }[op]
        start = time.monotonic()
        fd = os.open(os.path.join(mnt, control), os.O_WRONLY)
        try:
            os.write(fd, text.encode())
            counts["ok"] += 1
            out.write(json.dumps({"op": op, "name": name, "events": events, "taint": "",
                                  "start": start, "end": time.monotonic()}) + "\n")
            out.flush()
        except OSError as exc:
            if exc.errno not in ok:
                print(f"unexpected {exc!r} for {control} {text!r}", file=sys.stderr)
                sys.exit(1)
            counts["expected"] += 1
            if op in ("load", "unload"):  # it may have raced: log the window anyway
                out.write(json.dumps({"op": "touch", "name": name, "events": events,
                                      "taint": "", "start": start,
                                      "end": time.monotonic()}) + "\n")
                out.flush()
        finally:
            os.close(fd)
print(json.dumps(counts))
"""


def test_eight_writers_and_small_readers(small: Mount, tmp_path: Path) -> None:
    small.write("modules/load", "".join(
        f"keep{i} " + " ".join(f"keep{i}:e{j}" for j in range(5)) + "\n" for i in range(10)))
    logs = [tmp_path / f"w{i}.jsonl" for i in range(8)]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(small.path), str(i), "6",
                                 str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for i, log in enumerate(logs)]
    time.sleep(0.5)
    log_args = [arg for log in logs for arg in ("--churn-log", str(log))]
    checks = [subprocess.run(
        [sys.executable, "-m", "tpfs.check", str(small.path), "--file", listing,
         "--readers", "2", "--sizes", "1,7,13", "--pause", "0", *log_args],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
        for listing in ("available_events", "tracepoints", "available_events")]
    results = [w.communicate(timeout=60) for w in writers]
    for w, (out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0, err
        counts = json.loads(out)
        assert counts["ok"] > 10
    assert sum(json.loads(out)["expected"] for out, _ in results) > 0
    for res in checks:
        assert res.stdout.startswith("ok:"), res.stdout + res.stderr
        assert " loaded=0 " not in res.stdout, "no load landed during the read"
    assert_consistent(small)


def assert_consistent(mount: Mount) -> None:
    modules = {n: mount.read(f"modules/{n}") for n in os.listdir(mount / "modules")
               if n not in ("load", "unload")}
    probes = {n: mount.read(f"probes/{n}").splitlines() for n in os.listdir(mount / "probes")
              if ":" in n}
    seen_modules: dict[str, list[str]] = {}
    dynamic = mount.read("dynamic_events")
    for line in mount.read("tracepoints").splitlines():
        name, owner, state, nprobes = line.split()
        assert int(nprobes) == len(probes.get(name, [])), line
        assert state == ("1" if name in probes else "0"), line
        if owner.startswith("["):  # a dynamic event's own provider, not a module
            path = name.replace(":", "/", 1)
            assert owner == f"[{path}]" and f":{path}" in dynamic, line
        elif owner != "kernel":
            assert f"tracepoint {name}\n" in modules[owner], line
            seen_modules.setdefault(owner, []).append(name)
    for name, text in modules.items():
        registered = "registered yes" in text
        events = [ln.split()[1] for ln in text.splitlines() if ln.startswith("tracepoint ")]
        assert seen_modules.get(name, []) == (events if registered else []), name


# -- faults ---------------------------------------------------------------------------

def test_sigterm_during_active_reads(small: Mount) -> None:
    small.write("modules/load", "m " + " ".join(f"m:e{i}" for i in range(200)) + "\n")
    stop = threading.Event()
    errors: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                fd = os.open(small / "available_events", os.O_RDONLY)
            except OSError as exc:
                errors.append(exc.errno)
                return
            try:
                while os.read(fd, 7):
                    pass
            except OSError as exc:
                errors.append(exc.errno)
                return
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    small.proc.send_signal(signal.SIGTERM)
    assert small.proc.wait(5) == 0
    assert time.monotonic() - t0 < 5
    stop.set()
    for t in threads:
        t.join(5)
        assert not t.is_alive(), "a reader hung after the daemon exited"
    assert not is_mounted(small.path)
    assert set(errors) <= {errno.ENOTCONN, errno.ECONNABORTED, errno.ENOENT}


def test_lazy_unmount_with_open_files(small: Mount) -> None:
    fd = os.open(small / "available_events", os.O_RDONLY)
    try:
        first = os.read(fd, 100)
        subprocess.run(["fusermount3", "-u", "-z", str(small.path)], check=True)
        assert not is_mounted(small.path)
        assert os.read(fd, 100)  # the open file still works
        assert first
    finally:
        os.close(fd)
    assert small.proc.wait(10) == 0


# -- permissions ----------------------------------------------------------------------

def as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           *cmd], capture_output=True, text=True, timeout=60)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as another user")
    path = Path(tempfile.mkdtemp(prefix="tpfs-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_other_users_see_nothing_without_allow_other(mount_factory, shared_dir: Path) -> None:
    mount = mount_factory(name="private")
    st = os.stat(mount / "available_events")
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    mnt = shared_dir / "mnt"
    mnt.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "tpfs", str(mnt), "--foreground"],
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not is_mounted(mnt):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        res = as_nobody("ls", str(mnt))
        assert res.returncode != 0 and "Permission denied" in res.stderr
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)])
        proc.wait(10)


def test_allow_other_and_gid(mount_factory, shared_dir: Path) -> None:
    mnt = shared_dir / "mnt"
    mnt.mkdir()
    for args, group_reads in ((["--allow-other"], False),
                              (["--allow-other", "--gid", "nogroup"], True)):
        proc = subprocess.Popen([sys.executable, "-m", "tpfs", str(mnt), "--foreground", *args],
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 15
            while not (is_mounted(mnt) and (mnt / "available_events").exists()):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            gid = os.stat(mnt / "available_events").st_gid
            assert gid == (65534 if group_reads else os.getgid())
            listing = as_nobody("cat", str(mnt / "available_events"))
            assert (listing.returncode == 0) == group_reads, listing.stderr
            if group_reads:
                assert listing.stdout.startswith("initcall:initcall_finish\n")
            write = as_nobody("sh", "-c", f"echo 'x x:y' > {mnt}/modules/load")
            assert write.returncode != 0 and "Permission denied" in write.stderr
            assert "x" not in os.listdir(mnt / "modules")
            enable = as_nobody("sh", "-c",
                               f"echo 1 > {mnt}/events/sched/sched_switch/enable")
            assert enable.returncode != 0
            assert (mnt / "events/sched/sched_switch/enable").read_text() == "0\n"
        finally:
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)])
            assert proc.wait(10) == 0


# -- unprivileged use -----------------------------------------------------------------

@pytest.fixture(scope="session")
def nobody_venv() -> Iterator[Path]:
    """A virtual environment another user can run: the system's python3 with tpfs.

    The test interpreter may live under /root, where other users cannot reach it.
    """
    system_python = Path("/usr/bin/python3")
    if os.geteuid() != 0 or not system_python.exists() or shutil.which("setpriv") is None:
        pytest.skip("needs root, setpriv and the system's python3")
    venv = Path(tempfile.mkdtemp(prefix="tpfs-nobody-venv-"))
    venv.chmod(0o755)
    try:
        subprocess.run([str(system_python), "-m", "venv", str(venv)], check=True,
                       capture_output=True)
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", str(ROOT)], check=True,
                       capture_output=True, timeout=600)
        yield venv
    finally:
        shutil.rmtree(venv, ignore_errors=True)


@contextlib.contextmanager
def fuse_device_open_to_all() -> Iterator[None]:
    """Debian's udev rule makes /dev/fuse 0666; a container may leave it 0600."""
    mode = stat.S_IMODE(os.stat("/dev/fuse").st_mode)
    os.chmod("/dev/fuse", mode | 0o666)
    try:
        yield
    finally:
        os.chmod("/dev/fuse", mode)


def test_unprivileged_user_mounts_uses_and_unmounts(nobody_venv: Path,
                                                    shared_dir: Path) -> None:
    scripts = shared_dir / "tpfs"
    (scripts / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "mount.sh", scripts)
    shutil.copy(ROOT / "tools/setup-env.sh", scripts / "tools")
    mnt = shared_dir / "mnt"
    run = shared_dir / "run"
    for path in (mnt, run):
        path.mkdir()
        os.chown(path, 65534, 65534)
    env = [f"TPFS_VENV={nobody_venv}", f"TPFS_RUN={run}", "HOME=/nonexistent",
           "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]

    def nobody(cmd: str) -> subprocess.CompletedProcess[str]:
        return as_nobody("env", "-i", *env, "bash", "-c", cmd)

    with fuse_device_open_to_all():
        try:
            res = nobody(f"{scripts}/mount.sh {mnt} --seed 4")
            assert res.returncode == 0, res.stdout + res.stderr
            assert f"tpfs mounted at {mnt}" in res.stdout
            owner = nobody(f"stat -c '%u %g %a' {mnt}/available_events").stdout
            assert owner == "65534 65534 440\n"  # root is no exception without allow_other
            session = nobody(f"""set -e
                cd {mnt}
                head -n 1 available_events
                echo 'um um:a um:b sched:sched_switch' > modules/load
                grep -c '^um:' available_events
                echo 'um:a myprobe 0x5' > probes/register
                grep '^um:a ' tracepoints
                echo 1 > events/um/b/enable
                cat set_event
                echo '!um:b' >> set_event
                rm probes/um:a
                rm modules/um
                ls modules
                echo 0 > tracing_on && cat tracing_on
                dd if=available_events bs=7 status=none | wc -l
            """)
            assert session.returncode == 0, session.stdout + session.stderr
            assert session.stdout.split("\n") == [
                "initcall:initcall_finish", "2", "um:a um 1 1", "um:b", "load", "unload", "0",
                "2305", ""]
            res = nobody(f"{scripts}/mount.sh -u {mnt}")
            assert res.returncode == 0, res.stdout + res.stderr
            assert not is_mounted(mnt)
        finally:
            if is_mounted(mnt):
                subprocess.run(["fusermount3", "-u", "-z", str(mnt)])
            for pidfile in run.glob("*.pid"):  # the daemon mount.sh started, if still there
                with contextlib.suppress(OSError, ValueError):
                    pid = int(pidfile.read_text())
                    if str(pidfile) in Path(f"/proc/{pid}/cmdline").read_text():
                        os.kill(pid, signal.SIGKILL)
