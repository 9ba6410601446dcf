"""``python -m tpfs.explore``: every interleaving of partial listing reads with module churn.

For a small registry (a core of ``--core`` events, modules ``m0``..``m{N-1}``
of one tracepoint each) the explorer walks, depth first, every sequence of

* module loads and unloads, at most ``--depth`` of them, each fresh slab
  address placed in every order relative to the others (the slab hands out
  a new page's objects in any order; freed ones come back last in, first out),
* up to ``--reads`` reads of the open ``available_events`` of 1 to ``--size``
  bytes each, and
* a last read to EOF,

and checks the read contract (``contract``) after each complete read. It
prints "no violation in M interleavings" or the shortest interleaving that
violates the contract, as numbered shell steps against a mount, with the
``--seed`` whose slab hands out addresses in the counterexample's order.
``--replay FILE MNT`` runs such a printed counterexample against a mount
and checks the same contract on what the mount returned.

The model is the registry and the listing's seq_file themselves; the
explorer only substitutes the slab, so it explores what tpfs serves.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..kernel.iterator import TracepointIter, make_walk
from ..kernel.personality import DEFAULT, Personality, kernel_argument, known
from ..kernel.registry import Registry, Tracepoint
from ..kernel.slab import Slab
from ..tracefs.events import catalog
from ..tracefs.tracepoints.lines import parse_module
from ..tracefs.tracepoints.listings import EventListing
from ..tracefs.vfs.seqfile import SeqFile
from .contract import check_listing, split_records

#: The last read's size: far more than any explored listing holds.
REST = 65536


@dataclass(frozen=True, slots=True)
class Bounds:
    """The size of the explored space (docs/kernel-versions.md states those it was proved at)."""

    modules: int = 3
    reads: int = 2
    depth: int = 3
    size: int = 6
    core: int = 1


@dataclass(frozen=True, slots=True)
class Step:
    """One step: ``load``/``unload`` a module, ``read`` ``size`` bytes, or ``rest`` to EOF."""

    op: str
    name: str = ""
    size: int = 0


def module_events(name: str) -> tuple[str, ...]:
    return (f"{name}:e",)


def core_events(n: int) -> list[str]:
    """The ``n`` shortest names of the embedded catalogue: short lines, small reads."""
    events = catalog.load_embedded().events
    return sorted((e.name for e in events), key=lambda name: (len(name), name))[:n]


class ScriptedSlab(Slab):
    """A slab whose fresh addresses the explorer chooses; freed ones reused LIFO."""

    __slots__ = ("script",)

    def __init__(self) -> None:
        super().__init__()
        self.script: list[int] = []

    @property
    def reuses(self) -> bool:
        """Whether the next allocation takes a freed address (no choice to make)."""
        return bool(self._free)

    def alloc(self) -> int:
        if self._free:
            return self._free.pop()
        return self.script.pop()


@dataclass
class Journal:
    """What one interleaving did and what it read: enough to judge the contract."""

    core: list[str]
    steps: list[Step] = field(default_factory=list)
    #: Per step, the address a load got (0 for other steps).
    addresses: list[int] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)

    def violations(self) -> list[str]:
        """The contract over the window from the first read to EOF."""
        reads = [i for i, s in enumerate(self.steps) if s.op in ("read", "rest")]
        first, last = reads[0], reads[-1]
        loaded: dict[str, int] = {}
        stable: dict[str, int] = {}
        ever: Counter[str] = Counter(self.core)
        for i, step in enumerate(self.steps[:last + 1]):
            if i == first:
                stable = dict(loaded)
                ever.update(e for name in loaded for e in module_events(name))
            if step.op == "load":
                loaded[step.name] = self.addresses[i]
                if i > first:
                    ever.update(module_events(step.name))
            elif step.op == "unload":
                address = loaded.pop(step.name)
                if stable.get(step.name) == address:
                    del stable[step.name]
        order = list(self.core)
        for name in sorted(stable, key=stable.__getitem__):
            order.extend(module_events(name))
        records, torn = split_records(b"".join(self.data))
        return torn + check_listing(records, order, ever)


@dataclass
class State:
    """A node of the search: the model, the open listing, and the journal so far."""

    registry: Registry
    listing: SeqFile[TracepointIter, Tracepoint]
    journal: Journal
    pos: int = 0
    changes: int = 0
    reads: int = 0
    #: Every fresh address handed out so far (their order is what was chosen).
    fresh: list[Fraction] = field(default_factory=list)


def start(kernel: Personality, core: list[str]) -> State:
    reg = Registry(core, personality=kernel)
    reg.slab = ScriptedSlab()
    listing = SeqFile(EventListing(make_walk(reg)))
    return State(reg, listing, Journal(core))


def _moves(state: State, bounds: Bounds) -> Iterator[tuple[Step, Fraction | None]]:
    reg = state.registry
    slab = reg.slab
    assert isinstance(slab, ScriptedSlab)
    if state.changes < bounds.depth:
        names = [f"m{i}" for i in range(bounds.modules)]
        unloaded = [n for n in names if n not in reg.modules]
        # Modules never loaded are alike: loading the first of them stands for all.
        seen = {s.name for s in state.journal.steps}
        fresh_names = [n for n in unloaded if n not in seen][:1]
        for name in [n for n in unloaded if n in seen] + fresh_names:
            if slab.reuses:
                yield Step("load", name), None
                continue
            for gap in _gaps(state.fresh):
                yield Step("load", name), gap
        for name in sorted(reg.modules):
            yield Step("unload", name), None
    if state.reads < bounds.reads:
        for size in range(1, bounds.size + 1):
            yield Step("read", size=size), None
    yield Step("rest"), None


def _gaps(fresh: list[Fraction]) -> Iterator[Fraction]:
    """One address in each gap between the fresh addresses so far: every relative order."""
    ordered = sorted(fresh)
    bounds = [Fraction(0), *ordered, Fraction(len(ordered) + 2)]
    for low, high in zip(bounds, bounds[1:], strict=False):
        yield (low + high) / 2


def apply(state: State, step: Step, address: Fraction | None) -> bool:
    """Run ``step`` on ``state``; True when the listing reached EOF."""
    reg, journal = state.registry, state.journal
    journal.steps.append(step)
    journal.addresses.append(0)
    if step.op == "load":
        if address is not None:
            state.fresh.append(address)
            slab = reg.slab
            assert isinstance(slab, ScriptedSlab)
            slab.script.append(_scaled(address))
        module = reg.module_coming(step.name, module_events(step.name))
        journal.addresses[-1] = module.address
        state.changes += 1
        return False
    if step.op == "unload":
        reg.module_going(step.name)
        state.changes += 1
        return False
    if step.op == "read":
        state.reads += 1
        chunk = state.listing.read(state.pos, step.size)
        state.pos += len(chunk)
        journal.data.append(chunk)
        return not chunk
    limit = REST * 4
    while True:
        chunk = state.listing.read(state.pos, REST)
        state.pos += len(chunk)
        journal.data.append(chunk)
        if not chunk or state.pos > limit:
            return True


def _scaled(address: Fraction) -> int:
    """An integer address with the same order as the chosen fraction."""
    return int(address * (1 << 40))


@dataclass
class Result:
    interleavings: int = 0
    shortest: Journal | None = None
    violations: list[str] = field(default_factory=list)


def explore(kernel: Personality, bounds: Bounds) -> Result:
    """Walk every interleaving within ``bounds``; keep the shortest violating one."""
    result = Result()
    core = core_events(bounds.core)

    def walk(state: State) -> None:
        moves = list(_moves(state, bounds))
        for i, (step, address) in enumerate(moves):
            # The last move may take the state itself: nothing else needs it after.
            child = state if i == len(moves) - 1 else copy.deepcopy(state)
            if apply(child, step, address):
                result.interleavings += 1
                violations = child.journal.violations()
                shortest = result.shortest
                if violations and (shortest is None
                                   or len(child.journal.steps) < len(shortest.steps)):
                    result.shortest, result.violations = child.journal, violations
            else:
                walk(child)

    walk(start(kernel, core))
    return result


def matching_seed(journal: Journal, tries: int = 100_000) -> int:
    """A ``--seed`` whose slab hands out addresses in the same order as ``journal``'s loads."""
    loads = [(s.name, a) for s, a in zip(journal.steps, journal.addresses, strict=True)]
    for seed in range(tries):
        slab, got, want = Slab(seed), {}, {}
        for step, (name, address) in zip(journal.steps, loads, strict=True):
            if step.op == "load":
                got[name], want[name] = slab.alloc(), address
            elif step.op == "unload":
                slab.free(got[name])
        names = sorted(got)
        if sorted(names, key=got.__getitem__) == sorted(names, key=want.__getitem__):
            return seed
    raise RuntimeError("no seed hands out addresses in this order")


def render(journal: Journal, kernel: Personality, violations: Sequence[str]) -> str:
    """The counterexample as a person replays it: a mount command, then numbered steps."""
    seed = matching_seed(journal)
    out = [f"# kernel {kernel.first}", f"# seed {seed}", f"# core {' '.join(journal.core)}",
           f"# mount: tpfs MNT --kernel {kernel.first} --seed {seed} --catalog CATALOG",
           "#   (CATALOG: python -m tpfs.explore --write-catalog CATALOG"
           f" --core {len(journal.core)})"]
    opened = False
    for n, step in enumerate(journal.steps, 1):
        if step.op == "load":
            line = f"echo '{step.name} {' '.join(module_events(step.name))}' > MNT/modules/load"
        elif step.op == "unload":
            line = f"echo {step.name} > MNT/modules/unload"
        else:
            line = "" if opened else "exec 3< MNT/available_events; "
            opened = True
            line += (f"dd bs={step.size} count=1 status=none <&3" if step.op == "read"
                     else "cat <&3; exec 3<&-")
        out.append(f"{n}. {line}")
    out.extend(f"violation: {v}" for v in violations)
    return "\n".join(out) + "\n"


STEP = re.compile(r"^\d+\. (?:echo '(?P<load>\w+) [^']*' > MNT/modules/load"
                  r"|echo (?P<unload>\w+) > MNT/modules/unload"
                  r"|(?:exec 3< MNT/available_events; )?(?:dd bs=(?P<size>\d+) count=1"
                  r" status=none <&3|(?P<rest>cat <&3; exec 3<&-)))$")


def parse(text: str) -> tuple[list[str], list[Step]]:
    """The core and the steps of a printed counterexample."""
    core: list[str] = []
    steps: list[Step] = []
    for line in text.splitlines():
        if line.startswith("# core "):
            core = line.split()[2:]
        match = STEP.match(line)
        if match is None:
            continue
        if match["load"]:
            steps.append(Step("load", match["load"]))
        elif match["unload"]:
            steps.append(Step("unload", match["unload"]))
        elif match["size"]:
            steps.append(Step("read", size=int(match["size"])))
        else:
            steps.append(Step("rest"))
    return core, steps


def replay(text: str, mnt: Path) -> Journal:
    """Run a printed counterexample's steps against the mount at ``mnt``."""
    core, steps = parse(text)
    loaded = [n for n in os.listdir(mnt / "modules") if n not in ("load", "unload")]
    have = (mnt / "available_events").read_text().split()
    if loaded or have != core:
        raise SystemExit(f"replay needs a fresh mount whose core is {core}: "
                         "mount it as the counterexample's first lines say")
    journal = Journal(core)
    fd = -1
    try:
        for step in steps:
            journal.steps.append(step)
            journal.addresses.append(0)
            if step.op == "load":
                (mnt / "modules/load").write_text(
                    f"{step.name} {' '.join(module_events(step.name))}\n")
                info = parse_module((mnt / "modules" / step.name).read_text())
                journal.addresses[-1] = info.address
            elif step.op == "unload":
                (mnt / "modules/unload").write_text(f"{step.name}\n")
            else:
                if fd < 0:
                    fd = os.open(mnt / "available_events", os.O_RDONLY)
                size = step.size if step.op == "read" else REST
                chunk = os.read(fd, size)
                journal.data.append(chunk)
                while step.op == "rest" and chunk:
                    chunk = os.read(fd, size)
                    journal.data.append(chunk)
    finally:
        if fd >= 0:
            os.close(fd)
    return journal


def write_catalog(path: Path, core: int) -> None:
    """A catalogue of the explorer's core, for the mount a counterexample replays on."""
    full = catalog.load_embedded()
    names = set(core_events(core))
    events = tuple(e for e in full.events if e.name in names)
    order = core_events(core)
    events = tuple(sorted(events, key=lambda e: order.index(e.name)))
    catalog.dump(catalog.Catalog(events, full.header_page, full.header_event), path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tpfs explore", description=(
        "Check the listing's read contract over every interleaving of small reads "
        "and module churn, or replay a counterexample against a mount."))
    p.add_argument("--kernel", type=kernel_argument, default=DEFAULT, metavar="VERSION",
                   help=f"{known()} (default {DEFAULT.name})")
    d = Bounds()
    p.add_argument("--modules", type=int, default=d.modules, help="module names m0..")
    p.add_argument("--reads", type=int, default=d.reads, help="partial reads before EOF")
    p.add_argument("--depth", type=int, default=d.depth, help="module loads and unloads")
    p.add_argument("--size", type=int, default=d.size, help="largest partial read, bytes")
    p.add_argument("--core", type=int, default=d.core, help="core events")
    p.add_argument("--replay", nargs=2, metavar=("FILE", "MNT"), type=Path,
                   help="run a printed counterexample against a mount")
    p.add_argument("--write-catalog", metavar="FILE", type=Path,
                   help="write the catalogue of the --core events, to mount with")
    args = p.parse_args(argv)
    if args.write_catalog:
        write_catalog(args.write_catalog, args.core)
        return 0
    if args.replay:
        path, mnt = args.replay
        violations = replay(path.read_text(), mnt).violations()
        for v in violations:
            print(f"violation: {v}")
        print(f"replayed {path} on {mnt}: "
              f"{'violated' if violations else 'no violation'}")
        return 1 if violations else 0
    bounds = Bounds(args.modules, args.reads, args.depth, args.size, args.core)
    t0 = time.monotonic()
    result = explore(args.kernel, bounds)
    took = time.monotonic() - t0
    if result.shortest is None:
        print(f"kernel {args.kernel.name}: no violation in {result.interleavings} "
              f"interleavings ({took:.1f} s)")
        return 0
    sys.stdout.write(render(result.shortest, args.kernel, result.violations))
    print(f"# shortest of the violations in {result.interleavings} interleavings "
          f"({took:.1f} s)")
    return 1
