"""The tracepoint iterator over the sorted module list, and the legacy walk."""

from __future__ import annotations

from tpfs.kernel.iterator import LegacyWalk, SortedWalk, TracepointIter

from registries import expected, loaded


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
