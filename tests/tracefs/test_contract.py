"""The read-contract checker against crafted listings: each kind of violation
is reported, and a listing that keeps the contract is not."""

from __future__ import annotations

from collections import Counter

import pytest

from tpfs.tools.contract import check_listing, split_records

STABLE = ["k:a", "k:b", "m:x", "m:y"]
EVER = Counter({"k:a": 1, "k:b": 1, "m:x": 1, "m:y": 1, "gone:z": 1})


def test_a_listing_that_keeps_the_contract_passes() -> None:
    assert check_listing(STABLE, STABLE, EVER) == []
    assert check_listing(["k:a", "gone:z", "k:b", "m:x", "m:y"], STABLE, EVER) == []


@pytest.mark.parametrize("records, kind", [
    (["k:a", "k:b", "m:x"], "missing: 'm:y'"),
    (["k:a", "k:b", "m:x", "m:x", "m:y"], "repeated 2 times: 'm:x'"),
    (["k:a", "k:b", "m:x", "m:y", "never:seen"], "never present: 'never:seen'"),
    (["k:b", "k:a", "m:x", "m:y"], "stable records out of iterator order"),
    (["k:a", "k:b", "m:", "m:y"], "never present: 'm:'"),
])
def test_each_kind_of_violation_is_reported(records: list[str], kind: str) -> None:
    assert kind in check_listing(records, STABLE, EVER)


def test_a_name_with_two_instances_may_appear_twice_but_not_thrice() -> None:
    ever = Counter({"s:e": 2})
    assert check_listing(["s:e", "s:e"], ["s:e", "s:e"], ever) == []
    assert check_listing(["s:e"], ["s:e", "s:e"], ever) == ["missing: 's:e'"]
    assert "repeated 3 times: 's:e'" in check_listing(["s:e"] * 3, ["s:e", "s:e"], ever)


def test_a_torn_last_record_is_a_violation() -> None:
    assert split_records(b"k:a\nk:b\n") == (["k:a", "k:b"], [])
    lines, torn = split_records(b"k:a\nk:")
    assert lines == ["k:a"] and torn == ["torn last record: 'k:'"]
