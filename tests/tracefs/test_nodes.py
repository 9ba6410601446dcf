"""The tree without a mount: readdir resumption by key while entries come and go."""

from __future__ import annotations

import random

from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import Catalog
from tpfs.tracefs.tree import Tree
from tpfs.tracefs.vfs.nodes import Directory


def paged_listing(directory: Directory, reg: Registry, rng: random.Random,
                  by_position: bool) -> list[str]:
    """List two entries per call, changing modules between calls.

    ``by_position`` resumes the way a list index as cookie would (the broken
    design); otherwise the last entry's key is the cookie, as readdir does.
    """
    out: list[str] = []
    cookie = None
    while True:
        if by_position:
            page = directory.entries()[cookie or 0:][:2]
            cookie = (cookie or 0) + len(page)
        else:
            page = directory.entries_after(cookie)[:2]
            cookie = page[-1][0] if page else cookie
        if not page:
            return out
        out.extend(name for _, name in page)
        churn = [n for n in reg.modules if n.startswith("churn")]
        if churn and rng.random() < 0.5:
            reg.module_going(rng.choice(churn))
        else:
            reg.module_coming(f"churn{rng.random():.12f}".replace(".", ""), [])


def run(by_position: bool, seed: int) -> list[str]:
    """Violations: stable modules lost or repeated in one listing."""
    rng = random.Random(seed)
    reg = Registry([], seed=seed)
    for i in range(20):
        reg.module_coming(f"stable{i}", [])
    modules = Tree(reg, Catalog(())).root.lookup("modules")
    assert isinstance(modules, Directory)
    names = paged_listing(modules, reg, rng, by_position)
    stable = {f"stable{i}" for i in range(20)} | {"load", "unload"}
    return [f"{n} x{names.count(n)}" for n in sorted(stable) if names.count(n) != 1]


def test_key_cookies_keep_every_stable_entry_once() -> None:
    assert all(run(False, seed) == [] for seed in range(30))


def test_position_cookies_lose_or_repeat_entries() -> None:
    assert sum(1 for seed in range(30) if run(True, seed)) >= 25
