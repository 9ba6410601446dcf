"""The taint rule: which loaded modules get their tracepoints registered.

Linux 3.2's ``tracepoint_module_coming`` skips a module with any taint at
all. This is the one place that rule lives; the registry and the checker
both ask it.
"""

from __future__ import annotations

#: Every taint letter the kernel knows.
TAINT_LETTERS = "PFSRMBUDAWCIOELKXT"


def unknown_letters(taints: str) -> str:
    """The letters of ``taints`` the kernel does not know, sorted; empty if none."""
    return "".join(sorted(set(taints) - set(TAINT_LETTERS)))


def tracepoints_allowed(taints: str) -> bool:
    """Whether a module with ``taints`` registers its tracepoints (3.2: only untainted)."""
    return not taints
