"""Small registries for the unmounted tiers: a three-event core and N modules."""

from __future__ import annotations

from tpfs.kernel.registry import Registry

CORE = ["a:one", "a:two", "b:three"]


def loaded(n: int, per: int = 3, seed: int = 3) -> Registry:
    """The core plus ``n`` modules of ``per`` tracepoints each."""
    reg = Registry(CORE, seed=seed)
    for i in range(n):
        reg.module_coming(f"m{i}", [f"m{i}:e{j}" for j in range(per)])
    return reg


def expected(reg: Registry) -> list[str]:
    """Every instance's name in iterator order: the core, then modules by address."""
    out = list(CORE)
    for mod in sorted(reg.tp_modules, key=lambda m: m.address):
        out.extend(tp.name for tp in mod.tracepoints)
    return out
