"""Filters run as the program ``predicate_parse`` builds, checked against Python's own
logic, and filters nested far deeper than Python's stack allows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.events.filter import check_filter, compile_filter, filter_fields, task_comm
from tpfs.tracefs.trace.record import layout

SWITCH = (f"name: test\nID: 999\nformat:\n{COMMON_FIELDS}\n"
          "\tfield:pid_t prev_pid;\toffset:8;\tsize:4;\tsigned:1;\n"
          "\tfield:pid_t next_pid;\toffset:12;\tsize:4;\tsigned:1;\n\nprint fmt: \"\"\n")
COMM = task_comm("test")

RECORD = layout(SWITCH).encode({"prev_pid": 5, "next_pid": 7}, pid=5)
TRUE, FALSE = "prev_pid == 5", "next_pid == 8"


def verdict(expr: str) -> bool:
    assert check_filter(expr, filter_fields(SWITCH), 8) is None, expr
    return compile_filter(expr, SWITCH, 8)(RECORD, 0, COMM)


# An expression as (filter text, the same in Python): "!" is "not", "&&" "and",
# "||" "or", with the same precedence in both (not over and over or).
leaves = st.sampled_from([(TRUE, "True"), (FALSE, "False")])


def extend(children: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    neg = children.map(lambda c: (f"!({c[0]})", f"(not ({c[1]}))"))
    bang = children.map(lambda c: (f"!{c[0]}", f"not {c[1]}") if c[0] in (TRUE, FALSE)
                        else (f"!({c[0]})", f"not ({c[1]})"))
    paren = children.map(lambda c: (f"({c[0]})", f"({c[1]})"))
    flat = st.lists(st.tuples(st.sampled_from(["&&", "||"]), children), min_size=1, max_size=4)

    def join(first: tuple[str, str], rest: list[tuple[str, tuple[str, str]]]) -> tuple[str, str]:
        text, py = first
        for op, (t, p) in rest:
            text += f" {op} {t}"
            py += f" {'and' if op == '&&' else 'or'} {p}"
        return text, py

    return neg | bang | paren | st.builds(join, children, flat)


expressions = st.recursive(leaves, extend, max_leaves=12)


@given(expressions)
def test_the_program_gives_what_the_logic_says(expr: tuple[str, str]) -> None:
    text, python = expr
    assert verdict(text) is eval(python)  # noqa: S307 - our own generated text


@pytest.mark.parametrize(("expr", "expected"), [
    ("a || b && c", True), ("a && !(!b || (c && g)) || d || e && !f", False),
    ("!(a && b) && c", True), ("(a || b) && !(c || d)", False),
])
def test_the_kernels_worked_examples(expr: str, expected: bool) -> None:
    truth = {"a": TRUE, "b": FALSE, "c": TRUE, "d": FALSE, "e": FALSE, "f": TRUE, "g": TRUE}
    assert verdict("".join(truth.get(ch, ch) for ch in expr)) is expected


@pytest.mark.parametrize("depth", [400, 1500])
def test_deep_parentheses_evaluate_without_recursion(depth: int) -> None:
    assert verdict("(" * depth + TRUE + ")" * depth) is True
    assert verdict("(" * depth + FALSE + " || " + TRUE + ")" * depth) is True
    assert verdict("!(" * depth + TRUE + ")" * depth) is (depth % 2 == 0)


@pytest.mark.parametrize("count", [2000, 2001])
def test_many_nots_evaluate_without_recursion(count: int) -> None:
    assert verdict("!" * count + TRUE) is (count % 2 == 0)


def test_a_long_chain_evaluates_in_a_loop() -> None:
    chain = " && ".join([TRUE] * 300)
    assert verdict(chain) is True
    assert verdict(chain + " && " + FALSE) is False
    assert verdict(" || ".join([FALSE] * 300 + [TRUE])) is True
