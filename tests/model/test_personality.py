"""One test per row of docs/kernel-versions.md's "Kernel versions" table, and the refusals."""

from __future__ import annotations

import pytest

from tpfs.kernel.iterator import LegacyWalk, make_walk
from tpfs.kernel.personality import DEFAULT, KERNELS, Personality, UnknownKernel, personality
from tpfs.kernel.registry import Registry

from registries import CORE, expected

#: A letter for every taint that no row lets register (forced load, proprietary,
#: unsigned, ...); the two that 3.2.2 and 3.3 let in are O and C.
NEVER = "PFSRMBUDAWIELKXT"


def registry(version: str, n: int = 10) -> Registry:
    reg = Registry(CORE, seed=3, personality=personality(version))
    for i in range(n):
        reg.module_coming(f"m{i}", [f"m{i}:e{j}" for j in range(3)])
    return reg


def registered(version: str, taints: str) -> bool:
    reg = Registry(CORE, personality=personality(version))
    return reg.module_coming("mod", ["mod:ev"], taints).registered


def one_read(reg: Registry) -> list[str]:
    return [tp.name for tp in make_walk(reg).walk()]


def test_the_table_is_in_version_order_and_the_seed_is_the_default() -> None:
    assert [(p.first, p.last) for p in KERNELS] == [
        ("3.1", "3.1"), ("3.2.0", "3.2.1"), ("3.2.2", "3.14")]
    assert DEFAULT is personality("3.2") is personality("3.2.0")
    assert all(isinstance(p, Personality) for p in KERNELS)


def test_3_1_walks_the_module_loaders_list_and_skips_modules() -> None:
    reg = registry("3.1")
    assert isinstance(make_walk(reg), LegacyWalk)
    listed = one_read(reg)
    assert set(listed) < set(expected(reg))  # one full read, nothing changing, loses modules


@pytest.mark.parametrize("version", ["3.1", "3.1.10"])
def test_3_1_skips_any_tainted_module(version: str) -> None:
    assert personality(version) is personality("3.1")
    assert registered(version, "")
    assert not any(registered(version, letter) for letter in "OC" + NEVER)


def test_3_2_walks_the_sorted_list_and_lists_every_module() -> None:
    reg = registry("3.2")
    assert not isinstance(make_walk(reg), LegacyWalk)
    assert one_read(reg) == expected(reg)


@pytest.mark.parametrize("version", ["3.2", "3.2.1"])
def test_3_2_0_and_3_2_1_skip_any_tainted_module(version: str) -> None:
    assert personality(version) is DEFAULT
    assert registered(version, "")
    assert not registered(version, "O")
    assert not registered(version, "C")
    assert not any(registered(version, letter) for letter in NEVER)


@pytest.mark.parametrize("version", ["3.2.2", "3.2.102", "3.3", "3.7", "3.14", "3.14.79"])
def test_3_2_2_to_3_14_register_out_of_tree_and_staging_modules(version: str) -> None:
    assert personality(version) is personality("3.2.2") is not DEFAULT
    assert registered(version, "O") and registered(version, "C") and registered(version, "OC")
    assert not any(registered(version, letter) for letter in NEVER)
    assert not registered(version, "OF")  # one bad taint is enough
    reg = registry(version)
    assert one_read(reg) == expected(reg)


def test_a_module_skipped_for_its_taint_is_known_but_not_listed() -> None:
    reg = Registry(CORE, personality=personality("3.2"))
    reg.module_coming("staging", ["st:ev"], "C")
    assert "staging" in reg.modules and not reg.tp_modules
    reg = Registry(CORE, personality=personality("3.2.2"))
    reg.module_coming("staging", ["st:ev"], "C")
    assert one_read(reg) == [*CORE, "st:ev"]


@pytest.mark.parametrize("version", ["3.0", "3.0.101", "2.6", "3.15", "3.15.0", "4.19", "9.9",
                                     "3", "3.x", "3.2.1.1", "3.2.", ".3.2"])
def test_versions_the_table_lacks_are_refused(version: str) -> None:
    with pytest.raises(UnknownKernel,
                       match=r"3\.1, 3\.2\.0-3\.2\.1, 3\.2\.2-3\.14|MAJOR\.MINOR\[\.PATCH\]"):
        personality(version)


def test_3_15_is_refused_because_probes_register_by_pointer_there() -> None:
    with pytest.raises(UnknownKernel, match="struct tracepoint pointer"):
        personality("3.15")
