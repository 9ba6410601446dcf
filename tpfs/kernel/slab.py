"""An emulated kmalloc slab that hands out the addresses of ``tp_module`` copies.

Freed objects are reused most-recently-freed first, as SLUB's per-cpu freelist
does; fresh objects come from new pages whose objects are handed out in a
seeded random order, as with CONFIG_SLAB_FREELIST_RANDOM. Address order is
therefore unrelated to allocation order, which is what makes the module list
ordering matter.
"""

from __future__ import annotations

import random

DIRECT_MAP_BASE = 0xFFFF888000000000
PAGE_SIZE = 4096
PAGE_FRAMES = 1 << 22  # 16 GiB of direct map to draw pages from


class Slab:
    """Addresses of fixed-size objects; ``alloc``/``free`` like kmalloc/kfree."""

    __slots__ = ("object_size", "_rng", "_free", "_fresh", "_frames")

    def __init__(self, seed: int = 0, object_size: int = 64) -> None:
        if PAGE_SIZE % object_size:
            raise ValueError("object size must divide the page size")
        self.object_size = object_size
        self._rng = random.Random(seed)
        self._free: list[int] = []
        self._fresh: list[int] = []
        self._frames: set[int] = set()

    def alloc(self) -> int:
        if self._free:
            return self._free.pop()
        if not self._fresh:
            self._new_page()
        return self._fresh.pop()

    def free(self, address: int) -> None:
        self._free.append(address)

    def _new_page(self) -> None:
        while True:
            frame = self._rng.randrange(PAGE_FRAMES)
            if frame not in self._frames:
                break
        self._frames.add(frame)
        base = DIRECT_MAP_BASE + frame * PAGE_SIZE
        objects = [base + i for i in range(0, PAGE_SIZE, self.object_size)]
        self._rng.shuffle(objects)
        self._fresh = objects
