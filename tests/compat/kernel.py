"""Talking to a tracefs, tpfs's or the kernel's: writes, errors, and the kernel's
own tracefs mounted for a test (root only).

The kernel's tracefs is one per machine and outlives every run: a run killed
midway (or another program) may leave it with tracing off, events on, a
filter, a trigger, an option flipped. So each kernel-side test starts from the
kernel's boot defaults for what the tests touch (``reset``), whatever it finds,
and the tracefs is put back as it was found afterwards. Instances of the
names the tests use that a killed run left behind are removed first.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SETTINGS = ("tracing_on", "current_tracer", "trace_clock", "tracing_cpumask", "buffer_percent")
EVENTS = ("sched:sched_switch", "sched:sched_wakeup")
QUIET = "sched:sched_process_hang"  # never fires here: counted triggers keep their count
#: The settings as the kernel boots with them (tracing_cpumask: every CPU, set in reset).
DEFAULTS = {"tracing_on": "1", "current_tracer": "nop", "trace_clock": "local",
            "buffer_percent": "50"}
#: The options (``options/NAME``) as the kernel boots with them, read from a fresh 6.18.
DEFAULT_OPTIONS = {
    "print-parent": "1", "sym-offset": "0", "sym-addr": "0", "verbose": "0", "raw": "0",
    "hex": "0", "bin": "0", "block": "0", "fields": "0", "trace_printk": "1",
    "annotate": "1", "userstacktrace": "0", "sym-userobj": "0", "printk-msg-only": "0",
    "context-info": "1", "latency-format": "0", "record-cmd": "1", "record-tgid": "0",
    "overwrite": "1", "disable_on_free": "0", "irq-info": "1", "markers": "1",
    "event-fork": "0", "pause-on-trace": "0", "hash-ptr": "1", "function-trace": "1",
    "function-fork": "0", "stacktrace": "0",
}
#: Instances the kernel-side tests make: one a killed run left would make mkdir EEXIST.
TEST_INSTANCES = ("tpfs_compat", "tpfs_zeta", "tpfs_alpha", "tpfs_pages", "tpfs_answers",
                  "tpfs_remount")


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
    saved = {name: (mnt / name).read_text() for name in (*SETTINGS, "set_event", "uprobe_events")}
    options = {name: (mnt / "options" / name).read_text().strip() for name in DEFAULT_OPTIONS
               if (mnt / "options" / name).exists()}
    try:
        reset(mnt)
        yield mnt
    finally:
        clear_events(mnt)
        for line in saved["set_event"].split():
            write(mnt / "set_event", line, os.O_WRONLY | os.O_APPEND)
        for name in SETTINGS:
            value = saved[name].split()[0] if name != "trace_clock" else next(
                w.strip("[]") for w in saved[name].split() if w.startswith("["))
            with contextlib.suppress(OSError):
                write(mnt / name, value)
        set_options(mnt, options)
        if saved["uprobe_events"]:
            write(mnt / "uprobe_events", saved["uprobe_events"])
        subprocess.run(["umount", str(mnt)], check=True)


def clear_events(mnt: Path) -> None:
    """No event enabled, no filter or trigger on the events the tests use, no pid
    lists, no uprobes, an empty buffer and error log."""
    write(mnt / "set_event", "")
    write(mnt / "events/sched/filter", "0")
    for event in (*EVENTS, QUIET, "ftrace:print"):  # print has triggers, no filter
        edir = mnt / "events" / event.replace(":", "/")
        if event in EVENTS or event == QUIET:
            write(edir / "filter", "0")
        for trig in (edir / "trigger").read_text().splitlines():
            if not trig.startswith("#"):
                write(edir / "trigger", "!" + trig.split(" ")[0].rsplit(":", 1)[0])
    for name in ("set_event_pid", "set_event_notrace_pid", "trace", "uprobe_events",
                 "error_log"):
        write(mnt / name, "")


def set_options(mnt: Path, values: dict[str, str]) -> None:
    for name, value in values.items():
        if (mnt / "options" / name).exists():
            write(mnt / "options" / name, value)


def reset(mnt: Path) -> None:
    """The kernel's boot defaults for everything the kernel-side tests touch."""
    for name in TEST_INSTANCES:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(mnt / "instances" / name)
    clear_events(mnt)
    set_options(mnt, DEFAULT_OPTIONS)
    for name, value in DEFAULTS.items():
        write(mnt / name, value)
    cpus = len([d for d in os.listdir(mnt / "per_cpu") if d.startswith("cpu")])
    write(mnt / "tracing_cpumask", f"{(1 << cpus) - 1:x}")
