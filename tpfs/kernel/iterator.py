"""The tracepoint iterator: ``tracepoint_iter_start/next/stop/reset``.

A ``TracepointIter`` names a module by address and a tracepoint by position,
never by index into the module list, so it stays meaningful after modules
come and go. ``SortedWalk`` is the patched ``tracepoint_get_iter`` over the
address-sorted module list (it bisects to the cursor's module instead of
walking up to it: same result, independent of the list's length).
``LegacyWalk`` is the pre-patch walk over the module loader's list, newest
first, compared by address as if it were sorted: it silently skips every
module whose address is below one it already visited.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

from .personality import Walk
from .registry import Registry, TpModule, Tracepoint


@dataclass(slots=True)
class TracepointIter:
    """``struct tracepoint_iter``: ``module`` None is the core (NULL)."""

    module: int | None = None
    tracepoint: int | None = None

    def reset(self) -> None:
        self.module = None
        self.tracepoint = None


def _get_iter_range(it: TracepointIter, rng: TpModule) -> bool:
    """``tracepoint_get_iter_range``: start the range, or check the cursor is in it."""
    if it.tracepoint is None:
        if rng.tracepoints:
            it.tracepoint = 0
            return True
        return False
    return it.tracepoint < len(rng.tracepoints)


class SortedWalk:
    """``tracepoint_get_iter`` over ``tracepoint_module_list`` sorted by address."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _modules_from(self, address: int) -> Iterator[TpModule]:
        """Modules in list order that the walk may stop at, from ``address`` up."""
        mods = self.registry.tp_modules
        for i in range(bisect.bisect_left(self.registry.tp_addresses, address), len(mods)):
            yield mods[i]

    def get_iter(self, it: TracepointIter) -> TpModule | None:
        """Settle ``it`` on a valid tracepoint; return its range, or reset it (end)."""
        if it.module is None and _get_iter_range(it, self.registry.core):
            return self.registry.core
        current = it.module or 0
        for mod in self._modules_from(current):
            if mod.address < current:
                continue
            if mod.address > current:
                it.tracepoint = None
            if _get_iter_range(it, mod):
                it.module = mod.address
                return mod
        it.reset()
        return None

    def ranges_after(self, rng: TpModule) -> Iterator[TpModule]:
        """The non-empty ranges the walk visits after ``rng``, while nothing changes.

        Equivalent to ``get_iter`` from a cursor past the end of ``rng``, again and
        again, but one bisect in all: a listing read may cross many modules.
        """
        reg = self.registry
        mods = reg.tp_modules
        after = 0 if rng is reg.core else bisect.bisect_right(reg.tp_addresses, rng.address)
        for i in range(after, len(mods)):
            if mods[i].tracepoints:
                yield mods[i]

    def place(self, it: TracepointIter, rng: TpModule, position: int) -> None:
        """Point ``it`` at ``position`` in ``rng`` (which may be just past its end)."""
        it.module = None if rng is self.registry.core else rng.address
        it.tracepoint = position

    def start(self, it: TracepointIter) -> Tracepoint | None:
        return self._current(it, self.get_iter(it))

    def next(self, it: TracepointIter) -> Tracepoint | None:
        assert it.tracepoint is not None
        it.tracepoint += 1
        return self._current(it, self.get_iter(it))

    @staticmethod
    def stop(it: TracepointIter) -> None:
        """Nothing is held between calls; kept for the kernel's start/next/stop shape."""

    @staticmethod
    def reset(it: TracepointIter) -> None:
        it.reset()

    @staticmethod
    def _current(it: TracepointIter, rng: TpModule | None) -> Tracepoint | None:
        if rng is None or it.tracepoint is None:
            return None
        return rng.tracepoints[it.tracepoint]

    def walk(self) -> Iterator[Tracepoint]:
        """Every instance in iterator order, in one go."""
        it = TracepointIter()
        tp = self.start(it)
        while tp is not None:
            yield tp
            tp = self.next(it)


class LegacyWalk(SortedWalk):
    """The walk before the patch: load order, newest first, compared as if sorted."""

    def _modules_from(self, address: int) -> Iterator[TpModule]:
        for module in reversed(self.registry.modules.values()):
            if module.tp_mod is not None:
                yield module.tp_mod

    def ranges_after(self, rng: TpModule) -> Iterator[TpModule]:
        cursor = TracepointIter()
        while True:
            self.place(cursor, rng, len(rng.tracepoints))
            nxt = self.get_iter(cursor)
            if nxt is None:
                return
            yield nxt
            rng = nxt


def make_walk(registry: Registry) -> SortedWalk:
    """The walk of the registry's kernel version."""
    if registry.personality.walk is Walk.MODULE_LOADER:
        return LegacyWalk(registry)
    return SortedWalk(registry)
