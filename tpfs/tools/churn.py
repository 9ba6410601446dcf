"""``python -m tpfs.churn MNT``: load and unload modules (and probes) through a mount.

Every module gets a fresh name and fresh event names, so a line of a
listing names exactly one instance; some modules are tainted. Unloading
frees slab addresses that the next loads reuse. Each change is appended to
a log (JSON lines, with the monotonic time just before the write started
and just after it returned) that ``tpfs.check`` reads to know what existed
when.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .stopping import StopFlag


@dataclass
class Churner:
    mnt: Path
    rng: random.Random
    log: IO[str]
    prefix: str
    events: int = 10
    taint_fraction: float = 0.15
    population: int = 40
    probes: bool = False
    serial: int = 0
    loaded: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def _write(self, control: str, text: str, record: dict[str, object]) -> None:
        start = time.monotonic()
        fd = os.open(self.mnt / control, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        record.update(start=start, end=time.monotonic())
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        op = str(record["op"])
        self.counts[op] = self.counts.get(op, 0) + 1

    def load(self) -> None:
        self.serial += 1
        name = f"{self.prefix}{self.serial}"
        events = [f"{name}:ev{j}" for j in range(self.rng.randint(1, 2 * self.events - 1))]
        taint = "O" if self.rng.random() < self.taint_fraction else ""
        line = " ".join([name, *([f"taint={taint}"] if taint else []), *events])
        self._write("modules/load", line + "\n",
                    {"op": "load", "name": name, "taint": taint, "events": events})
        self.loaded.append(name)

    def unload(self) -> None:
        name = self.loaded.pop(self.rng.randrange(len(self.loaded)))
        self._write("modules/unload", name + "\n", {"op": "unload", "name": name})

    def probe(self) -> None:
        if self.registered and self.rng.random() < 0.5:
            name = self.registered.pop(self.rng.randrange(len(self.registered)))
            self._write("probes/unregister", f"{name} churn\n", {"op": "unregister", "name": name})
        else:
            self.serial += 1
            name = f"{self.prefix}p{self.serial}:hook"
            self._write("probes/register", f"{name} churn\n", {"op": "register", "name": name})
            self.registered.append(name)

    def step(self) -> None:
        if self.probes and self.rng.random() < 0.3:
            self.probe()
        elif not self.loaded or (len(self.loaded) < self.population
                                 and self.rng.random() < 0.5):
            self.load()
        elif len(self.loaded) > self.population or self.rng.random() < 0.5:
            self.unload()
        else:
            self.unload()
            self.load()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tpfs.churn", description=__doc__.splitlines()[0])
    p.add_argument("mountpoint", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=float, default=200, help="changes per second (0: flat out)")
    p.add_argument("--duration", type=float, default=10, help="seconds to run (0: until killed)")
    p.add_argument("--initial", type=int, default=40, help="modules to load before churning")
    p.add_argument("--events", type=int, default=10, help="mean tracepoints per module")
    p.add_argument("--taint-fraction", type=float, default=0.15)
    p.add_argument("--probes", action="store_true", help="also register and unregister probes")
    p.add_argument("--log", type=Path, help="change log (JSON lines; default: standard output)")
    p.add_argument("--prefix", help="module name prefix (default: c<seed>_)")
    args = p.parse_args(argv)

    with open(args.log, "a") if args.log else contextlib.nullcontext(sys.stdout) as out:
        return run(args, out)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    churner = Churner(args.mountpoint, random.Random(args.seed), out,
                      args.prefix or f"c{args.seed}_", args.events, args.taint_fraction,
                      max(args.initial, 1), args.probes)
    flag = StopFlag().catch()
    for _ in range(args.initial):
        churner.load()
    print("ready", file=sys.stderr, flush=True)
    interval = 1 / args.rate if args.rate > 0 else 0
    deadline = time.monotonic() + args.duration if args.duration > 0 else float("inf")
    next_at = time.monotonic()
    while not flag.stop and time.monotonic() < deadline:
        churner.step()
        next_at += interval
        while not flag.stop and (delay := min(next_at, deadline) - time.monotonic()) > 0:
            time.sleep(min(delay, 0.05))  # short naps: a signal must end the run soon
    summary = " ".join(f"{op}={n}" for op, n in sorted(churner.counts.items()))
    print(f"churn done: {summary}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
