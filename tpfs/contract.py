"""The read contract of a listing, as a checker over what one full read returned.

For one open file read from offset 0 to EOF while modules come and go:
every record present for the whole read appears exactly once and in
iterator order, nothing appears that was never present, and no record is
torn or repeated at a read boundary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence


def split_records(data: bytes) -> tuple[list[str], list[str]]:
    """The complete lines of ``data``, and a violation if its end is torn."""
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    tail = lines.pop()
    return lines, ([f"torn last record: {tail!r}"] if tail else [])


def check_listing(records: Sequence[str], stable: Sequence[str],
                  ever: Collection[str]) -> list[str]:
    """Violations of the contract; ``stable`` is in iterator order."""
    violations: list[str] = []
    counts = Counter(records)
    for rec, n in counts.items():
        if rec not in ever:
            violations.append(f"never present: {rec!r}")
        elif n > 1:
            violations.append(f"repeated {n} times: {rec!r}")
    violations.extend(f"missing: {rec!r}" for rec in stable if rec not in counts)
    wanted = set(stable)
    seen: list[str] = []
    for rec in records:
        if rec in wanted and (not seen or seen[-1] != rec):
            seen.append(rec)
    expected = [rec for rec in stable if rec in counts]
    if len(seen) == len(expected) and seen != expected:
        violations.append("stable records out of iterator order")
    return violations
