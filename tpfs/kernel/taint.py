"""Taint letters: the ones the kernel knows, for checking ``modules/load`` lines.

Which taints still let a module's tracepoints register depends on the
kernel version: that rule is in ``personality``.
"""

from __future__ import annotations

#: Every taint letter the kernel knows.
TAINT_LETTERS = "PFSRMBUDAWCIOELKXT"


def unknown_letters(taints: str) -> str:
    """The letters of ``taints`` the kernel does not know, sorted; empty if none."""
    return "".join(sorted(set(taints) - set(TAINT_LETTERS)))

