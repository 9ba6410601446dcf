"""Filters and trigger conditions nested far deeper than a recursive parser allows:
the kernel's ``predicate_parse`` keeps its own stack, and takes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from compat.kernel import write

from tpfs.tools.mounting import Mount

EVENT = "events/sched/sched_switch/"
DEEP = {
    "parentheses": "(" * 400 + "prev_pid == 5" + ")" * 400,
    "nots": "!" * 2000 + "prev_pid == 5",
    "negated parentheses": "!(" * 300 + "prev_pid == 5" + ")" * 300,
}


@pytest.mark.parametrize("expr", DEEP.values(), ids=DEEP.keys())
def test_a_deep_filter_is_taken_and_reads_back(tracefs: Path, expr: str) -> None:
    write(tracefs / EVENT / "filter", expr)
    try:
        assert (tracefs / EVENT / "filter").read_text() == expr + "\n"
    finally:
        write(tracefs / EVENT / "filter", "0")


@pytest.mark.parametrize("expr", DEEP.values(), ids=DEEP.keys())
def test_a_deep_trigger_condition_is_taken(tracefs: Path, expr: str) -> None:
    write(tracefs / EVENT / "trigger", f"traceoff if {expr}")
    try:
        assert (tracefs / EVENT / "trigger").read_text() == f"traceoff:unlimited if {expr}\n"
    finally:
        write(tracefs / EVENT / "trigger", "!traceoff")


def prev_pids(mount: Mount) -> list[int]:
    return [int(line.split("prev_pid=")[1].split()[0])
            for line in mount.read("trace").splitlines()
            if not line.startswith("#") and "sched_switch:" in line]


@pytest.mark.parametrize(("expr", "kept"), [
    (DEEP["parentheses"], [5]), (DEEP["nots"], [5]), (DEEP["negated parentheses"], [5]),
    ("!(" * 301 + "prev_pid == 5" + ")" * 301, [6]),
])
def test_a_deep_filter_acts_on_fired_events(tpfs: Mount, expr: str, kept: list[int]) -> None:
    tpfs.write(EVENT + "enable", "1")
    tpfs.write(EVENT + "filter", expr)
    tpfs.write("fire", "".join(f"sched:sched_switch prev_comm=a prev_pid={pid} next_comm=b "
                               f"next_pid=2\n" for pid in (5, 6)))
    assert prev_pids(tpfs) == kept
