"""``python -m tpfs.check MNT``: read a listing in small pieces and check the read contract.

The checker snapshots ``modules/`` before and after the read, reads the
listing from offset 0 to EOF in reads of random (seeded) or given sizes
with a pause between them so that other processes' changes land in
between, and works out from the snapshots and the churn log (see
``tpfs.churn``) which instances were present for the whole read and which
existed at all. It prints one verdict line and exits 1 on any violation.

With ``--dir``, it lists a directory with small getdents64 buffers instead
and checks that every entry that stayed appears exactly once.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import platform
import random
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kernel.personality import DEFAULT, Personality, kernel_argument, known
from ..kernel.registry import CORE_OWNER
from ..tracefs.tracepoints.lines import ModuleFile, parse_module, parse_tracepoint
from .contract import check_listing, split_records

CONTROL = {"modules": ("load", "unload"),
           "probes": ("register", "unregister", "register_noupdate",
                      "unregister_noupdate", "update")}


def read_text(path: Path) -> str | None:
    """The file's text, or None if it went before or while it was read (ENODEV)."""
    try:
        return path.read_text()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENODEV):
            return None
        raise


def snapshot_modules(mnt: Path) -> dict[str, ModuleFile]:
    """Every loaded module as modules/NAME describes it (vanishing ones skipped)."""
    mods = {}
    for name in os.listdir(mnt / "modules"):
        if name in CONTROL["modules"]:
            continue
        text = read_text(mnt / "modules" / name)
        if text is not None:
            mods[name] = parse_module(text)
    return mods


@dataclass
class ChurnLog:
    """What the churn tool changed, and when (monotonic seconds)."""

    records: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, paths: list[Path] | None) -> ChurnLog:
        """The records of every log (several writers may each keep one)."""
        return cls([json.loads(line) for path in paths or () if path.exists()
                    for line in path.read_text().splitlines() if line])

    def touched(self, t0: float, t1: float) -> set[str]:
        """Names changed at any time that overlaps the window."""
        return {str(r["name"]) for r in self.records
                if float(r["start"]) <= t1 and float(r["end"]) >= t0}

    def loads_in(self, t0: float, t1: float) -> list[dict[str, Any]]:
        return [r for r in self.records if r["op"] == "load"
                and float(r["start"]) <= t1 and float(r["end"]) >= t0]

    def count(self, op: str, t0: float, t1: float) -> int:
        return sum(1 for r in self.records
                   if r["op"] == op and float(r["start"]) <= t1 and float(r["end"]) >= t0)


@dataclass
class Window:
    """The state around one timed read: snapshots at both ends plus the log."""

    before: dict[str, ModuleFile]
    after: dict[str, ModuleFile]
    log: ChurnLog
    t0: float
    t1: float
    #: The mount's kernel version, whose taint rule says which logged loads registered.
    kernel: Personality = DEFAULT

    def stable_modules(self) -> list[tuple[str, ModuleFile]]:
        """Registered modules present for the whole window, by address."""
        touched = self.log.touched(self.t0, self.t1)
        keep = [(n, m) for n, m in self.before.items()
                if m.registered and n not in touched and self.after.get(n) == m]
        return sorted(keep, key=lambda item: item[1].address)

    def all_modules(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        """Every registered incarnation of a module that may have existed in the window.

        A name can be loaded again after it was unloaded: each load is its own
        instance, so one listing may rightly show a name's lines more than once.
        """
        logged = self.log.loads_in(self.t0, self.t1)
        for rec in logged:
            if self.kernel.registers(str(rec.get("taint", ""))):
                yield str(rec["name"]), tuple(map(str, rec["events"]))
        logged_names = {rec["name"] for rec in logged}
        for name, info in self.before.items():
            if info.registered:
                yield name, info.events
        for name, info in self.after.items():
            if info.registered and name not in logged_names and (
                    self.before.get(name) != info):
                yield name, info.events

    def changes(self) -> tuple[int, int]:
        if self.log.records:
            return (self.log.count("load", self.t0, self.t1),
                    self.log.count("unload", self.t0, self.t1))
        return (len(self.after.keys() - self.before.keys()),
                len(self.before.keys() - self.after.keys()))


def core_instances(mnt: Path) -> list[str]:
    """The core's names in order: they never change, so one read of them is enough."""
    lines = map(parse_tracepoint, (mnt / "tracepoints").read_text().splitlines())
    return [line.name for line in lines if line is not None and line.owner == CORE_OWNER]


def record_key(listing: str, line: str) -> str:
    """A line's identity: the name, or for ``tracepoints`` name and owner (if well formed)."""
    if listing == "available_events":
        return line
    parsed = parse_tracepoint(line)
    if parsed is None:
        return f"malformed: {line}"
    return f"{parsed.name} {parsed.owner}"


def expected(listing: str, core: list[str], window: Window) -> tuple[list[str], Counter[str]]:
    def keys(owner: str, events: Iterable[str]) -> list[str]:
        return [e if listing == "available_events" else f"{e} {owner}" for e in events]

    stable = keys(CORE_OWNER, core)
    ever = Counter(stable)
    for name, info in window.stable_modules():
        stable.extend(keys(name, info.events))
    for name, events in window.all_modules():
        ever.update(keys(name, events))
    return stable, ever


class Sizes:
    """Read sizes: cycling through a fixed list, or random in [1, 64]."""

    def __init__(self, fixed: list[int], rng: random.Random) -> None:
        self.fixed = fixed
        self.rng = rng
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        if self.fixed:
            return self.fixed[(self.n - 1) % len(self.fixed)]
        return self.rng.randint(1, 64)


@dataclass
class ReadResult:
    data: bytes = b""
    reads: int = 0
    error: str = ""


def read_listing(path: Path, sizes: Callable[[], int], pause: float,
                 limit: int) -> ReadResult:
    """Read to EOF; stop after ``limit`` bytes (a walk that never ends is a violation)."""
    result = ReadResult()
    parts: list[bytes] = []
    total = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            chunk = os.read(fd, sizes())
            result.reads += 1
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                result.error = f"listing did not end within {limit} bytes"
                break
            if pause:
                time.sleep(pause)
    finally:
        os.close(fd)
    result.data = b"".join(parts)
    return result


SYS_GETDENTS64 = {"x86_64": 217, "aarch64": 61}.get(platform.machine())


def getdents(path: Path, bufsize: int, pause: float) -> tuple[list[str], int]:
    """List a directory with getdents64 and a small buffer; returns names and calls."""
    if SYS_GETDENTS64 is None:
        raise RuntimeError(f"getdents64 number unknown on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(bufsize)
    names: list[str] = []
    calls = 0
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            n = libc.syscall(SYS_GETDENTS64, fd, buf, bufsize)
            calls += 1
            if n < 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
            if n == 0:
                return [x for x in names if x not in (".", "..")], calls
            pos = 0
            while pos < n:
                reclen = struct.unpack_from("H", buf.raw, pos + 16)[0]
                name = buf.raw[pos + 19:pos + reclen].split(b"\0", 1)[0]
                names.append(os.fsdecode(name))
                pos += reclen
            if pause:
                time.sleep(pause)
    finally:
        os.close(fd)


def check_dir(args: argparse.Namespace) -> int:
    path = args.mountpoint / args.dir
    log_path = args.churn_log
    total_violations = 0
    calls = 0
    for _ in range(args.repeat):
        t0 = time.monotonic()
        before = os.listdir(path)
        names, n = getdents(path, args.bufsize, args.pause)
        after = set(os.listdir(path))
        t1 = time.monotonic()
        calls += n
        log = ChurnLog.read(log_path)
        touched = log.touched(t0, t1)
        stable = [x for x in before if x in after and x not in touched]
        ever = Counter(set(before) | after | touched)
        violations = check_listing(names, stable, ever)
        for v in violations[:20]:
            print(f"violation: {v}", file=sys.stderr)
        total_violations += len(violations)
    verdict = "FAIL" if total_violations else "ok"
    print(f"{verdict}: dir={args.dir} listings={args.repeat} getdents={calls} "
          f"bufsize={args.bufsize} violations={total_violations}")
    return 1 if total_violations else 0


def check_listing_file(args: argparse.Namespace) -> int:
    mnt: Path = args.mountpoint
    listing = args.file
    core = core_instances(mnt)
    rng = random.Random(args.seed)
    limit = 4 * (len((mnt / listing).read_bytes()) + 100_000)
    # The window spans both snapshots: whatever the log says happened inside
    # it may have happened between a snapshot and the read.
    t0 = time.monotonic()
    before = snapshot_modules(mnt)
    results = [ReadResult() for _ in range(args.readers)]

    def reader(i: int) -> None:
        sizes = Sizes(args.sizes, random.Random(rng.random() + i))
        try:
            results[i] = read_listing(mnt / listing, sizes, args.pause, limit)
        except OSError as exc:
            results[i].error = f"read failed: {exc}"

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(args.readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = snapshot_modules(mnt)
    t1 = time.monotonic()
    window = Window(before, after, ChurnLog.read(args.churn_log), t0, t1, args.kernel)
    stable, ever = expected(listing, core, window)
    violations: list[str] = []
    for i, res in enumerate(results):
        lines, torn = split_records(res.data)
        found = torn + ([res.error] if res.error else [])
        found += check_listing([record_key(listing, x) for x in lines], stable, ever)
        violations.extend(f"reader {i}: {v}" for v in found)
    for v in violations[:20]:
        print(f"violation: {v}", file=sys.stderr)
    loaded, unloaded = window.changes()
    verdict = "FAIL" if violations else "ok"
    print(f"{verdict}: file={listing} readers={args.readers} "
          f"reads={sum(r.reads for r in results)} bytes={sum(len(r.data) for r in results)} "
          f"loaded={loaded} unloaded={unloaded} stable={len(stable)} "
          f"violations={len(violations)}")
    return 1 if violations else 0


def _sizes(text: str) -> list[int]:
    sizes = [int(x) for x in text.split(",") if x]
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tpfs.check", description=__doc__.splitlines()[0])
    p.add_argument("mountpoint", type=Path)
    p.add_argument("--file", default="available_events",
                   choices=["available_events", "tracepoints"])
    p.add_argument("--sizes", type=_sizes, default=[],
                   help="comma-separated read sizes to cycle through (default: random 1-64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random read sizes")
    p.add_argument("--pause", type=float, default=0.001, help="seconds between reads")
    p.add_argument("--readers", type=int, default=1, help="concurrent readers, own handles")
    p.add_argument("--churn-log", type=Path, action="append",
                   help="a log written by tpfs.churn (repeat for several)")
    p.add_argument("--kernel", type=kernel_argument, default=DEFAULT, metavar="VERSION",
                   help=f"the mount's --kernel ({known()}; default {DEFAULT.name})")
    p.add_argument("--dir", choices=sorted(CONTROL), help="check a directory listing instead")
    p.add_argument("--bufsize", type=int, default=256, help="getdents64 buffer for --dir")
    p.add_argument("--repeat", type=int, default=10, help="listings for --dir")
    args = p.parse_args(argv)
    try:
        return check_dir(args) if args.dir else check_listing_file(args)
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            print(f"FAIL: the mount is gone: {exc}")
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
