"""Talking to a tracefs, tpfs's or the kernel's: writes, errors, and the kernel's
own tracefs mounted for a test and left as it was found (root only)."""

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
        if saved["uprobe_events"]:
            write(mnt / "uprobe_events", saved["uprobe_events"])
        subprocess.run(["umount", str(mnt)], check=True)
