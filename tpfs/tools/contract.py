"""The read contract of a listing, as a checker over what one full read returned.

For one open file read from offset 0 to EOF while modules come and go:
every record present for the whole read appears exactly once and in
iterator order, nothing appears that was never present, and no record is
torn or repeated at a read boundary. A record is a line's identity (for
``available_events`` the name); where several instances share one, the
counts say how many of them were stable and how many ever existed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def split_records(data: bytes) -> tuple[list[str], list[str]]:
    """The complete lines of ``data``, and a violation if its end is torn."""
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    tail = lines.pop()
    return lines, ([f"torn last record: {tail!r}"] if tail else [])


def check_listing(records: Sequence[str], stable: Sequence[str],
                  ever: Counter[str]) -> list[str]:
    """Violations of the contract.

    ``stable`` lists the records of instances present for the whole read, in
    iterator order; ``ever`` counts, per record, the instances that existed
    at any time during the read.
    """
    violations: list[str] = []
    counts = Counter(records)
    wanted = Counter(stable)
    for rec, n in counts.items():
        if ever[rec] == 0:
            violations.append(f"never present: {rec!r}")
        elif n > ever[rec]:
            violations.append(f"repeated {n} times: {rec!r}")
    violations.extend(f"missing: {rec!r}" for rec, n in wanted.items() if counts[rec] < n)
    unique = {rec for rec, n in wanted.items() if n == 1 and ever[rec] == 1}
    seen = [rec for rec in records if rec in unique]
    expected = [rec for rec in stable if rec in unique and counts[rec] == 1]
    if len(seen) == len(expected) and seen != expected:
        violations.append("stable records out of iterator order")
    return violations
