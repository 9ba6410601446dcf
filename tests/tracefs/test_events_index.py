"""The event index without a mount: the kernel's order, what a change costs, and the ids."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Limits, ModuleSpec, Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.events import DYNAMIC_ID_TOP
from tpfs.tracefs.tree import Tree
from tpfs.tracefs.vfs.nodes import Directory

CORE = ["b:one", "a:two", "b:three", "c:four"]


def tree(core: list[str] = CORE, catalog: Catalog | None = None) -> Tree:
    reg = Registry(core, seed=3, limits=Limits(max_modules=20000))
    return Tree(reg, catalog or Catalog(()))


def listing(t: Tree, *path: str) -> list[str]:
    node = t.resolve(path)
    assert isinstance(node, Directory)
    return [name for _, name in node.entries()]


def test_events_list_systems_and_events_in_registration_order() -> None:
    t = tree()
    reg = t.registry
    assert listing(t, "events") == ["enable", "header_page", "header_event", "ftrace", "b", "a",
                                   "c"]
    reg.module_coming("m1", ["z:late", "b:four", "a:two", "z:early"])
    assert listing(t, "events")[4:] == ["b", "a", "c", "z"]
    assert listing(t, "events", "b") == ["filter", "enable", "one", "three", "four"]
    assert listing(t, "events", "z") == ["filter", "enable", "late", "early"]
    reg.module_coming("m2", ["y:only", "b:four"])
    reg.module_going("m1")  # b:four stays with m2; z goes; a:two is core
    assert listing(t, "events")[4:] == ["b", "a", "c", "y"]
    reg.module_coming("m3", ["z:early", "b:five"])  # back at the end, as a new directory
    assert listing(t, "events")[4:] == ["b", "a", "c", "y", "z"]
    assert listing(t, "events", "b")[2:] == ["one", "three", "four", "five"]
    reg.module_coming("t", ["x:tainted"], taints="E")
    assert "x" not in listing(t, "events")


def test_readdir_keys_follow_the_order_and_survive_changes() -> None:
    t = tree()
    events = t.resolve(["events"])
    assert isinstance(events, Directory)
    keys = [key for key, _ in events.entries()]
    assert keys == sorted(keys)
    after_b = events.entries()[4][0]
    t.registry.module_coming("m", ["new:ev"])
    assert [n for _, n in events.entries_after(after_b)] == ["a", "c", "new"]


def test_set_event_keeps_available_events_order() -> None:
    t = tree()
    reg = t.registry
    reg.load_modules([ModuleSpec("m1", ("q:x", "q:y")), ModuleSpec("m2", ("p:z", "b:one"))])
    layer = t.events
    for token in ("p:z", "q:y", "c:four", "b:one", "q:x"):
        layer.set_event_write(token.encode())
    walk = [tp.name for tp in t.events.registry.core.tracepoints]
    for module in sorted(reg.modules.values(), key=lambda m: m.address):
        walk += [n for n in module.events if n not in walk]
    expected = [n for n in walk if n in {"p:z", "q:y", "c:four", "b:one", "q:x"}]
    assert layer.set_event_text().splitlines() == expected
    reg.module_going("m1")
    assert layer.set_event_text().splitlines() == [n for n in expected if not n.startswith("q")]


@contextmanager
def lines_run() -> Iterator[list[int]]:
    """Count the Python lines executed inside the block: work, without a clock."""
    count = [0]

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        count[0] += event == "line"
        return trace

    sys.settrace(trace)
    try:
        yield count
    finally:
        sys.settrace(None)


def change_and_look(t: Tree) -> int:
    """Lines run by a module load, lookups under events/, a set_event write and read."""
    with lines_run() as count:
        t.registry.module_coming("newmod", ["newsub:ev0", "newsub:ev1", "b:one"])
        assert t.resolve(["events", "newsub", "ev1", "id"]) is not None
        assert t.resolve(["events", "b", "one"]) is not None
        t.events.set_event_write(b"newsub:ev0")
        assert sorted(t.events.set_event_text().split()) == ["newsub:ev0", "s1:e1_3"]
        t.registry.module_going("newmod")
        assert t.resolve(["events", "newsub"]) is None
        assert t.events.set_event_text() == "s1:e1_3\n"
    return count[0]


def test_cost_of_a_change_does_not_grow_with_the_registry() -> None:
    costs = []
    for modules in (10, 2000):
        t = tree()
        t.registry.load_modules([ModuleSpec(f"m{i}", tuple(f"s{i % 500}:e{i}_{j}"
                                                           for j in range(20)))
                                 for i in range(modules)])
        t.events.set_event_write(b"s1:e1_3")  # an event on, as in a tracing session
        costs.append(change_and_look(t))
    small, large = costs
    assert large <= small + 20, costs  # 40,000 more instances and 490 more subsystems


def test_tpfs_only_ids_count_down_from_the_top() -> None:
    catalog = Catalog((CatalogEvent("b", "one", 30, ""), CatalogEvent("a", "two", 12, "")))
    t = tree(catalog=catalog)
    layer = t.events
    t.registry.module_coming("m", ["n:x", "n:y"])
    assert [layer.event_id(n) for n in ("b:one", "a:two", "n:y", "n:x", "b:three")] == [
        30, 12, DYNAMIC_ID_TOP, DYNAMIC_ID_TOP - 1, DYNAMIC_ID_TOP - 2]
    t.registry.module_going("m")
    t.registry.module_coming("m", ["n:x"])
    assert layer.event_id("n:x") == DYNAMIC_ID_TOP - 1  # stable per name


def test_ids_of_names_gone_are_reused_when_the_range_runs_out() -> None:
    catalog = Catalog((CatalogEvent("b", "one", DYNAMIC_ID_TOP - 2, ""),))
    t = tree(["b:one"], catalog)
    layer, reg = t.events, t.registry
    reg.module_coming("m", ["n:x", "n:y"])
    assert {layer.event_id("n:x"), layer.event_id("n:y")} == {DYNAMIC_ID_TOP, DYNAMIC_ID_TOP - 1}
    reg.module_coming("k", ["n:z"])
    with pytest.raises(TpfsError) as exc:
        layer.format("n:z")
    assert exc.value.errno == errno.ENOSPC
    reg.module_going("m")
    assert layer.event_id("n:z") in (DYNAMIC_ID_TOP, DYNAMIC_ID_TOP - 1)
    assert layer.event_id("b:one") == DYNAMIC_ID_TOP - 2


def test_a_format_without_fields_has_two_blank_lines_before_print_fmt() -> None:
    t = tree()
    t.registry.module_coming("m", ["n:x"])
    fmt = t.events.format("n:x")
    assert fmt.startswith(f"name: x\nID: {DYNAMIC_ID_TOP}\nformat:\n\tfield:unsigned short")
    assert "\tsigned:1;\n\n\nprint fmt: " in fmt
