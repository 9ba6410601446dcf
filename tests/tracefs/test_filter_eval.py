"""Filters evaluated over binary records, as ``trace_events_filter.c`` evaluates them.

Expected answers that are not obvious (the glob end match over a char array,
the char pointer that never matches, the dangling ``&&``) were read from a
Linux 6.18 tracefs, firing syscalls:sys_enter_write with the filter set.
"""

from __future__ import annotations

import ctypes
import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.events.filter import (
    check_filter,
    compile_filter,
    cpulist_parse,
    filter_fields,
    task_comm,
)
from tpfs.tracefs.trace.record import layout

_CTYPES = {(1, True): ctypes.c_int8, (1, False): ctypes.c_uint8,
           (2, True): ctypes.c_int16, (2, False): ctypes.c_uint16,
           (4, True): ctypes.c_int32, (4, False): ctypes.c_uint32,
           (8, True): ctypes.c_int64, (8, False): ctypes.c_uint64}


def event_format(*fields: tuple[str, int, int, bool]) -> str:
    """A format with the common fields and (declaration, offset, size, signed) after them."""
    own = "".join(f"\tfield:{decl};\toffset:{offset};\tsize:{size};\tsigned:{int(signed)};\n"
                  for decl, offset, size, signed in fields)
    return f"name: test\nID: 999\nformat:\n{COMMON_FIELDS}\n{own}\nprint fmt: \"\"\n"


SWITCH = event_format(("char prev_comm[16]", 8, 16, False), ("pid_t prev_pid", 24, 4, True),
                      ("long prev_state", 32, 8, True), ("char next_comm[16]", 40, 16, False),
                      ("pid_t next_pid", 56, 4, True))
STRINGS = event_format(("__data_loc char[] name", 8, 4, False),
                       ("__rel_loc char[] rel", 12, 4, False),
                       ("const char * ptr", 16, 8, False),
                       ("unsigned long ip", 24, 8, False),
                       ("__data_loc cpumask_t mask", 32, 4, False),
                       ("int arr[4]", 36, 16, True))
COMM = task_comm("abcdefg")


def passes(expr: str, fmt: str, values: dict[str, int | str | bytes], *, cpu: int = 0,
           comm: bytes = COMM, ncpus: int = 8) -> bool:
    assert check_filter(expr, filter_fields(fmt), ncpus) is None, expr
    record = layout(fmt).encode(values, pid=5)
    return compile_filter(expr, fmt, ncpus)(record, cpu, comm)


def test_task_comm_is_the_kernels_sixteen_bytes() -> None:
    assert task_comm("python3") == b"python3" + b"\0" * 9
    assert task_comm("a" * 20) == b"a" * 15 + b"\0"
    assert task_comm(None) == b"\0" * 16


@given(size=st.sampled_from([1, 2, 4, 8]), signed=st.booleans(),
       op=st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "&"]),
       raw=st.integers(0, (1 << 64) - 1), const=st.integers(-(1 << 63), (1 << 64) - 1))
def test_numbers_compare_in_the_fields_c_type(size: int, signed: bool, op: str, raw: int,
                                              const: int) -> None:
    if const < 0 and not signed or signed and const >= 1 << 63:
        const = abs(const) % (1 << 63)  # what kstrtoll/kstrtoull take for this sign
    ctype = _CTYPES[size, signed]
    field_value = ctype(raw).value
    fmt = event_format((f"{'s' if signed else 'u'}{8 * size} x", 8, size, signed))
    # C: "type val = (type)pred->val; return *addr OP val;"
    a, b = field_value, ctype(const).value
    expected = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                ">=": a >= b, "&": a & b != 0}[op]
    assert passes(f"x {op} {const}", fmt, {"x": field_value}) is expected


def test_the_constant_is_cast_to_the_field_and_odd_sizes_never_match() -> None:
    assert passes("prev_pid == 4294967297", SWITCH, {"prev_pid": 1})  # (s32)0x100000001
    assert passes("next_pid > 4294967290", SWITCH, {"next_pid": -3})  # -3 > (s32)-6
    assert passes("prev_state < 0", SWITCH, {"prev_state": -1})
    assert passes("prev_pid == 0x10", SWITCH, {"prev_pid": 16})
    assert passes("prev_pid == 010", SWITCH, {"prev_pid": 8})
    assert not passes("arr == 0", STRINGS, {})  # no compare function for 16 bytes
    assert not passes("arr != 0", STRINGS, {})


@pytest.mark.parametrize(("expr", "value", "expected"), [
    ('prev_comm == "bash"', "bash", True),
    ('prev_comm == "bas"', "bash", False),
    ('prev_comm != "bash"', "bash", False),
    ('prev_comm != "zsh"', "bash", True),
    ('prev_comm == "ba*"', "bash", False),  # == takes no wildcards
    ('prev_comm ~ "ba*"', "bash", True),
    ('prev_comm ~ "*as*"', "bash", True),
    ('prev_comm ~ "*sh"', "bash", False),  # the array's last bytes, not the string's
    ('prev_comm ~ "*h"', "a" * 14 + "h", True),
    ('prev_comm ~ "b?s[a-h]"', "bash", True),
    ('prev_comm ~ "b[!a]sh"', "bash", False),
    ('prev_comm ~ "!ba*"', "bash", False),
    ('prev_comm ~ "!zs*"', "bash", True),
    ('prev_comm ~ "*"', "", True),
    ('prev_comm ~ "**"', "x", True),
    ('prev_comm ~ "1*"', "1*", True),  # a leading digit matches the text whole
    ('prev_comm ~ "b\\ash"', "bash", True),  # an escaped letter is the letter
    ('prev_comm ~ "[ab"', "[ab", True),  # a class without "]" is a literal "["
    ('prev_comm == "abcdefghijklmnopqrs"', "abcdefghijklmnop", True),  # strncmp over 16
])
def test_char_arrays_match_as_the_kernels_regex_types(expr: str, value: str,
                                                      expected: bool) -> None:
    raw = value.encode()
    assert passes(expr, SWITCH, {"prev_comm": raw.ljust(16, b"\0")}) is expected


@pytest.mark.parametrize(("expr", "expected"), [
    ('COMM == "abcdefg"', True), ('COMM ~ "abc*"', True), ('COMM ~ "*cde*"', True),
    ('COMM ~ "a?c*"', True), ('COMM ~ "*efg"', False), ('COMM ~ "!abc*"', False),
    ('comm != "abcdefg"', False),
])
def test_comm_is_the_firing_tasks_as_the_kernel_holds_it(expr: str, expected: bool) -> None:
    assert passes(expr, SWITCH, {}) is expected


def test_an_end_match_on_comm_sees_a_fifteen_letter_name() -> None:
    assert passes('COMM ~ "*yz"', SWITCH, {}, comm=task_comm("a" * 13 + "yz"))


@pytest.mark.parametrize(("expr", "expected"), [
    ('name == "hello"', True), ('name ~ "*llo"', True), ('name ~ "hel*"', True),
    ('name ~ "*ell*"', True), ('name ~ "h*o"', True), ('name != "hello"', False),
    ('name ~ "*hello!"', False), ('rel == "world"', True), ('rel ~ "*rld"', True),
    ('rel ~ "w?rld"', True), ('rel == "hello"', False),
])
def test_dynamic_strings_match_up_to_their_length(expr: str, expected: bool) -> None:
    assert passes(expr, STRINGS, {"name": "hello", "rel": "world"}) is expected


def test_a_front_match_longer_than_the_string_fails_even_if_the_bytes_go_on() -> None:
    values: dict[str, int | str | bytes] = {"name": b"hel", "rel": b"lo\0"}  # no NUL between
    assert not passes('name ~ "hello*"', STRINGS, values)
    assert passes('name ~ "hel*"', STRINGS, values)


def test_memory_tpfs_has_not_never_matches() -> None:
    """A ``char *`` or ``.ustring`` read faults (false, even for ``!=``); no
    value is inside a kernel function."""
    assert not passes('ptr == "x"', STRINGS, {"ptr": 0x1000})
    assert not passes('ptr != "x"', STRINGS, {"ptr": 0x1000})
    assert not passes('ptr.ustring ~ "x*"', STRINGS, {"ptr": 0x1000})
    assert not passes("ip.function == schedule", STRINGS, {"ip": 0xFFFFFFFF81000000})
    assert passes("ip.function != schedule", STRINGS, {"ip": 0xFFFFFFFF81000000})


@pytest.mark.parametrize(("expr", "cpu", "expected"), [
    ("CPU == 1", 1, True), ("cpu == 1", 0, False), ("common_cpu >= 1", 2, True),
    ("CPU < 2", 3, False), ("CPU & 1", 1, False),  # "&" on the CPU is no comparison
    ("CPU == 4294967297", 1, True),  # (int)val
    ("CPU == CPUS{1}", 1, True), ("CPU & CPUS{1}", 1, True), ("CPU != CPUS{1}", 1, False),
    ("CPU & CPUS{0-1}", 1, True), ("CPU & CPUS{0-1}", 2, False),
    ("CPU == CPUS{0-1}", 1, False), ("CPU != CPUS{0-1}", 1, True),
])
def test_cpu_and_cpu_lists(expr: str, cpu: int, expected: bool) -> None:
    assert passes(expr, SWITCH, {}, cpu=cpu) is expected


@pytest.mark.parametrize(("expr", "pid", "expected"), [
    ("prev_pid == CPUS{3}", 3, True), ("prev_pid & CPUS{3}", 3, True),
    ("prev_pid != CPUS{3}", 3, False), ("prev_pid & CPUS{2-3}", 3, True),
    ("prev_pid & CPUS{2-3}", 1, False), ("prev_pid != CPUS{2-3}", 1, True),
    ("prev_pid != CPUS{2-3}", 9, False),  # not a CPU at all: false whatever the operator
    ("prev_pid == CPUS{2-3}", 3, False),
])
def test_a_number_against_a_cpu_list(expr: str, pid: int, expected: bool) -> None:
    assert passes(expr, SWITCH, {"prev_pid": pid}) is expected


@pytest.mark.parametrize(("expr", "mask", "expected"), [
    ("mask == CPUS{1}", 0b10, True), ("mask == CPUS{1}", 0b110, False),
    ("mask != CPUS{1}", 0b110, True), ("mask & CPUS{1}", 0b110, True),
    ("mask == CPUS{1-2}", 0b110, True), ("mask != CPUS{1-2}", 0b110, False),
    ("mask & CPUS{3,5}", 0b110, False), ("mask & CPUS{0-7:2/4}", 0b100000, True),
])
def test_cpumask_fields_are_sets(expr: str, mask: int, expected: bool) -> None:
    assert passes(expr, STRINGS, {"mask": mask.to_bytes(8, "little")}) is expected


def test_cpulist_parse_gives_the_mask() -> None:
    assert cpulist_parse("0-7:2/4", 8) == 0b00110011
    assert cpulist_parse("1,3", 8) == 0b1010
    assert cpulist_parse("N", 4) == 0b1000
    assert cpulist_parse("8", 8) is None


@pytest.mark.parametrize(("expr", "expected"), [
    ("prev_pid == 1 || prev_pid == 2 && next_pid == 99", True),  # && binds tighter
    ("(prev_pid == 1 || prev_pid == 2) && next_pid == 99", False),
    ("!prev_pid == 1 || next_pid == 2", True),
    ("!(prev_pid == 1 || next_pid == 3)", False),
    ("!!prev_pid == 1", True),
    ("prev_pid == 2 &&", False), ("prev_pid == 1 || !", True), ("prev_pid == 1 && !", True),
])
def test_logic_as_the_kernels_program(expr: str, expected: bool) -> None:
    assert passes(expr, SWITCH, {"prev_pid": 1, "next_pid": 2}) is expected


_leaf = st.builds(lambda k: f"prev_pid == {k}", st.integers(0, 3))
_exprs = st.recursive(_leaf, lambda sub: st.one_of(
    st.builds(lambda a, b: f"{a} && {b}", sub, sub),
    st.builds(lambda a, b: f"{a} || {b}", sub, sub),
    st.builds(lambda a: f"!({a})", sub),
    st.builds(lambda a: f"({a})", sub)), max_leaves=8)


@given(expr=_exprs, pid=st.integers(0, 3))
def test_logic_matches_c_precedence(expr: str, pid: int) -> None:
    python = expr.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    python = python.replace("prev_pid", "pid").replace(" not = ", " != ")
    assert passes(expr, SWITCH, {"prev_pid": pid}) is eval(python, {"pid": pid})  # noqa: S307


@given(pattern=st.text("ab*?", max_size=6), text=st.text("ab", max_size=6))
def test_globs_match_as_shell_patterns(pattern: str, text: str) -> None:
    """Past the front/middle/end shortcuts, ``~`` is ``glob_match``."""
    glob = "?" + pattern  # a pattern that no shortcut takes
    expected = fnmatch.fnmatchcase(text, glob)
    value = {"name": text, "rel": ""}
    assert passes(f'name ~ "{glob}"', STRINGS, value) is expected


def test_compile_refuses_what_check_refuses() -> None:
    with pytest.raises(ValueError, match="Field not found"):
        compile_filter("nope == 1", SWITCH, 8)
