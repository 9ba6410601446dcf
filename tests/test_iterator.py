"""The iterator and the listings it drives, without any churn."""

from __future__ import annotations

import pytest

from tpfs.iterator import LegacyWalk, SortedWalk, TracepointIter
from tpfs.listing import events_filler, tracepoints_filler
from tpfs.registry import Registry
from tpfs.seqfile import SeqFile

CORE = ["a:one", "a:two", "b:three"]


def loaded(n: int, per: int = 3, seed: int = 3) -> Registry:
    reg = Registry(CORE, seed=seed)
    for i in range(n):
        reg.module_coming(f"m{i}", [f"m{i}:e{j}" for j in range(per)])
    return reg


def expected(reg: Registry) -> list[str]:
    out = list(CORE)
    for mod in sorted(reg.tp_modules, key=lambda m: m.address):
        out.extend(tp.name for tp in mod.tracepoints)
    return out


def test_walk_is_core_then_modules_by_address() -> None:
    reg = loaded(10)
    reg.module_coming("empty", [])
    reg.module_coming("tainted", ["t:x"], "P")
    assert [tp.name for tp in SortedWalk(reg).walk()] == expected(reg)


def test_start_next_reset_follow_the_kernel() -> None:
    reg = loaded(2, per=1)
    walk = SortedWalk(reg)
    it = TracepointIter()
    assert walk.start(it).name == "a:one" and it == TracepointIter(None, 0)
    walk.next(it)
    walk.next(it)
    tp = walk.next(it)
    first = reg.tp_modules[0]
    assert tp is first.tracepoints[0] and it == TracepointIter(first.address, 0)
    walk.stop(it)
    walk.next(it)
    assert walk.next(it) is None and it == TracepointIter()
    walk.start(it)
    walk.reset(it)
    assert it == TracepointIter()


def test_cursor_on_a_vanished_module_resumes_at_the_next_above() -> None:
    reg = loaded(5)
    walk = SortedWalk(reg)
    mods = list(reg.tp_modules)
    it = TracepointIter(mods[2].address, 1)
    reg.module_going(mods[2].name)
    assert walk.start(it) is mods[3].tracepoints[0]
    it = TracepointIter(mods[4].address, 2)
    reg.module_going(mods[4].name)
    assert walk.start(it) is None and it == TracepointIter()


def test_legacy_walk_skips_modules_below_one_already_visited() -> None:
    reg = loaded(10)
    legacy = [tp.name for tp in LegacyWalk(reg).walk()]
    assert legacy != expected(reg)
    assert set(legacy) < set(expected(reg))
    assert len(legacy) == len(set(legacy))


@pytest.mark.parametrize("filler", [events_filler, tracepoints_filler])
@pytest.mark.parametrize("size", [1, 7, 64, 4096, 1 << 20])
def test_seqfile_reads_of_any_size_give_the_same_bytes(filler, size: int) -> None:
    reg = loaded(30, per=7)
    reg.tracepoint_probe_register("m3:e2", "p")
    whole = SeqFile(filler(SortedWalk(reg))).read(0, 1 << 24)
    seq = SeqFile(filler(SortedWalk(reg)))
    parts, off = [], 0
    while chunk := seq.read(off, size):
        assert len(chunk) <= size
        parts.append(chunk)
        off += len(chunk)
    assert b"".join(parts) == whole
    assert seq.read(off, size) == b""


def test_listing_contents() -> None:
    reg = loaded(2, per=2)
    reg.tracepoint_probe_register("a:two", "p")
    reg.tracepoint_probe_register("a:two", "q")
    events = SeqFile(events_filler(SortedWalk(reg))).read(0, 1 << 20).decode()
    assert events.splitlines() == expected(reg)
    tps = SeqFile(tracepoints_filler(SortedWalk(reg))).read(0, 1 << 20).decode().splitlines()
    assert tps[:3] == ["a:one kernel 0 0", "a:two kernel 1 2", "b:three kernel 0 0"]
    first = reg.tp_modules[0]
    assert tps[3] == f"{first.tracepoints[0].name} {first.name} 0 0"


def test_pread_replays_from_record_zero() -> None:
    reg = loaded(5)
    seq = SeqFile(events_filler(SortedWalk(reg)))
    whole = SeqFile(events_filler(SortedWalk(reg))).read(0, 1 << 20)
    assert seq.read(0, 10) == whole[:10]
    assert seq.read(25, 10) == whole[25:35]
    assert seq.read(3, 4) == whole[3:7]
    assert seq.read(7, 100) == whole[7:107]
    assert seq.read(len(whole) + 5, 10) == b""
