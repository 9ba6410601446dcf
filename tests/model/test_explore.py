"""The explorer: the legacy walk's minimal counterexample, and none for the fixed walk."""

from __future__ import annotations

import pytest

from tpfs.kernel.personality import KERNELS, personality
from tpfs.tools.explore import Bounds, Step, explore, parse, render

#: Small enough to run in a few seconds; docs/kernel-versions.md states larger proved bounds.
SMALL = Bounds(modules=2, reads=2, depth=2, size=6)


def test_3_1_counterexample_is_two_loads_and_one_read() -> None:
    result = explore(personality("3.1"), SMALL)
    assert result.shortest is not None
    assert result.shortest.steps == [Step("load", "m0"), Step("load", "m1"), Step("rest")]
    assert result.violations == ["missing: 'm0:e'"]


@pytest.mark.parametrize("kernel", KERNELS[1:], ids=lambda k: k.name)
def test_fixed_walk_has_no_violation_in_any_interleaving(kernel) -> None:
    result = explore(kernel, SMALL)
    assert result.shortest is None
    assert result.interleavings == 869  # every interleaving was walked, at every version


def test_printed_counterexample_parses_back_to_its_steps() -> None:
    result = explore(personality("3.1"), SMALL)
    assert result.shortest is not None
    text = render(result.shortest, personality("3.1"), result.violations)
    assert "--kernel 3.1 --seed " in text
    assert parse(text) == (result.shortest.core, result.shortest.steps)
