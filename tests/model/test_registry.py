"""Unit tests of the registry model: probes, entries, modules, grace periods."""

from __future__ import annotations

import errno

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Limits, ModuleSpec, Probe, ProbeChange, Registry

CORE = ["sched:sched_switch", "sched:sched_wakeup", "irq:irq_handler_entry"]


@pytest.fixture
def reg() -> Registry:
    return Registry(CORE, seed=1)


def state(reg: Registry, name: str) -> list[tuple[str, bool, int]]:
    return [(tp.owner, tp.state, tp.nprobes) for tp in reg.instances(name)]


def test_core_instances_start_disabled(reg: Registry) -> None:
    assert [tp.name for tp in reg.core.tracepoints] == CORE
    assert all(not tp.state and tp.funcs is None for tp in reg.core.tracepoints)
    assert reg.entries == {}


def test_register_enables_every_instance_of_the_name(reg: Registry) -> None:
    reg.module_coming("m1", ["sched:sched_switch", "m1:ev"])
    reg.tracepoint_probe_register("sched:sched_switch", "p", 1)
    assert state(reg, "sched:sched_switch") == [("kernel", True, 1), ("m1", True, 1)]
    entry = reg.get_tracepoint("sched:sched_switch")
    assert entry is not None and entry.funcs == (Probe("p", 1),) and entry.refcount == 1
    assert state(reg, "m1:ev") == [("m1", False, 0)]


def test_duplicate_pair_is_eexist_and_changes_nothing(reg: Registry) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "p", 1)
    before = reg.get_tracepoint("sched:sched_switch").funcs
    with pytest.raises(TpfsError) as exc:
        reg.tracepoint_probe_register("sched:sched_switch", "p", 1)
    assert exc.value.errno == errno.EEXIST
    assert reg.get_tracepoint("sched:sched_switch").funcs is before
    reg.tracepoint_probe_register("sched:sched_switch", "p", 2)  # other data: fine
    assert state(reg, "sched:sched_switch") == [("kernel", True, 2)]


def test_register_before_the_module_loads(reg: Registry) -> None:
    reg.tracepoint_probe_register("later:ev", "p")
    assert reg.get_tracepoint("later:ev") is not None
    assert list(reg.instances("later:ev")) == []
    reg.module_coming("later", ["later:ev"])
    assert state(reg, "later:ev") == [("later", True, 1)]


def test_unregister_missing_entry_or_pair_is_enoent(reg: Registry) -> None:
    with pytest.raises(TpfsError) as exc:
        reg.tracepoint_probe_unregister("sched:sched_switch", "p")
    assert exc.value.errno == errno.ENOENT
    reg.tracepoint_probe_register("sched:sched_switch", "p", 1)
    funcs = reg.get_tracepoint("sched:sched_switch").funcs
    with pytest.raises(TpfsError) as exc:  # 3.2 returned 0 here; tpfs says ENOENT
        reg.tracepoint_probe_unregister("sched:sched_switch", "p", 2)
    assert exc.value.errno == errno.ENOENT
    assert reg.get_tracepoint("sched:sched_switch").funcs is funcs
    assert reg.pending_release == 0


def test_unregister_last_probe_removes_entry_and_disables(reg: Registry) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "a")
    reg.tracepoint_probe_register("sched:sched_switch", "b")
    reg.tracepoint_probe_unregister("sched:sched_switch", "a")
    assert reg.get_tracepoint("sched:sched_switch").funcs == (Probe("b"),)
    assert state(reg, "sched:sched_switch") == [("kernel", True, 1)]
    reg.tracepoint_probe_unregister("sched:sched_switch", "b")
    assert reg.get_tracepoint("sched:sched_switch") is None
    assert state(reg, "sched:sched_switch") == [("kernel", False, 0)]
    assert reg.core.tracepoints[0].funcs is None


def test_unregister_all(reg: Registry) -> None:
    for func in "abc":
        reg.tracepoint_probe_register("irq:irq_handler_entry", func)
    reg.tracepoint_probe_unregister("irq:irq_handler_entry", None)
    assert reg.get_tracepoint("irq:irq_handler_entry") is None
    assert state(reg, "irq:irq_handler_entry") == [("kernel", False, 0)]


def test_probe_order_is_registration_order(reg: Registry) -> None:
    for func, data in [("b", 0), ("a", 5), ("b", 1)]:
        reg.tracepoint_probe_register("sched:sched_wakeup", func, data)
    assert reg.core.tracepoints[1].funcs == (Probe("b", 0), Probe("a", 5), Probe("b", 1))


def test_noupdate_batch_applies_on_update_all(reg: Registry) -> None:
    reg.tracepoint_probe_register_noupdate("sched:sched_switch", "a")
    reg.tracepoint_probe_register_noupdate("sched:sched_wakeup", "b")
    assert reg.need_update
    assert state(reg, "sched:sched_switch") == [("kernel", False, 0)]
    assert reg.get_tracepoint("sched:sched_switch").refcount == 1
    reg.tracepoint_probe_register_noupdate("sched:sched_switch", "c")
    # (a) was never published: unlike the kernel, tpfs drops it at once.
    assert reg.old_probes == [] and reg.pending_release == 0
    reg.tracepoint_probe_update_all()
    assert not reg.need_update and reg.old_probes == []
    assert state(reg, "sched:sched_switch") == [("kernel", True, 2)]
    assert state(reg, "sched:sched_wakeup") == [("kernel", True, 1)]
    assert reg.pending_release == 0


def test_update_all_without_batch_does_nothing(reg: Registry) -> None:
    gen = reg.generation
    reg.tracepoint_probe_update_all()
    assert reg.generation == gen


def test_unregister_noupdate_keeps_instances_until_update(reg: Registry) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "a")
    reg.tracepoint_probe_unregister_noupdate("sched:sched_switch", "a")
    assert reg.get_tracepoint("sched:sched_switch") is None
    assert state(reg, "sched:sched_switch") == [("kernel", True, 1)]
    reg.tracepoint_probe_update_all()
    assert state(reg, "sched:sched_switch") == [("kernel", False, 0)]


def test_regular_update_refreshes_stale_batch_like_the_full_walk(reg: Registry) -> None:
    reg.tracepoint_probe_register_noupdate("sched:sched_switch", "a")
    reg.tracepoint_probe_register("irq:irq_handler_entry", "b")
    # The kernel's update walks every instance, so the batched name is live now,
    assert state(reg, "sched:sched_switch") == [("kernel", True, 1)]
    # but its queued arrays still wait for update_all.
    assert reg.need_update


def test_replaced_array_waits_for_readers_that_started_before(reg: Registry) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "a")
    reader = reg.rcu.read_lock()  # a CPU inside the tracepoint, on array (a,)
    seen = reg.core.tracepoints[0].funcs
    reg.tracepoint_probe_register("sched:sched_switch", "b")
    assert reg.pending_release == 1
    late = reg.rcu.read_lock()  # started after the replacement: does not hold it
    reg.tracepoint_probe_register("sched:sched_switch", "c")
    assert reg.pending_release == 2
    reg.rcu.read_unlock(reader)
    assert reg.pending_release == 1  # (a,) released; (a, b) still seen by `late`
    assert seen == (Probe("a"),)
    reg.rcu.read_unlock(late)
    assert reg.pending_release == 0
    assert reg.rcu.released == 2


def test_module_coming_inserts_in_address_order(reg: Registry) -> None:
    for i in range(20):
        reg.module_coming(f"m{i}", [f"m{i}:ev"])
    addrs = [m.address for m in reg.tp_modules]
    assert addrs == sorted(addrs) == reg.tp_addresses
    load = [m.address for m in reg.modules.values()]
    assert load != sorted(load), "seeded slab should not hand out ascending addresses"


def test_module_errors(reg: Registry) -> None:
    reg.module_coming("m", ["m:a"])
    for args, code in [
        (("m", ["m:b"]), errno.EEXIST),
        (("n", ["n:a", "n:a"]), errno.EINVAL),
        (("n", ["n:a"], "Z"), errno.EINVAL),
    ]:
        with pytest.raises(TpfsError) as exc:
            reg.module_coming(*args)
        assert exc.value.errno == code
    assert list(reg.modules) == ["m"]
    with pytest.raises(TpfsError) as exc:
        reg.module_going("n")
    assert exc.value.errno == errno.ENOENT


def test_tainted_module_is_known_but_never_registered(reg: Registry) -> None:
    reg.tracepoint_probe_register("bad:ev", "p")
    mod = reg.module_coming("bad", ["bad:ev"], "O")
    assert not mod.registered and mod.address
    assert reg.tp_modules == [] and list(reg.instances("bad:ev")) == []
    reg.module_going("bad")
    assert "bad" not in reg.modules


def test_module_going_removes_instances_and_frees_address(reg: Registry) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "p")
    mod = reg.module_coming("m", ["sched:sched_switch", "m:x"])
    tp = mod.tp_mod.tracepoints[0]
    assert tp.state
    reg.module_going("m")
    assert not tp.state
    assert state(reg, "sched:sched_switch") == [("kernel", True, 1)]
    assert list(reg.instances("m:x")) == [] and reg.tp_modules == []
    again = reg.module_coming("m2", [])
    assert again.address == mod.address  # most recently freed first


def test_limits_refuse_with_enospc() -> None:
    reg = Registry([], limits=Limits(max_modules=2, max_probes=2, max_module_tracepoints=3))
    reg.module_coming("a", [])
    reg.module_coming("b", [])
    with pytest.raises(TpfsError) as exc:
        reg.module_coming("c", [])
    assert exc.value.errno == errno.ENOSPC
    reg.module_going("a")
    with pytest.raises(TpfsError) as exc:
        reg.module_coming("c", ["c:1", "c:2", "c:3", "c:4"])
    assert exc.value.errno == errno.ENOSPC and "c" not in reg.modules
    reg.tracepoint_probe_register("x:y", "p1")
    reg.tracepoint_probe_register("x:y", "p2")
    with pytest.raises(TpfsError) as exc:
        reg.tracepoint_probe_register("x:z", "p3")
    assert exc.value.errno == errno.ENOSPC and reg.get_tracepoint("x:z") is None
    reg.tracepoint_probe_unregister("x:y", None)
    reg.tracepoint_probe_register("x:z", "p3")


def test_update_touches_only_instances_of_that_name(reg: Registry) -> None:
    for i in range(50):
        reg.module_coming(f"m{i}", [f"m{i}:ev{j}" for j in range(20)])
    touched: list[str] = []
    original = reg._update_probe_range

    def spy(tps):
        tps = list(tps)
        touched.extend(tp.name for tp in tps)
        original(tps)

    reg._update_probe_range = spy  # type: ignore[method-assign]
    reg.tracepoint_probe_register("m7:ev3", "p")
    assert touched == ["m7:ev3"]
    touched.clear()
    reg.update_all_instances()
    assert len(touched) == len(CORE) + 50 * 20


def test_a_long_noupdate_batch_keeps_only_published_arrays() -> None:
    """Arrays no instance ever called need no grace period: memory stays linear."""
    reg = Registry(CORE, seed=1)
    reg.tracepoint_probe_register("sched:sched_switch", "first")
    published = reg.instances("sched:sched_switch")[0].funcs
    for i in range(2000):
        reg.tracepoint_probe_register_noupdate("sched:sched_switch", "p", i)
    assert reg.old_probes == [published]  # the one array an instance may be calling
    assert reg.instances("sched:sched_switch")[0].funcs is published  # readers see no change
    reg.tracepoint_probe_update_all()
    assert reg.instances("sched:sched_switch")[0].nprobes == 2001
    assert reg.old_probes == [] and reg.pending_release == 0
    reg.tracepoint_probe_register_noupdate("later:ev", "p")  # no instance at all
    reg.tracepoint_probe_register_noupdate("later:ev", "q")
    assert reg.old_probes == []


def test_total_module_tracepoints_are_capped() -> None:
    reg = Registry([], limits=Limits(max_instances=5))
    reg.module_coming("a", ["a:1", "a:2"], "O")  # tainted modules count: they use memory
    with pytest.raises(TpfsError) as exc:
        reg.load_modules([ModuleSpec("b", ("b:1", "b:2")), ModuleSpec("c", ("c:1", "c:2"))])
    assert exc.value.errno == errno.ENOSPC and list(reg.modules) == ["a"]
    reg.module_coming("b", ["b:1", "b:2", "b:3"])
    reg.module_going("a")
    reg.module_coming("c", ["c:1", "c:2"])
    assert sorted(reg.modules) == ["b", "c"]


def test_a_batch_update_releases_its_arrays_only_after_a_grace_period(reg: Registry) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "a")
    reader = reg.rcu.read_lock()  # a CPU inside the tracepoint, calling (a,)
    reg.tracepoint_probe_register_noupdate("sched:sched_switch", "b")
    reg.tracepoint_probe_update_all()
    assert reg.old_probes == [] and reg.rcu.pending == 1  # (a,) waits for the reader
    released = reg.rcu.released
    reg.rcu.read_unlock(reader)
    assert reg.rcu.pending == 0 and reg.rcu.released == released + 1


def test_unregistering_everything_gives_the_probe_budget_back() -> None:
    reg = Registry([], limits=Limits(max_probes=3))
    for func in ("a", "b", "c"):
        reg.tracepoint_probe_register("x:y", func)
    assert reg.probe_count() == 3
    reg.tracepoint_probe_unregister("x:y", None)
    assert reg.probe_count() == 0
    for func in ("a", "b", "c"):
        reg.tracepoint_probe_register("x:z", func)
    assert reg.probe_count() == 3


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_the_probe_limit_holds_at_its_exact_boundary(limit: int) -> None:
    reg = Registry([], limits=Limits(max_probes=limit))
    reg.change_probes([ProbeChange("x:y", Probe("p", i), True) for i in range(limit)])
    assert reg.probe_count() == limit
    with pytest.raises(TpfsError) as exc:
        reg.tracepoint_probe_register("x:y", "p", limit)
    assert exc.value.errno == errno.ENOSPC and reg.probe_count() == limit
    reg.tracepoint_probe_unregister("x:y", "p", 0)
    reg.tracepoint_probe_register("x:y", "p", limit)  # one freed, one fits again


def test_firing_calls_each_enabled_instance_and_counts_hits(reg: Registry) -> None:
    reg.module_coming("m1", ["sched:sched_switch"])
    reg.tracepoint_probe_register("sched:sched_switch", "a")
    reg.tracepoint_probe_register("sched:sched_switch", "b", 7)
    calls: list[tuple[str, Probe]] = []
    assert reg.fire("sched:sched_switch", lambda tp, p: calls.append((tp.owner, p))) == 4
    assert calls == [("kernel", Probe("a")), ("kernel", Probe("b", 7)),
                     ("m1", Probe("a")), ("m1", Probe("b", 7))]
    entry = reg.get_tracepoint("sched:sched_switch")
    assert entry.hits == {Probe("a"): 2, Probe("b", 7): 2}
    assert reg.fire("sched:sched_wakeup", lambda tp, p: calls.append((tp.owner, p))) == 0
    reg.tracepoint_probe_unregister("sched:sched_switch", "a")
    assert entry.hits == {Probe("b", 7): 2}  # a removed probe's count goes with it


def test_an_array_replaced_during_a_firing_lives_until_the_firing_ends(reg: Registry) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "a")
    reg.tracepoint_probe_register("sched:sched_switch", "b")
    seen: list[int] = []

    def call(tp, probe: Probe) -> None:
        if probe.func == "a":  # like a trigger: removes a probe mid-firing
            reg.tracepoint_probe_unregister("sched:sched_switch", "b")
            seen.append(reg.pending_release)

    assert reg.fire("sched:sched_switch", call) == 2  # the loaded array still calls b
    assert seen == [1]  # (a, b) was held by the firing
    assert reg.pending_release == 0  # and released once it ended
    assert reg.get_tracepoint("sched:sched_switch").hits == {Probe("a"): 1}
