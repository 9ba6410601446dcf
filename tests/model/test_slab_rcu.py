"""Unit tests of the emulated slab allocator and the grace-period model."""

from __future__ import annotations

from tpfs.kernel.rcu import GracePeriod
from tpfs.kernel.slab import DIRECT_MAP_BASE, Slab


def test_slab_is_seeded_random_and_reuses_lifo() -> None:
    a, b = Slab(7), Slab(7)
    first = [a.alloc() for _ in range(100)]
    assert first == [b.alloc() for _ in range(100)]
    assert len(set(first)) == 100 and all(x >= DIRECT_MAP_BASE for x in first)
    assert first != sorted(first)
    assert all(x % 64 == 0 for x in first)
    a.free(first[3])
    a.free(first[9])
    assert a.alloc() == first[9]
    assert a.alloc() == first[3]
    assert a.alloc() not in first
    assert Slab(8).alloc() != Slab(7).alloc()


def test_grace_period_without_readers_is_immediate() -> None:
    gp = GracePeriod()
    gp.call_rcu("x")
    assert gp.pending == 0 and gp.released == 1


def test_grace_period_waits_for_earlier_readers_only() -> None:
    gp = GracePeriod()
    r1 = gp.read_lock()
    gp.call_rcu("a")
    r2 = gp.read_lock()
    gp.call_rcu("b")
    assert gp.pending == 2
    gp.read_unlock(r2)
    assert gp.pending == 2  # r1 still holds both
    gp.read_unlock(r1)
    assert gp.pending == 0 and gp.released == 2
