"""Event records laid out as their formats say (tpfs.tracefs.trace.record)."""

from __future__ import annotations

import struct

import pytest

from tpfs.tracefs.events.catalog import load_embedded
from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.trace.record import PRINT_FORMAT, encode_print, layout

CATALOG = {e.name: e for e in load_embedded().events}
SWITCH = CATALOG["sched:sched_switch"]


def test_every_catalogue_format_parses_into_a_layout() -> None:
    for event in CATALOG.values():
        lay = layout(event.format)
        assert lay.name == event.event and lay.id == event.id
        assert [f.name for f in lay.fields[:4]] == [
            "common_type", "common_flags", "common_preempt_count", "common_pid"]
        assert all(f.offset + f.size <= lay.fixed_size for f in lay.fields)
        record = lay.encode()
        assert len(record) % 4 == 0 and len(record) >= lay.fixed_size
        assert int.from_bytes(record[:2], "little") == event.id


def test_layout_is_parsed_once_per_format() -> None:
    assert layout(SWITCH.format) is layout(SWITCH.format)


def test_sched_switch_record() -> None:
    lay = layout(SWITCH.format)
    rec = lay.encode({"prev_comm": "a", "prev_pid": 1, "next_comm": "b", "next_pid": 2,
                      "prev_state": -1}, pid=7, flags=0x09, preempt_count=0x21)
    assert len(rec) == 64
    assert struct.unpack_from("<HBBi", rec) == (SWITCH.id, 0x09, 0x21, 7)
    assert rec[8:24] == b"a" + b"\0" * 15
    assert struct.unpack_from("<iiq", rec, 24) == (1, 0, -1)
    assert rec[40:56] == b"b" + b"\0" * 15
    assert struct.unpack_from("<ii", rec, 56) == (2, 0)


def test_data_loc_strings_follow_the_fixed_part() -> None:
    event = next(e for e in CATALOG.values() if "__data_loc char[] " in e.format)
    lay = layout(event.format)
    strings = [f for f in lay.fields if f.type == "__data_loc char[]"]
    values: dict[str, int | str | bytes] = {f.name: f"v{i}" * (i + 1)
                                            for i, f in enumerate(strings)}
    rec = lay.encode(values)
    for f in strings:
        loc = int.from_bytes(rec[f.offset:f.offset + 4], "little")
        length, offset = loc >> 16, loc & 0xFFFF
        assert offset >= lay.fixed_size
        assert rec[offset:offset + length] == str(values[f.name]).encode() + b"\0"
    # Not given: an empty string, its NUL alone.
    loc = int.from_bytes(lay.encode()[strings[0].offset:][:4], "little")
    assert loc >> 16 == 1


def test_fixed_part_is_the_struct_size() -> None:
    fmt = ("name: x\nID: 9\nformat:\n" + COMMON_FIELDS + "\n"
           "\tfield:u64 a;\toffset:8;\tsize:8;\tsigned:0;\n"
           "\tfield:__data_loc char[] s;\toffset:16;\tsize:4;\tsigned:0;\n"
           '\nprint fmt: "%s", __get_str(s)\n')
    lay = layout(fmt)
    assert lay.fixed_size == 24
    rec = lay.encode({"s": "hi"})
    assert int.from_bytes(rec[16:20], "little") == (3 << 16 | 24)
    assert rec[24:27] == b"hi\0" and len(rec) == 28


def test_module_event_with_common_fields_only() -> None:
    fmt = f'name: ev1\nID: 65535\nformat:\n{COMMON_FIELDS}\n\nprint fmt: "%s", ""\n'
    lay = layout(fmt)
    assert lay.fixed_size == 8
    assert lay.encode(pid=-1) == struct.pack("<HBBi", 65535, 0, 0, -1)


def test_print_record_as_tracing_mark_write_makes_it() -> None:
    lay = layout(PRINT_FORMAT)
    assert (lay.name, lay.id, lay.fixed_size) == ("print", 5, 16)
    rec = encode_print("hello", ip=0x1234, pid=3, preempt_count=1)
    assert rec == struct.pack("<HBBiQ", 5, 0, 1, 3, 0x1234) + b"hello\n\0\0"
    # A text that has its newline keeps it; the kernel reserves one byte more.
    assert encode_print("hello\n", ip=0x1234, pid=3, preempt_count=1) == rec
    assert encode_print("abc\n")[16:] == b"abc\n\0\0\0\0"
    assert encode_print("")[16:] == b"\n\0\0\0"


@pytest.mark.parametrize(("values", "field"), [
    ({"prev_pid": 1 << 31}, "prev_pid"),
    ({"prev_pid": -(1 << 31) - 1}, "prev_pid"),
    ({"prev_state": 1 << 63}, "prev_state"),
    ({"prev_comm": "x" * 16}, "prev_comm"),
    ({"prev_comm": 5}, "prev_comm"),
    ({"prev_pid": "1"}, "prev_pid"),
    ({"prev_pid": True}, "prev_pid"),
    ({"nope": 1}, "nope"),
    ({"common_pid": 1}, "common_pid"),
])
def test_bad_values_name_the_field(values: dict[str, int | str | bytes], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        layout(SWITCH.format).encode(values)


def test_bad_common_values() -> None:
    lay = layout(SWITCH.format)
    with pytest.raises(ValueError, match="common_pid"):
        lay.encode(pid=1 << 31)
    with pytest.raises(ValueError, match="common_flags"):
        lay.encode(flags=256)
    with pytest.raises(ValueError, match="common_preempt_count"):
        lay.encode(preempt_count=-1)


def test_limits_fit() -> None:
    lay = layout(SWITCH.format)
    rec = lay.encode({"prev_comm": "x" * 15, "prev_pid": -(1 << 31), "next_pid": (1 << 31) - 1})
    assert rec[8:24] == b"x" * 15 + b"\0"
    u8 = next(e for e in CATALOG.values() if "\tfield:u8 " in e.format and "[" not in
              e.format.split("\tfield:u8 ")[1].split(";")[0])
    name = u8.format.split("\tfield:u8 ")[1].split(";")[0]
    layout(u8.format).encode({name: 255})
    with pytest.raises(ValueError, match=name):
        layout(u8.format).encode({name: 256})
