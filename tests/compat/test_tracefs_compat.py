"""tracefs compatibility: each test runs against tpfs and against the kernel's own tracefs.

The kernel's tracefs is mounted in a temporary directory (root only) and
left as it was found. The embedded catalogue is this machine's kernel, so
core events (sched:*) exist on both sides. Where the two must differ, the
test says so and runs on tpfs alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SETTINGS = ("tracing_on", "current_tracer", "trace_clock", "tracing_cpumask")
EVENTS = ("sched:sched_switch", "sched:sched_wakeup")


def write(path: Path, data: str | bytes, flags: int = os.O_WRONLY | os.O_TRUNC) -> int:
    fd = os.open(path, flags)
    try:
        return os.write(fd, data.encode() if isinstance(data, str) else data)
    finally:
        os.close(fd)


def shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True)


def errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as exc:
        fn(*args)
    return exc.value.errno


@contextlib.contextmanager
def kernel_tracefs(tmp: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting the kernel's tracefs needs root")
    mnt = tmp / "kernel"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tracefs", "nodev", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("this kernel's tracefs cannot be mounted here")
    saved = {name: (mnt / name).read_text() for name in (*SETTINGS, "set_event")}
    try:
        yield mnt
    finally:
        write(mnt / "set_event", "")
        for line in saved["set_event"].split():
            write(mnt / "set_event", line, os.O_WRONLY | os.O_APPEND)
        for name in SETTINGS:
            value = saved[name].split()[0] if name != "trace_clock" else next(
                w.strip("[]") for w in saved[name].split() if w.startswith("["))
            with contextlib.suppress(OSError):
                write(mnt / name, value)
        for event in EVENTS:
            edir = mnt / "events" / event.replace(":", "/")
            write(edir / "filter", "0")
            for trig in (edir / "trigger").read_text().splitlines():
                if not trig.startswith("#"):
                    write(edir / "trigger", "!" + trig.split(":")[0])
        for name in ("set_event_pid", "set_event_notrace_pid", "trace"):
            write(mnt / name, "")
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture(params=["tpfs", "kernel"])
def tracefs(request, tmp_path: Path, mount_factory) -> Iterator[Path]:
    if request.param == "tpfs":
        yield mount_factory().path
    else:
        with kernel_tracefs(tmp_path) as mnt:
            yield mnt


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_layout_and_modes(tracefs: Path) -> None:
    ev = tracefs / "events/sched/sched_switch"
    expected = {
        "available_events": 0o440, "set_event": 0o640, "tracing_on": 0o640,
        "current_tracer": 0o640, "available_tracers": 0o440, "trace_clock": 0o640,
        "buffer_size_kb": 0o640, "buffer_total_size_kb": 0o440, "tracing_cpumask": 0o640,
        "set_event_pid": 0o640, "set_event_notrace_pid": 0o640, "error_log": 0o640,
        "uprobe_events": 0o640, "trace": 0o640,
        "events/enable": 0o640, "events/header_page": 0o440, "events/header_event": 0o440,
        "events/sched/enable": 0o640, "events/sched/filter": 0o640,
        "events/sched/sched_switch/enable": 0o640, "events/sched/sched_switch/filter": 0o640,
        "events/sched/sched_switch/trigger": 0o640, "events/sched/sched_switch/id": 0o440,
        "events/sched/sched_switch/format": 0o440,
    }
    assert {name: mode(tracefs / name) for name in expected} == expected
    assert all(os.stat(tracefs / name).st_size == 0 for name in expected)
    assert stat.S_ISDIR(os.stat(ev).st_mode) and mode(tracefs / "events") == 0o755
    assert {"enable", "id", "format", "filter", "trigger"} <= set(os.listdir(ev))
    perf_view = [e for e in os.scandir(tracefs / "events") if e.is_dir()]
    assert "sched" in {e.name for e in perf_view}


def test_id_and_format(tracefs: Path) -> None:
    ev = tracefs / "events/sched/sched_switch"
    ident = (ev / "id").read_text()
    assert ident.endswith("\n") and ident.strip().isdigit()
    fmt = (ev / "format").read_text()
    assert fmt.startswith(f"name: sched_switch\nID: {ident.strip()}\nformat:\n")
    assert "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" in fmt
    assert "\n\nprint fmt: " in fmt and fmt.endswith("\n")
    assert (tracefs / "events/header_page").read_text().startswith("\tfield: u64 timestamp;")
    assert (tracefs / "events/header_event").read_text().startswith("# compressed entry header\n")


def test_available_events_at_every_read_size(tracefs: Path) -> None:
    path = tracefs / "available_events"
    whole = path.read_bytes()
    assert whole.endswith(b"\n") and b"sched:sched_switch\n" in whole
    for bs in (1, 7, 4096, 1 << 20):
        out = shell(f"dd if=available_events bs={bs} status=none | md5sum", tracefs).stdout
        assert out == shell("md5sum < available_events", tracefs).stdout, bs
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, 30, 100) == whole[100:130]
    finally:
        os.close(fd)


def test_set_event_and_enable_files(tracefs: Path) -> None:
    sched = tracefs / "events/sched"
    write(tracefs / "set_event", "")
    assert (tracefs / "set_event").read_text() == ""
    assert (sched / "enable").read_text() == "0\n"
    assert shell("echo sched:sched_switch > set_event", tracefs).returncode == 0
    assert (tracefs / "set_event").read_text() == "sched:sched_switch\n"
    assert (sched / "sched_switch/enable").read_text() == "1\n"
    assert (sched / "enable").read_text() == "X\n"
    assert (tracefs / "events/enable").read_text() == "X\n"
    assert shell("echo sched_wakeup >> set_event", tracefs).returncode == 0
    listed = (tracefs / "set_event").read_text().splitlines()
    order = (tracefs / "available_events").read_text().splitlines()
    assert sorted(listed, key=order.index) == listed == sorted(EVENTS, key=order.index)
    assert shell("echo '!sched:sched_switch' >> set_event", tracefs).returncode == 0
    assert (tracefs / "set_event").read_text() == "sched:sched_wakeup\n"
    os.truncate(tracefs / "set_event", 0)  # truncate(2) changes nothing
    assert (tracefs / "set_event").read_text() == "sched:sched_wakeup\n"
    assert shell("echo 'sched:' >> set_event", tracefs).returncode == 0
    assert (sched / "enable").read_text() == "1\n"
    assert len((tracefs / "set_event").read_text().splitlines()) == len(
        [e for e in os.listdir(sched) if (sched / e).is_dir()])
    assert shell("echo > set_event", tracefs).returncode == 0
    assert (sched / "enable").read_text() == "0\n"
    assert shell("echo '*:sched_switch sched_wakeup' >> set_event", tracefs).returncode == 0
    assert (tracefs / "set_event").read_text().splitlines() == sorted(EVENTS, key=order.index)
    assert write(tracefs / "set_event", "sched:sched_switch more") == len("sched:sched_switch ")
    write(tracefs / "set_event", "\n", os.O_WRONLY)
    for value in ("0", "0\n", "01", "1\n"):
        write(sched / "sched_switch/enable", value)
    assert (sched / "sched_switch/enable").read_text() == "1\n"
    write(sched / "enable", "0")
    assert (tracefs / "set_event").read_text() == ""
    write(sched / "enable", "1")
    write(sched / "enable", "0")


@pytest.mark.parametrize("token", ["bogus:event", "sched:nonexistent", "a:b:c",
                                   "sched:sched_switch,sched:sched_wakeup", "nosuchthing"])
def test_set_event_refuses(tracefs: Path, token: str) -> None:
    before = (tracefs / "set_event").read_text()
    assert errno_of(write, tracefs / "set_event", token, os.O_WRONLY) == errno.EINVAL
    assert (tracefs / "set_event").read_text() == before


@pytest.mark.parametrize("value", ["2", "-1", "x", "1 1", "X"])
def test_enable_refuses(tracefs: Path, value: str) -> None:
    for path in ("events/sched/sched_switch/enable", "events/sched/enable"):
        assert errno_of(write, tracefs / path, value) == errno.EINVAL, path
    assert (tracefs / "events/sched/sched_switch/enable").read_text() == "0\n"


def test_errno_of_read_only_files_and_names(tracefs: Path) -> None:
    for name in ("available_events", "events/sched/sched_switch/id",
                 "events/sched/sched_switch/format", "available_tracers"):
        assert errno_of(write, tracefs / name, "5") == errno.EINVAL, name
    assert errno_of(open, tracefs / "events/sched/newfile", "w") == errno.EACCES
    assert errno_of(os.mkdir, tracefs / "events/foo") == errno.EPERM
    assert errno_of(os.unlink, tracefs / "events/sched/sched_switch/id") == errno.EPERM


def test_filters_and_triggers(tracefs: Path) -> None:
    ev = tracefs / "events/sched/sched_switch"
    assert (ev / "filter").read_text() == "none\n"
    write(ev / "filter", "prev_pid == 1")
    assert (ev / "filter").read_text() == "prev_pid == 1\n"
    assert errno_of(write, ev / "filter", "bogus ==") == errno.EINVAL
    assert "Field not found" in (tracefs / "error_log").read_text()
    write(ev / "filter", "0")
    assert (ev / "filter").read_text() == "none\n"
    assert (tracefs / "events/sched/filter").read_text().startswith("### global filter ###\n")
    help_text = (ev / "trigger").read_text()
    assert help_text.startswith("# Available triggers:\n# traceon traceoff stacktrace")
    write(ev / "trigger", "stacktrace")
    write(ev / "trigger", "traceon", os.O_WRONLY | os.O_APPEND)
    assert (ev / "trigger").read_text() == "traceon:unlimited\nstacktrace:unlimited\n"
    assert errno_of(write, ev / "trigger", "bogus") == errno.EINVAL
    write(ev / "trigger", "!stacktrace")
    write(ev / "trigger", "!traceon")
    assert (ev / "trigger").read_text() == help_text


def test_top_level_settings(tracefs: Path) -> None:
    write(tracefs / "tracing_on", "0")
    assert (tracefs / "tracing_on").read_text() == "0\n"
    write(tracefs / "tracing_on", "2")
    assert (tracefs / "tracing_on").read_text() == "1\n"
    assert errno_of(write, tracefs / "tracing_on", "x") == errno.EINVAL
    write(tracefs / "trace_clock", "global")
    assert "[global]" in (tracefs / "trace_clock").read_text()
    assert errno_of(write, tracefs / "trace_clock", "bogus") == errno.EINVAL
    write(tracefs / "trace_clock", "local")
    assert (tracefs / "current_tracer").read_text() == "nop\n"
    assert errno_of(write, tracefs / "current_tracer", "bogus") == errno.EINVAL
    assert "nop" in (tracefs / "available_tracers").read_text().split()
    mask = (tracefs / "tracing_cpumask").read_text()
    assert errno_of(write, tracefs / "tracing_cpumask", "zz") == errno.EINVAL
    assert (tracefs / "tracing_cpumask").read_text() == mask
    write(tracefs / "set_event_pid", "123")
    assert (tracefs / "set_event_pid").read_text() == "123\n"
    assert errno_of(write, tracefs / "set_event_pid", "abc", os.O_WRONLY) == errno.EINVAL
    write(tracefs / "set_event_pid", "")
    assert (tracefs / "set_event_pid").read_text() == ""
    assert errno_of(write, tracefs / "buffer_size_kb", "abc") == errno.EINVAL
    assert (tracefs / "buffer_size_kb").read_text().split()[0].isdigit()
    assert (tracefs / "trace").read_text().startswith("# tracer: nop\n#\n")
    write(tracefs / "error_log", "")
    assert (tracefs / "error_log").read_text() == ""


# -- tpfs only: what the kernel here cannot show ----------------------------------------

def test_module_events_come_and_go_with_the_module(tpfs) -> None:
    """The host kernel has no module support; module events exist only on tpfs."""
    write(tpfs / "modules/load", "m sched:sched_switch newsub:ev1 newsub:ev2\nt taint=E tt:x\n")
    assert sorted(os.listdir(tpfs / "events/newsub")) == ["enable", "ev1", "ev2", "filter"]
    assert not (tpfs / "events/tt").exists()
    ids = {int((tpfs / f"events/newsub/{e}/id").read_text()) for e in ("ev1", "ev2")}
    core_max = max(int(p.read_text()) for p in (tpfs / "events/sched").glob("*/id"))
    assert len(ids) == 2 and min(ids) > core_max
    write(tpfs / "events/newsub/ev1/enable", "1")
    assert (tpfs / "probes/newsub:ev1").read_text() == "trace_event_raw_event_ev1 0x0\n"
    assert "newsub:ev1 m 1 1" in (tpfs / "tracepoints").read_text()
    assert (tpfs / "set_event").read_text() == "newsub:ev1\n"
    write(tpfs / "events/sched/sched_switch/enable", "1")
    lines = (tpfs / "tracepoints").read_text().splitlines()
    assert "sched:sched_switch kernel 1 1" in lines and "sched:sched_switch m 1 1" in lines
    write(tpfs / "modules/unload", "m\n")
    assert not (tpfs / "events/newsub").exists()
    assert (tpfs / "set_event").read_text() == "sched:sched_switch\n"
    assert not (tpfs / "probes/newsub:ev1").exists()
    write(tpfs / "modules/load", "m2 newsub:ev1\n")
    assert int((tpfs / "events/newsub/ev1/id").read_text()) in ids  # stable per name
    assert (tpfs / "events/newsub/ev1/enable").read_text() == "0\n"


def test_catalog_host_mirrors_this_kernel(mount_factory, tmp_path: Path) -> None:
    with kernel_tracefs(tmp_path) as real:
        mount = mount_factory("--catalog", "host")
        assert (mount / "available_events").read_text() == (real / "available_events").read_text()
        for name in ("id", "format"):
            path = f"events/sched/sched_switch/{name}"
            assert (mount / path).read_text() == (real / path).read_text()
