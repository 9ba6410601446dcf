"""The ``fire`` file's native parse (``_fire.c``) against Python's, line for line:
what the native parse accepts it encodes byte for byte as ``Layout.encode`` does,
and whatever Python refuses the native parse hands back to Python."""

from __future__ import annotations

import errno
import os

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.events import COMMON_FIELDS, EventLayer
from tpfs.tracefs.events.firing import Firing
from tpfs.tracefs.events.own_probe import EventProbes
from tpfs.tracefs.fire import Firer
from tpfs.tracefs.fire_native import MAX_TABLES, FireTables, compile_layout
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import TraceArray
from tpfs.tracefs.tracepoints.control import split_lines
from tpfs.tracefs.vfs.nodes import Opener

MIXED = "test:mixed"
#: Every kind of field a format has: scalars of each size and sign, a char array, a
#: non-text array, __data_loc and __rel_loc strings, a dynamic non-text array, a tail.
MIXED_FORMAT = (
    f"name: mixed\nID: 900\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:unsigned char u8;\toffset:8;\tsize:1;\tsigned:0;\n"
    "\tfield:signed char s8;\toffset:9;\tsize:1;\tsigned:1;\n"
    "\tfield:unsigned short u16;\toffset:10;\tsize:2;\tsigned:0;\n"
    "\tfield:int s32;\toffset:12;\tsize:4;\tsigned:1;\n"
    "\tfield:unsigned long u64;\toffset:16;\tsize:8;\tsigned:0;\n"
    "\tfield:long s64;\toffset:24;\tsize:8;\tsigned:1;\n"
    "\tfield:char name[6];\toffset:32;\tsize:6;\tsigned:0;\n"
    "\tfield:unsigned long addrs[2];\toffset:40;\tsize:16;\tsigned:0;\n"
    "\tfield:__data_loc char[] path;\toffset:56;\tsize:4;\tsigned:0;\n"
    "\tfield:__rel_loc char[] rel;\toffset:60;\tsize:4;\tsigned:0;\n"
    "\tfield:__data_loc unsigned int[] nums;\toffset:64;\tsize:4;\tsigned:0;\n"
    "\tfield:char tail[];\toffset:68;\tsize:0;\tsigned:0;\n"
    '\nprint fmt: "u8=%u", REC->u8\n'
)
SWITCH = "sched:sched_switch"
SWITCH_FORMAT = (
    f"name: sched_switch\nID: 372\nformat:\n{COMMON_FIELDS}\n"
    "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    '\nprint fmt: "prev_pid=%d", REC->prev_pid\n'
)
OPENER = Opener(os.O_WRONLY, pid=100, comm_of=lambda pid: "writer", task_cpu=lambda pid: 1)
NCPUS = 4


def make_firer() -> Firer:
    registry = Registry([MIXED, SWITCH], seed=1)
    trace = TraceArray(Tracing())
    layer = EventLayer(registry, Catalog((
        CatalogEvent("test", "mixed", 900, MIXED_FORMAT),
        CatalogEvent("sched", "sched_switch", 372, SWITCH_FORMAT))), trace, ncpus=NCPUS)
    probes = EventProbes(registry, layer, {0: (layer, trace)}, lambda firing: ())
    return Firer(registry, layer, probes, lambda name: None)


@pytest.fixture(scope="module")
def firer() -> Firer:
    firer = make_firer()
    for name in (MIXED, SWITCH):  # as a first write of each leaves them
        firer.begin(f"{name}\n".encode(), OPENER)
    assert set(firer.native.tables) == {MIXED, SWITCH}
    return firer


def python_firings(firer: Firer, buf: bytes) -> list[Firing] | TpfsError:
    """What Python's own parse makes of ``buf``, line by line (the reference)."""
    try:
        return [firer.parse(words, OPENER, lambda: OPENER.comm, lambda: 1)
                for words in split_lines(buf)]
    except TpfsError as e:
        return e


def begun(firer: Firer, buf: bytes, native: bool) -> list[Firing] | tuple[int, str]:
    """What ``begin`` makes of ``buf``, with the native tables or without."""
    saved = dict(firer.native.tables)
    if not native:
        firer.native.tables.clear()
    try:
        return list(firer.begin(buf, OPENER).firings)
    except TpfsError as e:
        return e.errno, str(e)
    finally:
        firer.native.tables.update(saved)


def native_firings(firer: Firer, buf: bytes) -> list[Firing] | None:
    lines = firer.native.parse(buf, NCPUS, OPENER.pid)
    if lines is None:
        return None
    firings = firer._native_firings(lines, OPENER, lambda: OPENER.comm, lambda: 1)
    assert firings is not None
    return firings


NUMBERS = st.one_of(
    st.integers(-(1 << 64), 1 << 65).map(str),
    st.integers(0, 1 << 65).map(hex),
    st.integers(0, 1 << 64).map(lambda v: f"-{v:#X}"),
    st.sampled_from(["", "-", "0x", "0x-1", "1_0", "+1", "007", "-0", "1e3", "0X1f", " "]),
)
TEXT = st.text(alphabet="abcxyz012=@-_./\r\x7f", max_size=10)
KEYS = ["u8", "s8", "u16", "s32", "u64", "s64", "name", "addrs", "path", "rel", "nums", "tail",
        "common_pid", "common_type", "nope", "", "prev_pid", "prev_comm"]


@st.composite
def words(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 4:
        key = draw(st.sampled_from(KEYS))
        value = draw(st.one_of(NUMBERS, TEXT))
        return f"{key}={value}"
    if kind <= 7:
        key = draw(st.sampled_from(["@cpu", "@pid", "@comm", "@count"]))
        value = draw(st.one_of(st.integers(-2, 8).map(str), st.integers(0, 1 << 23).map(str),
                               st.sampled_from(["100000", "100001", "0x3fffff", "0x400000"]),
                               TEXT))
        return f"{key}={value}"
    return draw(st.sampled_from(["noequals", "=", "@cpu", "u8==1", "name=a=b"]))


#: Values near and at the edges of each field of MIXED (and SWITCH's).
BOUNDS = {"u8": (0, 255), "s8": (-128, 127), "u16": (0, 0xFFFF), "s32": (-(1 << 31), (1 << 31) - 1),
          "u64": (0, (1 << 64) - 1), "s64": (-(1 << 63), (1 << 63) - 1),
          "prev_pid": (-(1 << 31), (1 << 31) - 1)}
TEXTS = {"name": 5, "prev_comm": 15, "path": 40, "rel": 40, "tail": 40}


@st.composite
def good_words(draw: st.DrawFn) -> str:
    """Words that mostly fit: in range, short enough, each at most once a line."""
    key = draw(st.sampled_from([*BOUNDS, *TEXTS, "@cpu", "@pid", "@comm", "@count"]))
    if key in BOUNDS:
        low, high = BOUNDS[key]
        value = draw(st.one_of(st.integers(low, high), st.integers(low, high),
                               st.sampled_from([low, high, low - 1, high + 1])))
        form = draw(st.sampled_from(["{}", "{:#x}", "{:#X}"]))
        text = form.format(value) if value >= 0 or form == "{}" else "-" + form.format(-value)
        return f"{key}={text}"
    if key in TEXTS:
        return f"{key}={draw(st.text(alphabet='ab/._-=@', max_size=TEXTS[key] + 1))}"
    value = draw(st.sampled_from({"@cpu": ["0", "3", "4", "0x2"], "@pid": ["0", "4194303", "1"],
                                  "@comm": ["c", "abcdefghijklmno", "abcdefghijklmnop"],
                                  "@count": ["1", "100000", "7"]}[key]))
    return f"{key}={value}"


@st.composite
def writes(draw: st.DrawFn) -> bytes:
    lines = []
    clean = draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        if clean:
            name = draw(st.sampled_from([MIXED, MIXED, SWITCH]))
            chosen = draw(st.lists(good_words(), max_size=6))
            keys = [w.partition("=")[0] for w in chosen]
            chosen = [w for i, w in enumerate(chosen) if keys[i] not in keys[:i]]
        else:
            name = draw(st.sampled_from([MIXED, MIXED, SWITCH, "test:none", "bad", f"{MIXED}=x"]))
            chosen = draw(st.lists(words(), max_size=6))
        line = [name, *chosen]
        sep = draw(st.sampled_from([" ", "\t", "  ", " \t"]))
        lines.append(sep.join(line))
    blank = draw(st.sampled_from(["", "\n", " \n"]))
    text = blank + "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))
    raw = text.encode()
    return raw + draw(st.sampled_from([b"", b"", b"\0", b"\xc3\xa9"]))


@settings(max_examples=1500, deadline=None)
@given(buf=writes())
def test_the_native_parse_agrees_with_python_or_defers(firer: Firer, buf: bytes) -> None:
    expected = python_firings(firer, buf)
    got = native_firings(firer, buf)
    event("deferred" if got is None else "native")
    if got is None:  # deferred: Python parses the write, as expected says
        return
    assert not isinstance(expected, TpfsError), (buf, expected)
    assert got == expected
    # And the whole write through begin(): the same firings, or the same error.
    assert begun(firer, buf, native=True) == begun(firer, buf, native=False)


@pytest.mark.parametrize("line", [
    f"{MIXED} u8=255 s8=-128 u16=0xFFFF s32=-2147483648 u64=0xffffffffffffffff "
    "s64=-9223372036854775808 name=abcde path=/a/b rel=r tail=zz @cpu=3 @pid=7 @comm=c",
    f"{MIXED} s8=127 s32=2147483647 s64=9223372036854775807 u64=18446744073709551615",
    f"{MIXED} path= rel= tail= name=",
    f"{MIXED} u8=-0 s8=-0x7F @count=100000",
    f"{MIXED}\n{SWITCH} prev_comm=abcdefghijklmno prev_pid=-1 @pid=0\n{MIXED} @comm=w",
    f"{SWITCH}\t prev_pid=1\t@cpu=0 ",
])
def test_valid_lines_take_the_native_path(firer: Firer, line: str) -> None:
    buf = line.encode()
    got = native_firings(firer, buf)
    assert got is not None
    assert got == python_firings(firer, buf)


@pytest.mark.parametrize("word,why", [
    ("u8=256", "does not fit"), ("s8=-129", "does not fit"), ("u64=-1", "does not fit"),
    ("s64=9223372036854775808", "does not fit"), ("u64=18446744073709551616", "out of range"),
    ("name=abcdef", "do not fit"), ("addrs=1", "is not a"), ("nums=1", "is not a"),
    ("u8=1 u8=2", "given twice"), ("common_pid=1", "no field"), ("nope=1", "no field"),
    ("u8=x", "not a number"), ("@cpu=4", "out of range"), ("@count=0", "out of range"),
    ("@comm=abcdefghijklmnop", "characters"), ("@pid=4194304", "out of range"), ("u8", "WORD="),
])
def test_bad_lines_defer_to_python_which_refuses_them(firer: Firer, word: str, why: str) -> None:
    buf = f"{MIXED} {word}\n".encode()
    assert firer.native.parse(buf, NCPUS, OPENER.pid) is None
    with pytest.raises(TpfsError) as info:
        firer.begin(buf, OPENER)
    assert info.value.errno == errno.EINVAL and why in str(info.value)


def test_a_removed_or_reformatted_event_goes_back_to_python() -> None:
    firer = make_firer()
    firer.begin(f"{SWITCH} prev_pid=1\n".encode(), OPENER)
    assert SWITCH in firer.native.tables
    # Another layout for the same name (as a dynamic event registered again would have).
    other = layout(SWITCH_FORMAT.replace("prev_pid", "next_pid"))
    firer.native.layouts[SWITCH] = other
    firer.begin(f"{SWITCH} prev_pid=2\n".encode(), OPENER)  # stale: Python parses, relearns
    assert firer.native.layouts[SWITCH] is layout(SWITCH_FORMAT)


def test_formats_the_native_encoder_does_not_know_are_left_to_python() -> None:
    odd = MIXED_FORMAT.replace("\tfield:unsigned short u16;\toffset:10;\tsize:2;",
                               "\tfield:unsigned short u16;\toffset:10;\tsize:3;")
    assert compile_layout(layout(odd)) is None
    assert compile_layout(layout(MIXED_FORMAT)) is not None


def test_the_tables_kept_are_bounded() -> None:
    tables = FireTables()
    event = layout(SWITCH_FORMAT)
    for i in range(MAX_TABLES + 5):
        tables.learn(f"mod:e{i}", event)
    assert 0 < len(tables.tables) == len(tables.layouts) <= MAX_TABLES
    assert "mod:e4100" in tables.tables  # the newest is kept
