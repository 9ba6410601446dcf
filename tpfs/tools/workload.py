"""``python -m tpfs.workload MNT``: fire plausible events through a mount's ``fire`` file.

A seeded stand-in for a busy machine. A pool of tasks (pid, comm, priority,
a CPU it mostly runs on) fires events picked uniformly from
``available_events`` (or those matching ``--events``) with values that fit
each field of the event's ``format``: fields named like ``pid``, ``comm`` and
``prio`` take a task's (one task per prefix, so ``next_pid`` and
``next_comm`` agree, and ``prev_``/``parent_`` are the firing task), those
named like ``cpu`` a CPU of the mount, ``bool`` fields 0 or 1, other integers
any value of their size and sign, text fields short words. Arrays and
dynamic fields that are not text stay empty: ``fire`` takes no value for them.

The same seed and catalogue give the same lines byte for byte; ``--print``
writes them to standard output instead of firing them. Lines go out in
batches (one write of up to 64 KiB and ``MAX_FIRINGS`` firings, ``@count``
repeating a line ``--burst`` times on average). An event that vanishes (its
module unloaded) answers ENOENT to the batch (counted as skipped) or to the
read of its format; either way the list is read again, as it is every
second, so the run follows modules as they come and go, and a skipped batch
is written again without the lines of the events that went (their firings
counted as dropped). A batch refused as invalid is counted as an error and
makes it read the formats again; a second refusal in a row ends the run
with status 1.
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import logging
import os
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..tracefs.fire import MAX_FIRINGS
from ..tracefs.trace.field import EventField
from ..tracefs.trace.record import layout
from ..tracefs.tracepoints.control import MAX_WRITE
from .stopping import StopFlag

log = logging.getLogger(__name__)

#: Seconds between two reads of ``available_events`` (besides the reads an ENOENT asks for).
REFRESH_SECONDS = 1.0
#: With ``--rate``, a batch holds about this many seconds' worth of firings.
BATCH_SECONDS = 0.05
#: The longest word put into a ``__data_loc`` or ``char x[]`` text field.
MAX_TEXT = 24
COMMS = ("systemd", "kthreadd", "rcu_sched", "ksoftirqd/0", "ksoftirqd/1", "migration/0",
         "kworker/0:1", "kworker/1:2H", "kworker/u8:3", "kswapd0", "jbd2/sda1-8",
         "irq/24-eth0", "systemd-journal", "systemd-udevd", "dbus-daemon", "NetworkManager",
         "sshd", "bash", "zsh", "tmux: server", "vim", "git", "make", "cc1", "ld", "python3",
         "node", "java", "postgres", "nginx", "containerd", "dockerd", "chrome", "firefox",
         "Xorg", "pipewire", "cron", "rsyslogd")
WORDS = ("eth0", "lo", "wlan0", "sda", "sda1", "nvme0n1", "dm-0", "ext4", "xfs", "tmpfs",
         "timer", "rcu", "sched", "block", "net_rx", "tasklet", "hrtimer", "acpi", "i915",
         "usb1", "0000:00:1f.2", "read", "write", "open", "close", "mmap", "ok", "retry",
         "idle", "busy", "/", "/tmp", "/var/log", "/usr/lib", "cgroup", "kvm", "tcp", "udp")
_ROLE = re.compile(r"(?P<group>.*?)(?P<role>pid|comm|prio|cpu)(?:\d*|_id)$")
#: Field groups whose task is the one firing (``prev_pid`` of ``sched_switch``).
_CURRENT = frozenset({"prev_", "parent_", "", "old", "new"})


@dataclass(frozen=True, slots=True)
class Task:
    pid: int
    comm: str
    prio: int
    cpu: int


def task_pool(rng: random.Random, size: int, ncpus: int) -> tuple[Task, ...]:
    """``size`` tasks with distinct pids, comms from ``COMMS`` and kernel priorities:
    mostly 120 (nice 0), some niced (100 to 139), a few real-time (0 to 98)."""
    pids = rng.sample(range(2, 32768), size)
    tasks = []
    for pid in pids:
        r = rng.random()
        prio = 120 if r < 0.8 else rng.randint(100, 139) if r < 0.95 else rng.randint(0, 98)
        tasks.append(Task(pid, rng.choice(COMMS).replace(" ", ""), prio, rng.randrange(ncpus)))
    return tuple(tasks)


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """How to make a value for one field: ``how`` is int, bool, pid, prio, cpu,
    comm or text; ``low``..``high`` bound an integer, ``high`` a text's length."""

    name: str
    how: str
    group: str
    low: int
    high: int


def plan_field(f: EventField) -> FieldPlan | None:
    """The plan for a field ``fire`` can set, or None (common fields, fields of
    size 0, arrays and dynamic fields that are not text)."""
    m = _ROLE.fullmatch(f.name)
    role, group = (m["role"], m["group"]) if m else ("", "")
    if f.name.startswith("common_"):
        return None
    if f.kind == "scalar":
        if f.size < 1:
            return None
        bits = 8 * f.size - f.signed
        low = max(-(1 << bits) if f.signed else 0, -(1 << 63))  # fire's own bounds
        high = min((1 << bits) - 1, (1 << 64) - 1)
        how = "bool" if f.type.endswith("bool") else role if role in ("pid", "prio", "cpu") \
            else "int"
        return FieldPlan(f.name, how, group, low, high)
    if not f.is_text:
        return None
    room = f.size - 1 if f.kind == "array" else MAX_TEXT
    return FieldPlan(f.name, "comm" if role == "comm" else "text", group, 1, room) \
        if room > 0 else None


@dataclass(frozen=True, slots=True)
class EventPlan:
    name: str
    fields: tuple[FieldPlan, ...]


def plan_event(name: str, fmt: str) -> EventPlan:
    """The plan for one event from its ``format`` text (ValueError if it does not parse)."""
    return EventPlan(name, tuple(p for f in layout(fmt).fields if (p := plan_field(f))))


class Generator:
    """Makes fire lines for plans, drawing everything from one seeded ``rng``."""

    def __init__(self, rng: random.Random, tasks: tuple[Task, ...], ncpus: int,
                 burst: int) -> None:
        self.rng = rng
        self.tasks = tasks
        self.ncpus = ncpus
        self.burst = burst

    def line(self, plan: EventPlan) -> tuple[str, int]:
        """One line for ``plan`` (without its ``@count``) and how often to fire it."""
        rng = self.rng
        current = rng.choice(self.tasks)
        cpu = current.cpu if rng.random() < 0.8 else rng.randrange(self.ncpus)
        count = rng.randint(1, 2 * self.burst - 1) if self.burst > 1 else 1
        words = [plan.name, f"@cpu={cpu}", f"@pid={current.pid}", f"@comm={current.comm}"]
        others: dict[str, Task] = {}
        for f in plan.fields:
            value: int | str
            if f.how == "int":
                value = rng.randint(f.low, f.high)
            elif f.how == "text":
                value = rng.choice(WORDS)[:f.high]
            elif f.how == "cpu":
                value = rng.randrange(self.ncpus)
            elif f.how == "bool":
                value = rng.randint(0, 1)
            else:
                task = current if f.group in _CURRENT else others.get(f.group)
                if task is None:
                    task = others[f.group] = rng.choice(self.tasks)
                if f.how == "comm":
                    value = task.comm[:f.high]
                else:
                    value = task.pid if f.how == "pid" else task.prio
            if not isinstance(value, str) and not f.low <= value <= f.high:
                value = rng.randint(f.low, f.high)
            words.append(f"{f.name}={value}")
        return " ".join(words), count


def count_cpus(root: Path) -> int:
    """The mount's CPUs: its ``per_cpu/cpuN`` directories (1 if it has none)."""
    try:
        names = os.listdir(root / "per_cpu")
    except FileNotFoundError:
        return 1
    return max(1, sum(bool(re.fullmatch(r"cpu\d+", n)) for n in names))


def _gone(exc: OSError) -> bool:
    return exc.errno in (errno.ENOENT, errno.ENODEV)


@dataclass
class Workload:
    """The events to fire, read from a tracefs directory, and the lines for them."""

    root: Path
    gen: Generator
    globs: tuple[str, ...] = ("*",)
    names: list[str] = field(default_factory=list)
    #: A plan per name in ``names``, None for names that cannot fire (a format
    #: that does not parse); names that leave the list leave this too.
    plans: dict[str, EventPlan | None] = field(default_factory=dict)
    pending: tuple[str, int] | None = None

    def refresh(self) -> None:
        """Read ``available_events`` again and keep the names the globs match."""
        text = (self.root / "available_events").read_text()
        present = [n for n in dict.fromkeys(text.split())
                   if any(fnmatch.fnmatchcase(n, g) for g in self.globs)]
        self.plans = {n: self.plans[n] for n in present if n in self.plans}
        self.names = [n for n in present if self.plans.get(n, True) is not None]

    def forget_formats(self) -> None:
        """Read every format again when next needed (after a batch was refused)."""
        self.plans.clear()

    def _plan(self, name: str) -> EventPlan | None:
        if name in self.plans:
            return self.plans[name]
        subsys, _, event = name.partition(":")
        try:
            fmt = (self.root / "events" / subsys / event / "format").read_text()
        except OSError as exc:
            if not _gone(exc):
                raise
            log.debug("%s went away", name)
            self.names.remove(name)
            return None
        try:
            plan: EventPlan | None = plan_event(name, fmt)
        except ValueError as exc:
            log.warning("%s cannot fire: %s", name, exc)
            plan = None
        self.plans[name] = plan
        if plan is None:
            self.names.remove(name)
        return plan

    def next_line(self) -> tuple[str, int] | None:
        """The next line and its firings, or None when no event is left to fire."""
        if self.pending is not None:
            line, self.pending = self.pending, None
            return line
        while self.names:
            plan = self._plan(self.gen.rng.choice(self.names))
            if plan is not None:
                return self.gen.line(plan)
        return None

    def batch(self, firings: int) -> list[tuple[str, int]]:
        """Lines (text, firings) for at most ``firings`` firings in one write of at most
        ``MAX_WRITE`` bytes; the last line's ``@count`` is cut to fit."""
        out: list[tuple[str, int]] = []
        size = total = 0
        while total < firings and (item := self.next_line()) is not None:
            line, count = item
            count = min(count, firings - total)
            text = f"{line} @count={count}\n" if count > 1 else f"{line}\n"
            if size + len(text) > MAX_WRITE:
                self.pending = item
                break
            out.append((text, count))
            size += len(text)
            total += count
        return out


@dataclass
class Stats:
    firings: int = 0
    batches: int = 0
    skipped: int = 0
    dropped: int = 0
    errors: int = 0


def run(args: argparse.Namespace, sink: Callable[[bytes], None]) -> int:
    """Fire (or print) batches into ``sink`` until the duration, count or a signal
    ends the run; print a summary. Returns 0, 1 if a batch was refused (two in a
    row end the run), 2 if no event matched."""
    root: Path = args.mountpoint
    rng = random.Random(args.seed)
    ncpus = count_cpus(root)
    gen = Generator(rng, task_pool(rng, args.tasks, ncpus), ncpus, args.burst)
    globs = tuple(g for arg in args.events or ["*"] for g in arg.split(",") if g)
    work = Workload(root, gen, globs)
    work.refresh()
    if not work.names:
        log.error("no event of %s matches %s", root / "available_events", ", ".join(globs))
        return 2
    log.info("firing %d events on %d CPUs as %d tasks", len(work.names), ncpus, args.tasks)
    stats = Stats()
    start = time.monotonic()
    try:
        _loop(args, work, sink, stats)
    finally:
        seconds = time.monotonic() - start
        print(f"workload done: firings={stats.firings} batches={stats.batches} "
              f"skipped={stats.skipped} dropped={stats.dropped} errors={stats.errors} "
              f"seconds={seconds:.2f} "
              f"rate={stats.firings / seconds if seconds else 0:.0f}/s",
              file=sys.stderr, flush=True)
    return 1 if stats.errors else 0


def _loop(args: argparse.Namespace, work: Workload, sink: Callable[[bytes], None],
          stats: Stats) -> None:
    flag = StopFlag().catch()
    now = time.monotonic()
    deadline = now + args.duration if args.duration > 0 else float("inf")
    per_batch = max(1, min(MAX_FIRINGS, int(args.rate * BATCH_SECONDS))) if args.rate > 0 \
        else MAX_FIRINGS
    next_at = refresh_at = now
    refused = False  # the last batch written was refused
    while not flag.stop and time.monotonic() < deadline \
            and not (args.count and stats.firings >= args.count):
        if time.monotonic() >= refresh_at:
            work.refresh()
            refresh_at = time.monotonic() + REFRESH_SECONDS
        left = args.count - stats.firings if args.count else MAX_FIRINGS
        lines = work.batch(min(per_batch, left))
        if not lines:  # every event went: wait for some to come back
            time.sleep(0.05)
            refresh_at = 0
            continue
        try:
            firings = _send(work, sink, lines, stats)
        except BrokenPipeError:  # --print into a pipe whose reader went
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            stats.errors += 1
            log.warning("a batch of %d lines was refused (%s); its first line: %s",
                        len(lines), exc.strerror, lines[0][0].rstrip())
            if refused:  # again, with every format read afresh: the lines are wrong
                return
            refused = True
            work.forget_formats()
            refresh_at = 0
            continue
        refused = False
        if not firings:
            continue
        stats.firings += firings
        stats.batches += 1
        if args.rate > 0:
            next_at += firings / args.rate
            while not flag.stop and (delay := min(next_at, deadline) - time.monotonic()) > 0:
                time.sleep(min(delay, 0.05))  # short naps: a signal must end the run soon


def _send(work: Workload, sink: Callable[[bytes], None], lines: list[tuple[str, int]],
          stats: Stats) -> int:
    """Write ``lines``; while the mount answers that an event is gone, read the list
    again and write the lines whose events are left. Returns the firings written."""
    while lines:
        try:
            sink("".join(text for text, _ in lines).encode())
            return sum(count for _, count in lines)
        except OSError as exc:
            if not _gone(exc):
                raise
            stats.skipped += 1
            log.debug("%s; reading the events again", exc.strerror)
        work.refresh()
        present = set(work.names)
        kept = [(text, count) for text, count in lines if text.partition(" ")[0] in present]
        if len(kept) == len(lines):  # refused though all are listed: give the lines up
            kept = []
        stats.dropped += sum(count for _, count in lines) - sum(count for _, count in kept)
        lines = kept
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tpfs.workload",
                                description=__doc__.splitlines()[0])
    p.add_argument("mountpoint", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--events", action="append", metavar="GLOB",
                   help="fnmatch patterns over SUBSYS:EVENT, comma-separated or repeated "
                        "(default: every event in available_events)")
    p.add_argument("--rate", type=float, default=0,
                   help="firings per second (default 0: as fast as the mount takes them)")
    p.add_argument("--duration", type=float, default=0,
                   help="seconds to run (default 0: until SIGINT or SIGTERM)")
    p.add_argument("--count", type=int, default=0, help="stop after this many firings")
    p.add_argument("--burst", type=int, default=4,
                   help="mean firings of one line: @count from 1 to 2*BURST-1 (default 4; "
                        "1 gives every firing its own values)")
    p.add_argument("--tasks", type=int, default=32, help="tasks in the pool (default 32)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also say when events go and batches are written again")
    p.add_argument("--print", "--dry-run", dest="print", action="store_true",
                   help="write the lines to standard output instead of firing them")
    args = p.parse_args(argv)
    if args.burst < 1 or args.tasks < 1 or args.count < 0 or args.tasks > 32766:
        p.error("--burst and --tasks must be at least 1 (--tasks at most 32766), "
                "--count at least 0")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="workload: %(message)s")
    try:
        if args.print:
            return run(args, _show)
        fd = os.open(args.mountpoint / "fire", os.O_WRONLY)
        try:
            return run(args, lambda data: _fire(fd, data))
        finally:
            os.close(fd)
    except OSError as exc:
        log.error("%s", exc)
        return 1


def _show(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # keep the interpreter's last flush from failing again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise


def _fire(fd: int, data: bytes) -> None:
    if os.write(fd, data) != len(data):
        raise OSError(errno.EIO, "short write to fire")


if __name__ == "__main__":
    sys.exit(main())
