"""Kernel personalities: the one table of what each version of tracepoint.c does.

tpfs models ``kernel/tracepoint.c`` from v3.1 to v3.14. Two of the rules it
models changed inside that range: which list the tracepoint iterator walks
(v3.2 gave tracepoint.c its own list sorted by address) and which module
taints still let a module's tracepoints register (c10076c43043, in v3.3 and
backported to the 3.2 stable series at 3.2.2, let out-of-tree and staging
modules in). Each row of ``KERNELS`` is the first version of a behaviour and
the last version it lasted to; a version is ``MAJOR.MINOR`` or, where a
stable release changed a rule, ``MAJOR.MINOR.PATCH``. Everything else in tpfs
takes a ``Personality`` and asks it, never the version number. The "Kernel
versions" table of docs/kernel-versions.md is this one, with the commits.

The rules that stayed the same over the whole range are not fields: probes
register by name, before any module defines it, in one hash table;
``_noupdate`` batches exist; unregistering a pair that is not there is
refused (tpfs's documented difference). v3.15 replaced registration by name
with ``struct tracepoint`` pointers, dropped ``_noupdate``, the hash table and
the iterator, so the model stops applying there and ``personality`` refuses it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from enum import Enum


class Walk(Enum):
    """Which module list ``tracepoint_get_iter`` walks."""

    #: The module loader's list, newest first, compared by address as if sorted.
    MODULE_LOADER = "module loader's list"
    #: tracepoint.c's own ``tracepoint_module_list``, sorted by address.
    SORTED = "tracepoint_module_list sorted by address"


@dataclass(frozen=True, slots=True)
class Personality:
    """One row of the table: the rules of ``first`` to ``last``."""

    first: str
    last: str
    walk: Walk
    #: Taint letters a module may carry and still have its tracepoints registered.
    registering_taints: frozenset[str]

    def registers(self, taints: str) -> bool:
        """``tracepoint_module_coming``: whether a module with ``taints`` registers."""
        return set(taints) <= self.registering_taints

    @property
    def name(self) -> str:
        return self.first if self.first == self.last else f"{self.first}-{self.last}"


KERNELS: tuple[Personality, ...] = (
    Personality("3.1", "3.1", Walk.MODULE_LOADER, frozenset()),
    Personality("3.2.0", "3.2.1", Walk.SORTED, frozenset()),
    Personality("3.2.2", "3.14", Walk.SORTED, frozenset("OC")),
)

#: The seed: what tpfs modelled before there were personalities.
DEFAULT = KERNELS[1]


class UnknownKernel(ValueError):
    """A version the table has no row for."""


#: A version's patch level when a bound names none: ``3.14`` ends after every 3.14.y.
_EVERY_PATCH = 1 << 32


def _version(text: str, patch: int = 0) -> tuple[int, int, int]:
    """``MAJOR.MINOR[.PATCH]``; ``patch`` stands in for a missing patch level."""
    parts = text.split(".")
    if not (2 <= len(parts) <= 3 and all(p.isdigit() for p in parts)):
        raise UnknownKernel(f"kernel version {text!r} is not MAJOR.MINOR[.PATCH]")
    return int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else patch


def known() -> str:
    """The versions tpfs knows, for messages: ``3.1, 3.2.0-3.2.1, 3.2.2-3.14``."""
    return ", ".join(p.name for p in KERNELS)


def personality(version: str) -> Personality:
    """The row that covers ``version`` (``3.7`` is the ``3.2.2-3.14`` row, ``3.2`` is
    3.2.0), or refuse it."""
    wanted = _version(version)
    for row in KERNELS:
        if _version(row.first) <= wanted <= _version(row.last, _EVERY_PATCH):
            return row
    beyond = ("; from 3.15 probes register by struct tracepoint pointer, not by name"
              if wanted >= (3, 15, 0) else "")
    raise UnknownKernel(f"tpfs models kernel {known()}, not {version}{beyond}")


def kernel_argument(value: str) -> Personality:
    """``--kernel VERSION`` as an argparse type: the row, or a usage error naming the rows."""
    try:
        return personality(value)
    except UnknownKernel as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
